// Queue id generation and its Crockford base32 text form (see include/mxgate/mail/queue_id.h).
// generate() may be called from any thread: the clock is made monotonic with one atomic CAS.
#include "mxgate/mail/queue_id.h"

#include "mxgate/base/clock.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>

namespace mxgate::mail {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::atomic<uint64_t> g_last_micros{0};
std::atomic<uint16_t> g_node{0};
const uint16_t g_boot_nonce = [] {
  std::random_device device;
  return static_cast<uint16_t>(device());
}();

int decodeChar(char c) {
  if (c >= 'a' && c <= 'z') {
    c = static_cast<char>(c - 'a' + 'A');
  }
  switch (c) {
    case 'O': return 0;
    case 'I':
    case 'L': return 1;
    default: break;
  }
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) {
      return i;
    }
  }
  return -1;
}

}  // namespace

QueueId QueueId::fromBytes(std::string_view bytes) {
  QueueId id;
  std::memcpy(id.raw_.data(), bytes.data(), kBytes);
  return id;
}

void QueueId::setNode(uint16_t node_id) { g_node.store(node_id); }

QueueId QueueId::generate() {
  uint64_t now = nowMicros();
  uint64_t last = g_last_micros.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = now > last ? now : last + 1;
  } while (!g_last_micros.compare_exchange_weak(last, next, std::memory_order_relaxed));

  QueueId id;
  for (int i = 0; i < 8; ++i) {
    id.raw_[i] = static_cast<uint8_t>(next >> (56 - 8 * i));
  }
  uint16_t node = g_node.load(std::memory_order_relaxed);
  id.raw_[8] = static_cast<uint8_t>(node >> 8);
  id.raw_[9] = static_cast<uint8_t>(node);
  id.raw_[10] = static_cast<uint8_t>(g_boot_nonce >> 8);
  id.raw_[11] = static_cast<uint8_t>(g_boot_nonce);
  return id;
}

// 96 bits are encoded as 20 base32 digits (100 bits); the 4 leading pad bits are zero.
std::string QueueId::str() const {
  std::string out(kTextLength, '0');
  uint32_t buffer = 0;
  int bits = 4;  // the leading pad bits
  size_t pos = 0;
  for (uint8_t byte : raw_) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[pos++] = kAlphabet[(buffer >> bits) & 31];
    }
  }
  return out;
}

std::optional<QueueId> QueueId::parse(std::string_view text) {
  if (text.size() != kTextLength) {
    return std::nullopt;
  }
  QueueId id;
  uint32_t buffer = 0;
  int bits = 0;
  size_t pos = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int value = decodeChar(text[i]);
    if (value < 0 || (i == 0 && value > 1)) {
      return std::nullopt;  // the first digit carries the 4 zero pad bits
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (i == 0) {
      bits -= 4;
    }
    if (bits >= 8) {
      bits -= 8;
      id.raw_[pos++] = static_cast<uint8_t>(buffer >> bits);
    }
  }
  return id;
}

uint64_t QueueId::micros() const {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | raw_[i];
  }
  return value;
}

bool QueueId::empty() const {
  for (uint8_t byte : raw_) {
    if (byte != 0) {
      return false;
    }
  }
  return true;
}

size_t QueueIdHash::operator()(const QueueId& id) const noexcept {
  return std::hash<std::string_view>{}(id.bytes());
}

}  // namespace mxgate::mail
