// IP networks in CIDR notation ("127.0.0.0/8", "2001:db8::/32", or a single address) and
// membership tests, for access lists such as the XCLIENT trusted networks; the network around
// an address, for limits that count a client's whole IPv6 prefix. An IPv4-mapped IPv6 address
// ("::ffff:192.0.2.1") is its IPv4 address throughout. Pure value type; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate {

class IpNetwork {
 public:
  // nullopt for anything that is not an address with an optional /prefix within range.
  static std::optional<IpNetwork> parse(std::string_view text);
  // The network of ipv4_prefix (IPv4 and IPv4-mapped addresses) or ipv6_prefix bits that
  // holds the numeric address; nullopt for text that is not an address. Prefixes are clamped
  // to the address length.
  static std::optional<IpNetwork> around(std::string_view address, int ipv4_prefix, int ipv6_prefix);
  // True when the numeric address (v4 or v6 text) lies inside this network.
  bool contains(std::string_view address) const;
  // "192.0.2.0/24", "2001:db8:1:2::/64": the network's first address and its prefix length.
  std::string str() const;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_ = 0;
};

// The networks of a list already validated (the configuration's); entries that do not parse
// are left out.
std::vector<IpNetwork> parseNetworks(const std::vector<std::string>& texts);

// True when address lies in any of the networks.
bool inAnyNetwork(const std::vector<IpNetwork>& networks, std::string_view address);

// True for addresses that are not globally reachable unicast (RFC 6890 special-purpose
// registries): loopback, private (RFC 1918, RFC 4193), link-local, CGNAT (RFC 6598),
// unspecified, multicast, reserved and documentation ranges; also for text that is not an
// address. IPv6 addresses that embed an IPv4 address — IPv4-mapped and IPv4-compatible,
// NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32 (server and inverted client), ISATAP
// identifiers — are refused when that IPv4 address is; the NAT64 local-use prefix
// 64:ff9b:1::/48 (RFC 8215) is refused whole. Used to keep tenant-supplied webhook URLs off
// internal networks (SSRF).
bool isNonPublicAddress(std::string_view address);

// True for loopback addresses (127.0.0.0/8, ::1, and IPv4-mapped loopback); false for text
// that is not an address.
bool isLoopbackAddress(std::string_view address);

}  // namespace mxgate
