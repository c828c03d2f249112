// The Public Suffix List (https://publicsuffix.org/list/, format and algorithm) and the
// registrable domain it defines, which RFC 7489 §3.2 uses as the Organizational Domain.
// Private to the auth component. Immutable once loaded; any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace mxgate::auth {

class PublicSuffixList {
 public:
  // Reads a list in the publicsuffix.org format (UTF-8 rules, "*." wildcards, "!" exceptions).
  static std::shared_ptr<const PublicSuffixList> load(const std::string& path, std::string& error);

  // The public suffix plus one label, lower-cased (ASCII letters only), with labels in the form
  // given (A-labels are matched through their Unicode form). "" when the name is itself a public
  // suffix, is empty, has an empty label, or is longer than any domain name.
  std::string registrableDomain(std::string_view domain) const;

 private:
  std::unordered_set<std::string> rules_;
  std::unordered_set<std::string> wildcards_;   // "*.x" stored as "x"
  std::unordered_set<std::string> exceptions_;  // "!x" stored as "x"
};

// RFC 3492 §6.2: the UTF-8 form of the Punycode text after an "xn--" prefix; "" when it does not
// decode to valid code points.
std::string decodePunycode(std::string_view encoded);

}  // namespace mxgate::auth
