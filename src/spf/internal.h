// Private helpers shared by the SPF sources: addresses and networks (RFC 7208 §5.6, §5.5
// reverse names), domain-name checks (§4.3, §4.6.4 query names, §7.1 toplabel) and the
// macro-string scanner (§7.1). Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxgate::spf::detail {

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4
};

// §5.6 ip4-network: four dotted qnums (0..255, no leading zeros).
std::optional<Address> parseIp4(std::string_view text);
// RFC 4291 §2.2 text forms. An IPv4-mapped address stays IPv6 here.
std::optional<Address> parseIp6(std::string_view text);
// The SMTP client: IPv4, or IPv6 where an IPv4-mapped address counts as IPv4 (§5).
std::optional<Address> parseClient(std::string_view text);
// Whether `address` lies in `network`/`prefix`; different families never match.
bool inNetwork(const Address& network, int prefix, const Address& address);
// The §5.5 reverse-mapping name: "4.3.2.1.in-addr.arpa" or 32 nibbles + ".ip6.arpa".
std::string reverseName(const Address& address);
// Dotted quad, or the RFC 5952 IPv6 text form (%{c}).
std::string readableAddress(const Address& address);

// §4.3: labels of 1..63 octets, at least two of them, at most 253 octets (a trailing dot
// aside), and a §7.1 toplabel. Anything else makes check_host() return "none".
bool isWellFormedDomain(std::string_view domain);
// Whether a DNS query can be composed for `name`: labels of 1..63 octets, at most 253
// octets (a trailing dot aside). Other names are answered as non-existent without a query.
bool isQueryableName(std::string_view name);
// §7.1 toplabel: LDH with at least one letter, or with an inner dash.
bool isToplabel(std::string_view label);
// Whether `name` is `domain` or a subdomain of it (ASCII case-insensitive, trailing dots aside).
bool isSubdomainOf(std::string_view name, std::string_view domain);
// `name` without one trailing dot.
std::string_view withoutTrailingDot(std::string_view name);

struct MacroScan {
  bool valid = false;
  bool ends_with_macro = false;  // the last token is a macro-expand (§7.1 domain-end)
  bool uses_p = false;           // contains %{p}: needs the validated client name
};

// Checks the §7.1 macro-string syntax. explanation=true: explain-string (SP allowed, and the
// c, r, t letters); otherwise a domain-spec or modifier value (visible characters only).
MacroScan scanMacros(std::string_view text, bool explanation);

}  // namespace mxgate::spf::detail
