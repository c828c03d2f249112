// Addresses, networks and names for the SPF evaluator: the ip4/ip6 mechanism operands
// (RFC 7208 §5.6), the client address with IPv4-mapped IPv6 counted as IPv4 (§5), CIDR
// matching, the §5.5 reverse-mapping names, and the domain checks of §4.3 and §7.1.
// Pure functions; any thread.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "internal.h"
#include "mxgate/base/ascii.h"

namespace mxgate::spf::detail {
namespace {

constexpr size_t kMaxDomainLength = 253;  // RFC 7208 §4.6.4 / §7.3, text form without the root dot
constexpr size_t kMaxLabelLength = 63;    // RFC 1035 §2.3.4

constexpr char kHexDigits[] = "0123456789abcdef";

// Calls visit(label) for each dot-separated label of `name` (without one trailing dot);
// stops and returns false as soon as visit does.
template <typename Visit>
bool forEachLabel(std::string_view name, Visit visit) {
  name = withoutTrailingDot(name);
  size_t start = 0;
  for (;;) {
    const size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!visit(label)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

}  // namespace

std::optional<Address> parseIp4(std::string_view text) {
  Address address;
  size_t pos = 0;
  for (size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') {
        return std::nullopt;
      }
      ++pos;
    }
    const size_t start = pos;
    unsigned value = 0;
    while (pos < text.size() && ascii::isDigit(static_cast<unsigned char>(text[pos])) && pos - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[pos] - '0');
      ++pos;
    }
    const size_t digits = pos - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) {
      return std::nullopt;
    }
    address.bytes[part] = static_cast<uint8_t>(value);
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  return address;
}

std::optional<Address> parseIp6(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  char copy[INET6_ADDRSTRLEN];
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  if (std::strlen(copy) != text.size()) {
    return std::nullopt;
  }
  Address address;
  address.v6 = true;
  if (inet_pton(AF_INET6, copy, address.bytes.data()) != 1) {
    return std::nullopt;
  }
  return address;
}

std::optional<Address> parseClient(std::string_view text) {
  if (auto v4 = parseIp4(text)) {
    return v4;
  }
  auto v6 = parseIp6(text);
  if (!v6) {
    return std::nullopt;
  }
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6->bytes.data(), kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    Address v4;
    std::memcpy(v4.bytes.data(), v6->bytes.data() + 12, 4);
    return v4;
  }
  return v6;
}

bool inNetwork(const Address& network, int prefix, const Address& address) {
  if (network.v6 != address.v6 || prefix < 0 || prefix > (network.v6 ? 128 : 32)) {
    return false;
  }
  const size_t whole = static_cast<size_t>(prefix) / 8;
  if (std::memcmp(network.bytes.data(), address.bytes.data(), whole) != 0) {
    return false;
  }
  const int rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (network.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

std::string reverseName(const Address& address) {
  std::string name;
  if (!address.v6) {
    for (int i = 3; i >= 0; --i) {
      name += std::to_string(address.bytes[static_cast<size_t>(i)]);
      name += '.';
    }
    name += "in-addr.arpa";
    return name;
  }
  name.reserve(32 * 2 + 8);
  for (int i = 15; i >= 0; --i) {
    const uint8_t byte = address.bytes[static_cast<size_t>(i)];
    name += kHexDigits[byte & 0x0f];
    name += '.';
    name += kHexDigits[byte >> 4];
    name += '.';
  }
  name += "ip6.arpa";
  return name;
}

std::string readableAddress(const Address& address) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof(text));
  return text;
}

std::string_view withoutTrailingDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return name;
}

bool isQueryableName(std::string_view name) {
  const std::string_view bare = withoutTrailingDot(name);
  if (bare.empty() || bare.size() > kMaxDomainLength) {
    return false;
  }
  return forEachLabel(bare, [](std::string_view label) { return !label.empty() && label.size() <= kMaxLabelLength; });
}

bool isWellFormedDomain(std::string_view domain) {
  if (!isQueryableName(domain)) {
    return false;
  }
  const std::string_view bare = withoutTrailingDot(domain);
  const size_t dot = bare.rfind('.');
  return dot != std::string_view::npos && isToplabel(bare.substr(dot + 1));
}

bool isToplabel(std::string_view label) {
  if (label.empty()) {
    return false;
  }
  bool letter = false;
  bool dash = false;
  for (const char c : label) {
    const auto u = static_cast<unsigned char>(c);
    if (ascii::isAlpha(u)) {
      letter = true;
    } else if (c == '-') {
      dash = true;
    } else if (!ascii::isDigit(u)) {
      return false;
    }
  }
  if (!dash) {
    return letter;
  }
  return label.front() != '-' && label.back() != '-';
}

bool isSubdomainOf(std::string_view name, std::string_view domain) {
  name = withoutTrailingDot(name);
  domain = withoutTrailingDot(domain);
  if (name.size() == domain.size()) {
    return ascii::equalsIgnoreCase(name, domain);
  }
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         ascii::equalsIgnoreCase(name.substr(name.size() - domain.size()), domain);
}

}  // namespace mxgate::spf::detail
