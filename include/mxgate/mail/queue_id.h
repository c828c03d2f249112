// Queue ids: time-ordered, unique across restarts and nodes.
//
// 12 bytes: 8 bytes of microseconds since the Unix epoch (big-endian, strictly increasing
// within a process even across threads), 2 bytes of node id, 2 bytes of a random boot
// nonce. The text form is 20 characters of Crockford base32 over the big-endian bytes, so
// text order equals byte order equals arrival order. Generation is lock-free (any thread).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxgate::mail {

class QueueId {
 public:
  static constexpr size_t kBytes = 12;
  static constexpr size_t kTextLength = 20;

  QueueId() = default;
  static QueueId fromBytes(std::string_view bytes);  // requires bytes.size() == kBytes
  static std::optional<QueueId> parse(std::string_view text);

  // Process-wide generator state; call once at start-up before generating ids.
  static void setNode(uint16_t node_id);
  static QueueId generate();

  std::string str() const;
  std::string_view bytes() const { return {reinterpret_cast<const char*>(raw_.data()), raw_.size()}; }
  uint64_t micros() const;
  bool empty() const;

  auto operator<=>(const QueueId&) const = default;

 private:
  std::array<uint8_t, kBytes> raw_{};
};

struct QueueIdHash {
  size_t operator()(const QueueId& id) const noexcept;
};

}  // namespace mxgate::mail
