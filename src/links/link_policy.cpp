// The rewrite decision and the signed replacement shared by the HTML and text rewriters; see
// link_policy.h. URL authorities per RFC 3986 §3.2 as browsers parse special schemes (WHATWG
// URL: slashes and backslashes after "http:", user info up to the last '@').
// Pure; any thread.
#include "link_policy.h"

#include <algorithm>

#include "mxgate/base/ascii.h"

namespace mxgate::links::detail {
namespace {

// The host of an authority ("user@host:port", "[v6]:port"), without one trailing dot.
std::string_view authorityHost(std::string_view authority) {
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  authority = authority.substr(0, authority.find(':'));
  if (!authority.empty() && authority.back() == '.') {
    authority.remove_suffix(1);
  }
  return authority;
}

// Other link rewriters, whose links must not be wrapped twice (ecosystem survey §3.3).
bool otherRewriter(std::string_view host) {
  if (ascii::equalsIgnoreCase(host, "urldefense.com") || ascii::equalsIgnoreCase(host, "urldefense.proofpoint.com") ||
      hostWithin(host, "safelinks.protection.outlook.com") || hostWithin(host, "mimecastprotect.com")) {
    return true;
  }
  // protect-<region>.mimecast.com
  constexpr std::string_view kPrefix = "protect-";
  constexpr std::string_view kSuffix = ".mimecast.com";
  if (host.size() <= kPrefix.size() + kSuffix.size() || !ascii::startsWithIgnoreCase(host, kPrefix) ||
      !ascii::equalsIgnoreCase(host.substr(host.size() - kSuffix.size()), kSuffix)) {
    return false;
  }
  const std::string_view region = host.substr(kPrefix.size(), host.size() - kPrefix.size() - kSuffix.size());
  return region.find('.') == std::string_view::npos;
}

}  // namespace

std::optional<std::string_view> httpHost(std::string_view url) {
  size_t pos = 0;
  if (ascii::startsWithIgnoreCase(url, "http:")) {
    pos = 5;
  } else if (ascii::startsWithIgnoreCase(url, "https:")) {
    pos = 6;
  } else {
    return std::nullopt;
  }
  while (pos < url.size() && (url[pos] == '/' || url[pos] == '\\')) {
    ++pos;
  }
  size_t end = pos;
  while (end < url.size() && url[end] != '/' && url[end] != '\\' && url[end] != '?' && url[end] != '#') {
    ++end;
  }
  const std::string_view host = authorityHost(url.substr(pos, end - pos));
  if (host.empty()) {
    return std::nullopt;
  }
  return host;
}

bool hostWithin(std::string_view host, std::string_view domain) {
  if (domain.empty() || host.size() < domain.size()) {
    return false;
  }
  if (host.size() == domain.size()) {
    return ascii::equalsIgnoreCase(host, domain);
  }
  return host[host.size() - domain.size() - 1] == '.' &&
         ascii::equalsIgnoreCase(host.substr(host.size() - domain.size()), domain);
}

LinkPolicy::LinkPolicy(std::string_view queue_id, const Settings& settings, const std::vector<std::string>& skip_urls,
                       uint32_t& next_index)
    : queue_id_(queue_id),
      settings_(settings),
      skip_sorted_(skip_urls.begin(), skip_urls.end()),
      next_index_(next_index),
      own_host_(authorityHost(settings.host)),
      active_(settings.mode != Mode::Off && settings.key != nullptr) {
  std::sort(skip_sorted_.begin(), skip_sorted_.end());
}

bool LinkPolicy::keptHost(std::string_view host) const {
  if (ascii::equalsIgnoreCase(host, own_host_) || otherRewriter(host)) {
    return true;
  }
  return std::any_of(settings_.allow_hosts.begin(), settings_.allow_hosts.end(),
                     [host](const std::string& allowed) { return hostWithin(host, authorityHost(allowed)); });
}

std::optional<std::string> LinkPolicy::rewrite(std::string_view url) {
  if (!active_ || settings_.mode == Mode::OpenPixel || url.size() > kMaxUrlBytes ||
      url.find('\0') != std::string_view::npos || next_index_ > settings_.max_links || next_index_ == UINT32_MAX) {
    return std::nullopt;
  }
  const auto host = httpHost(url);
  if (!host || keptHost(*host) || std::binary_search(skip_sorted_.begin(), skip_sorted_.end(), url)) {
    return std::nullopt;
  }
  std::string link =
      sign('l', settings_.host, *settings_.key, queue_id_, settings_.tenant, next_index_, url, settings_.context);
  ++next_index_;
  return link;
}

std::string LinkPolicy::openPixelLink() const {
  return sign('o', settings_.host, *settings_.key, queue_id_, settings_.tenant, 0, "", settings_.context);
}

}  // namespace mxgate::links::detail
