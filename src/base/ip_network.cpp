// CIDR networks and membership (see include/mxgate/base/ip_network.h). Pure; any thread.
#include "mxgate/base/ip_network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>

namespace mxgate {
namespace {

// Parses a numeric address into 16 bytes (IPv4 and IPv4-mapped IPv6 as IPv4 in the first 4).
bool parseAddress(std::string_view text, bool& v6, std::array<uint8_t, 16>& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string copy(text);
  out.fill(0);
  if (inet_pton(AF_INET, copy.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  in6_addr address{};
  if (inet_pton(AF_INET6, copy.c_str(), &address) != 1) {
    return false;
  }
  if (IN6_IS_ADDR_V4MAPPED(&address)) {
    v6 = false;
    std::memcpy(out.data(), &address.s6_addr[12], 4);
    return true;
  }
  v6 = true;
  std::memcpy(out.data(), address.s6_addr, 16);
  return true;
}

bool samePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  int full = prefix / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) {
    return false;
  }
  int rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

// Clears the bits after the first prefix bits.
void clearHostBits(std::array<uint8_t, 16>& bytes, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
}

}  // namespace

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  IpNetwork network;
  size_t slash = text.find('/');
  if (!parseAddress(text.substr(0, slash), network.v6_, network.bytes_)) {
    return std::nullopt;
  }
  const int max = network.v6_ ? 128 : 32;
  network.prefix_ = max;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      return std::nullopt;
    }
    int prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) {
      return std::nullopt;
    }
    network.prefix_ = prefix;
  }
  return network;
}

std::optional<IpNetwork> IpNetwork::around(std::string_view address, int ipv4_prefix, int ipv6_prefix) {
  IpNetwork network;
  if (!parseAddress(address, network.v6_, network.bytes_)) {
    return std::nullopt;
  }
  const int max = network.v6_ ? 128 : 32;
  network.prefix_ = std::clamp(network.v6_ ? ipv6_prefix : ipv4_prefix, 0, max);
  clearHostBits(network.bytes_, network.prefix_);
  return network;
}

std::string IpNetwork::str() const {
  char text[INET6_ADDRSTRLEN] = {0};
  std::array<uint8_t, 16> first = bytes_;
  clearHostBits(first, prefix_);
  inet_ntop(v6_ ? AF_INET6 : AF_INET, first.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix_);
}

bool IpNetwork::contains(std::string_view address) const {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  return parseAddress(address, v6, bytes) && v6 == v6_ && samePrefix(bytes, bytes_, prefix_);
}

std::vector<IpNetwork> parseNetworks(const std::vector<std::string>& texts) {
  std::vector<IpNetwork> networks;
  for (const std::string& text : texts) {
    if (auto parsed = IpNetwork::parse(text)) {
      networks.push_back(*parsed);
    }
  }
  return networks;
}

bool inAnyNetwork(const std::vector<IpNetwork>& networks, std::string_view address) {
  for (const auto& network : networks) {
    if (network.contains(address)) {
      return true;
    }
  }
  return false;
}

namespace {

using Ipv4 = std::array<uint8_t, 4>;

Ipv4 ipv4At(const std::array<uint8_t, 16>& bytes, size_t offset, uint8_t flip = 0) {
  return Ipv4{static_cast<uint8_t>(bytes[offset] ^ flip), static_cast<uint8_t>(bytes[offset + 1] ^ flip),
              static_cast<uint8_t>(bytes[offset + 2] ^ flip), static_cast<uint8_t>(bytes[offset + 3] ^ flip)};
}

bool startsWith(const std::array<uint8_t, 16>& bytes, std::initializer_list<uint8_t> prefix) {
  return std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

// The IPv4 addresses an IPv6 address leads to when it embeds them (IPv4-mapped ::ffff:0:0/96
// is already IPv4 after parseAddress): IPv4-compatible ::/96 (RFC 4291 §2.5.5.1),
// IPv4-translated ::ffff:0:0:0/96 (RFC 2765 §2.1), NAT64 64:ff9b::/96 (RFC 6052 §2.1), 6to4
// 2002::/16 (RFC 3056 §2), Teredo 2001::/32 (RFC 4380 §4: the server, and the client stored
// with every bit inverted) and ISATAP interface identifiers ::0:5efe:a.b.c.d and
// ::200:5efe:a.b.c.d under any prefix (RFC 5214 §6.1).
std::vector<Ipv4> embeddedIpv4(const std::array<uint8_t, 16>& bytes) {
  std::vector<Ipv4> found;
  if (startsWith(bytes, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) ||
      startsWith(bytes, {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}) ||
      startsWith(bytes, {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    found.push_back(ipv4At(bytes, 12));
  }
  if (startsWith(bytes, {0x20, 0x02})) {
    found.push_back(ipv4At(bytes, 2));
  }
  if (startsWith(bytes, {0x20, 0x01, 0, 0})) {
    found.push_back(ipv4At(bytes, 4));
    found.push_back(ipv4At(bytes, 12, 0xff));
  }
  if ((bytes[8] == 0 || bytes[8] == 2) && bytes[9] == 0 && bytes[10] == 0x5e && bytes[11] == 0xfe) {
    found.push_back(ipv4At(bytes, 12));
  }
  return found;
}

}  // namespace

bool isNonPublicAddress(std::string_view address) {
  static const std::vector<IpNetwork> kNonPublic = [] {
    std::vector<IpNetwork> networks;
    for (const char* text : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                             "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
                             "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128",
                             "64:ff9b:1::/48", "100::/64", "2001:2::/48", "2001:db8::/32", "3fff::/20", "5f00::/16",
                             "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"}) {
      networks.push_back(*IpNetwork::parse(text));
    }
    return networks;
  }();
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  if (!parseAddress(address, v6, bytes)) {
    return true;
  }
  if (inAnyNetwork(kNonPublic, address)) {
    return true;
  }
  for (const Ipv4& embedded : v6 ? embeddedIpv4(bytes) : std::vector<Ipv4>{}) {
    char text[INET_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET, embedded.data(), text, sizeof text) == nullptr || inAnyNetwork(kNonPublic, text)) {
      return true;
    }
  }
  return false;
}

bool isLoopbackAddress(std::string_view address) {
  static const std::vector<IpNetwork> loopback = parseNetworks({"127.0.0.0/8", "::1/128"});
  return inAnyNetwork(loopback, address);
}

}  // namespace mxgate
