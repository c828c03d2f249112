// Which links get rewritten, and into what: the decision shared by the HTML and text
// rewriters (http/https only, not our own host, not other rewriters' hosts, not allow-listed
// hosts, not List-Unsubscribe or no-track targets, at most Settings::max_links per message)
// and the signed replacement (the authority of RFC 3986 §3.2, read the way browsers read
// special-scheme URLs: any run of '/' or '\' after the scheme, '\' ends the authority).
// Private to the links component; pure, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/links/rewriter.h"

namespace mxgate::links::detail {

// Longest target URL that is rewritten (and that a verified link may carry).
constexpr size_t kMaxUrlBytes = 8192;

// The host of an http: or https: URL (scheme case-insensitive), without user info, port or
// one trailing dot, as written (not lower-cased); nullopt for other schemes and an empty host.
std::optional<std::string_view> httpHost(std::string_view url);

// https://<host>/<kind>/<key id>/<payload>/<mac>: signLink without building a LinkTarget. A
// context too large for a link (contextFits) is carried without its tags and metadata.
std::string sign(char kind, std::string_view host, const Key& key, std::string_view queue_id, std::string_view tenant,
                 uint32_t index, std::string_view url, const Context& context);

// True when host equals domain or is a subdomain of it (ASCII case-insensitive).
bool hostWithin(std::string_view host, std::string_view domain);

class LinkPolicy {
 public:
  // skip_urls and settings must outlive the policy; next_index is advanced per rewrite.
  LinkPolicy(std::string_view queue_id, const Settings& settings, const std::vector<std::string>& skip_urls,
             uint32_t& next_index);

  // False when the mode is Off or there is no signing key: nothing is rewritten.
  bool active() const { return active_; }
  bool wantsOpenPixel() const {
    return active_ && (settings_.mode == Mode::Track || settings_.mode == Mode::OpenPixel);
  }

  // The signed link that replaces url, or nullopt when url stays as it is.
  std::optional<std::string> rewrite(std::string_view url);
  // The signed /o/ link of the open pixel.
  std::string openPixelLink() const;

 private:
  bool keptHost(std::string_view host) const;

  std::string_view queue_id_;
  const Settings& settings_;
  std::vector<std::string_view> skip_sorted_;
  uint32_t& next_index_;
  std::string_view own_host_;
  bool active_;
};

}  // namespace mxgate::links::detail
