// Fuzz target: URL redaction (base/redact.h). Whatever the input, the result keeps nothing
// after its first "?" or "#" but the markers, no userinfo in front of the host, and redacting
// it again changes nothing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/base/redact.h"

namespace {

// "?[redacted]", "#[redacted]", "?[redacted]#[redacted]" or nothing.
bool onlyMarkers(std::string_view tail) {
  const std::string query = "?" + std::string(mxgate::kRedacted);
  const std::string fragment = "#" + std::string(mxgate::kRedacted);
  return tail.empty() || tail == query || tail == fragment || tail == query + fragment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  const std::string redacted = mxgate::redactUrl(url);
  const size_t scheme = redacted.find("://");
  const size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t authority_end = std::min(redacted.find_first_of("/?#", authority), redacted.size());
  const bool has_scheme =
      scheme != std::string::npos && redacted.substr(0, scheme).find_first_of("/?#") == std::string::npos;
  if (!onlyMarkers(std::string_view(redacted).substr(std::min(redacted.find_first_of("?#"), redacted.size()))) ||
      (has_scheme && redacted.substr(authority, authority_end - authority).find('@') != std::string::npos) ||
      mxgate::redactUrl(redacted) != redacted) {
    __builtin_trap();
  }
  return 0;
}
