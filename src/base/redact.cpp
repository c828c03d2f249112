// URL redaction (see include/mxgate/base/redact.h), following RFC 3986 §3's generic syntax:
// the authority runs from "//" to the first "/", "?" or "#"; userinfo ends at its last "@"; the
// query starts at the first "?" and the fragment at the first "#". Pure; any thread.
#include "mxgate/base/redact.h"

#include <algorithm>

namespace mxgate {

std::string redactUrl(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  const size_t scheme_end = url.find("://");
  size_t rest = 0;
  if (scheme_end != std::string_view::npos && url.substr(0, scheme_end).find_first_of("/?#") == std::string_view::npos) {
    const size_t authority = scheme_end + 3;
    const size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
    const size_t at = url.substr(authority, authority_end - authority).rfind('@');
    out.append(url.substr(0, authority));
    rest = at == std::string_view::npos ? authority : authority + at + 1;
  }
  const size_t query = url.find('?', rest);
  const size_t fragment = url.find('#', rest);
  const size_t path_end = std::min(std::min(query, fragment), url.size());
  out.append(url.substr(rest, path_end - rest));
  if (query < fragment) {
    out += '?';
    out += kRedacted;
  }
  if (fragment != std::string_view::npos) {
    out += '#';
    out += kRedacted;
  }
  return out;
}

}  // namespace mxgate
