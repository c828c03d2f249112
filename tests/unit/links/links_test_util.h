// Helpers shared by the links unit tests: a fixed key ring and settings, the link a rewrite
// must produce for a given target and index, and decoding a signed link back. Test-only;
// single thread.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/links/rewriter.h"

namespace mxgate::links {

inline std::ostream& operator<<(std::ostream& out, VerifyStatus status) {
  switch (status) {
    case VerifyStatus::Ok:
      return out << "Ok";
    case VerifyStatus::Malformed:
      return out << "Malformed";
    case VerifyStatus::UnknownKey:
      return out << "UnknownKey";
    case VerifyStatus::BadMac:
      return out << "BadMac";
  }
  return out << "?";
}

inline std::ostream& operator<<(std::ostream& out, const Context& context) {
  out << "{outbound=" << context.outbound << " tags=[";
  for (const std::string& tag : context.tags) {
    out << tag << ";";
  }
  out << "] metadata=[";
  for (const auto& [key, value] : context.metadata) {
    out << key << "=" << value << ";";
  }
  return out << "]}";
}

inline std::ostream& operator<<(std::ostream& out, const LinkTarget& target) {
  return out << "{url=" << target.url << " queue_id=" << target.queue_id << " index=" << target.index
             << " tenant=" << target.tenant << " context=" << target.context << "}";
}

}  // namespace mxgate::links

namespace mxgate::links::test {

constexpr std::string_view kHost = "links.example.test";
constexpr std::string_view kQueueId = "0Q1W2E3R4T";
constexpr std::string_view kTenant = "acme";

inline const Key& currentKey() {
  static const Key key{"k2025", std::string("0123456789abcdef0123456789ABCDEF-current")};
  return key;
}

inline const Key& oldKey() {
  static const Key key{"k2024", std::string("fedcba9876543210FEDCBA9876543210-old-key")};
  return key;
}

inline Settings settings(Mode mode = Mode::SafeLinks) {
  Settings s;
  s.mode = mode;
  s.host = std::string(kHost);
  s.tenant = std::string(kTenant);
  s.key = &currentKey();
  s.allow_hosts = {"allowed.example", "Partner.Example"};
  return s;
}

// The link rewriting must put in place of url as the index-th link of the message.
inline std::string expectedLink(std::string_view url, uint32_t index) {
  return signLink('l', kHost, currentKey(), LinkTarget{std::string(url), std::string(kQueueId), index, std::string(kTenant), {}});
}

inline std::string expectedPixel() {
  return signLink('o', kHost, currentKey(), LinkTarget{"", std::string(kQueueId), 0, std::string(kTenant), {}});
}

// Replaces the first occurrence of from at or after *from_pos in text (advancing *from_pos
// past the replacement); the test fails loudly when it is missing.
std::string replaceOnce(const std::string& text, std::string_view from, std::string_view to, size_t& from_pos);

std::string readFile(const std::string& path);
std::string toCrlf(std::string_view text);

}  // namespace mxgate::links::test
