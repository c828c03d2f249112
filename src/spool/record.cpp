// Spool record codec and key layout (see include/mxgate/spool/record.h, queue/README.md).
// Pure functions, any thread.
#include "mxgate/spool/record.h"

#include <zlib.h>

namespace mxgate::spool {
namespace {

constexpr char kMagic[3] = {'M', 'X', 'M'};
constexpr uint8_t kVersion = 1;

// Field tags of a message record (queue/README.md, "Message record").
enum Tag : uint64_t {
  kState = 1,
  kReceivedAt = 2,
  kNextAttempt = 3,
  kAttempts = 4,
  kMailFrom = 5,
  kClientAddress = 6,
  kHelo = 7,
  kTls = 8,
  kListener = 9,
  kFlags = 10,
  kBodySize = 11,
  kBodyChunks = 12,
  kBodyCrc = 13,
  kLastReply = 14,
  kDeadReason = 15,
  kDeadAt = 16,
  kRequeuedAt = 17,
  kRecipient = 20,
};

// Field tags inside a kRecipient value.
enum RecipientTag : uint64_t {
  kRcptAddress = 1,
  kRcptTenant = 2,
  kRcptState = 3,
  kRcptAttempts = 4,
  kRcptLastReply = 5,
};

constexpr uint64_t kFlagSmtpUtf8 = 1;
constexpr uint64_t kFlagEightBit = 2;

void putVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool getVarint(std::string_view& in, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) {
      return false;
    }
    auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && byte > 1) {
      return false;  // would overflow 64 bits
    }
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

void putField(std::string& out, uint64_t tag, std::string_view value) {
  putVarint(out, tag);
  putVarint(out, value.size());
  out.append(value);
}

void putNumber(std::string& out, uint64_t tag, uint64_t value) {
  std::string encoded;
  putVarint(encoded, value);
  putField(out, tag, encoded);
}

// Reads the next (tag, value) pair; false on truncation.
bool nextField(std::string_view& in, uint64_t& tag, std::string_view& value) {
  uint64_t length = 0;
  if (!getVarint(in, tag) || !getVarint(in, length) || length > in.size()) {
    return false;
  }
  value = in.substr(0, static_cast<size_t>(length));
  in.remove_prefix(static_cast<size_t>(length));
  return true;
}

bool asNumber(std::string_view value, uint64_t& out) { return getVarint(value, out) && value.empty(); }

bool asU32(std::string_view value, uint32_t& out) {
  uint64_t wide = 0;
  if (!asNumber(value, wide) || wide > UINT32_MAX) {
    return false;
  }
  out = static_cast<uint32_t>(wide);
  return true;
}

std::string encodeRecipient(const RecipientRecord& recipient) {
  std::string out;
  putField(out, kRcptAddress, recipient.address);
  putField(out, kRcptTenant, recipient.tenant);
  putNumber(out, kRcptState, static_cast<uint64_t>(recipient.state));
  putNumber(out, kRcptAttempts, recipient.attempts);
  if (!recipient.last_reply.empty()) {
    putField(out, kRcptLastReply, recipient.last_reply);
  }
  return out;
}

bool decodeRecipient(std::string_view in, RecipientRecord& out) {
  uint64_t tag = 0;
  std::string_view value;
  uint64_t number = 0;
  while (!in.empty()) {
    if (!nextField(in, tag, value)) {
      return false;
    }
    switch (tag) {
      case kRcptAddress: out.address.assign(value); break;
      case kRcptTenant: out.tenant.assign(value); break;
      case kRcptState:
        if (!asNumber(value, number) || number > static_cast<uint64_t>(RecipientState::Failed)) {
          return false;
        }
        out.state = static_cast<RecipientState>(number);
        break;
      case kRcptAttempts:
        if (!asU32(value, out.attempts)) {
          return false;
        }
        break;
      case kRcptLastReply: out.last_reply.assign(value); break;
      default: break;  // a field from a newer version
    }
  }
  return true;
}

bool decodeField(uint64_t tag, std::string_view value, MessageRecord& out) {
  uint64_t number = 0;
  switch (tag) {
    case kState:
      if (!asNumber(value, number) || (number != static_cast<uint64_t>(MessageState::Queued) &&
                                       number != static_cast<uint64_t>(MessageState::Dead))) {
        return false;
      }
      out.state = static_cast<MessageState>(number);
      return true;
    case kReceivedAt: return asNumber(value, out.received_at_us);
    case kNextAttempt: return asNumber(value, out.next_attempt_us);
    case kAttempts: return asU32(value, out.attempts);
    case kMailFrom: out.mail_from.assign(value); return true;
    case kClientAddress: out.client_address.assign(value); return true;
    case kHelo: out.helo.assign(value); return true;
    case kTls: out.tls.assign(value); return true;
    case kListener: out.listener.assign(value); return true;
    case kFlags:
      if (!asNumber(value, number)) {
        return false;
      }
      out.smtputf8 = (number & kFlagSmtpUtf8) != 0;
      out.eightbit = (number & kFlagEightBit) != 0;
      return true;
    case kBodySize: return asNumber(value, out.body_size);
    case kBodyChunks: return asU32(value, out.body_chunks);
    case kBodyCrc: return asU32(value, out.body_crc32);
    case kLastReply: out.last_reply.assign(value); return true;
    case kDeadReason: out.dead_reason.assign(value); return true;
    case kDeadAt: return asNumber(value, out.dead_at_us);
    case kRequeuedAt: return asNumber(value, out.requeued_at_us);
    case kRecipient: {
      RecipientRecord recipient;
      if (!decodeRecipient(value, recipient)) {
        return false;
      }
      out.recipients.push_back(std::move(recipient));
      return true;
    }
    default: return true;  // a field from a newer version
  }
}

}  // namespace

bool MessageRecord::hasPending() const {
  for (const auto& recipient : recipients) {
    if (recipient.state == RecipientState::Pending) {
      return true;
    }
  }
  return false;
}

uint32_t crc32(uint32_t crc, std::string_view bytes) {
  while (!bytes.empty()) {
    auto piece = static_cast<uInt>(std::min<size_t>(bytes.size(), 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), piece));
    bytes.remove_prefix(piece);
  }
  return crc;
}

std::string encodeMessage(const MessageRecord& record) {
  std::string out;
  out.reserve(256 + record.recipients.size() * 64);
  out.append(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kVersion));
  putNumber(out, kState, static_cast<uint64_t>(record.state));
  putNumber(out, kReceivedAt, record.received_at_us);
  putNumber(out, kNextAttempt, record.next_attempt_us);
  putNumber(out, kAttempts, record.attempts);
  putField(out, kMailFrom, record.mail_from);
  putField(out, kClientAddress, record.client_address);
  putField(out, kHelo, record.helo);
  putField(out, kTls, record.tls);
  putField(out, kListener, record.listener);
  putNumber(out, kFlags, (record.smtputf8 ? kFlagSmtpUtf8 : 0) | (record.eightbit ? kFlagEightBit : 0));
  putNumber(out, kBodySize, record.body_size);
  putNumber(out, kBodyChunks, record.body_chunks);
  putNumber(out, kBodyCrc, record.body_crc32);
  if (!record.last_reply.empty()) {
    putField(out, kLastReply, record.last_reply);
  }
  if (!record.dead_reason.empty()) {
    putField(out, kDeadReason, record.dead_reason);
    putNumber(out, kDeadAt, record.dead_at_us);
  }
  if (record.requeued_at_us != 0) {
    putNumber(out, kRequeuedAt, record.requeued_at_us);
  }
  for (const auto& recipient : record.recipients) {
    putField(out, kRecipient, encodeRecipient(recipient));
  }
  uint32_t crc = crc32(0, out);
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>(crc >> (8 * i)));
  }
  return out;
}

DecodeStatus decodeMessage(std::string_view bytes, MessageRecord& out) {
  if (bytes.size() < sizeof kMagic + 1 + 4) {
    return DecodeStatus::TooShort;
  }
  if (bytes.substr(0, sizeof kMagic) != std::string_view(kMagic, sizeof kMagic)) {
    return DecodeStatus::BadMagic;
  }
  if (static_cast<uint8_t>(bytes[sizeof kMagic]) != kVersion) {
    return DecodeStatus::UnsupportedVersion;
  }
  std::string_view payload = bytes.substr(0, bytes.size() - 4);
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) {
    stored |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[bytes.size() - 4 + i])) << (8 * i);
  }
  if (crc32(0, payload) != stored) {
    return DecodeStatus::BadChecksum;
  }
  MessageRecord record;
  record.id = out.id;  // the id lives in the key, not in the value
  std::string_view fields = payload.substr(sizeof kMagic + 1);
  uint64_t tag = 0;
  std::string_view value;
  while (!fields.empty()) {
    if (!nextField(fields, tag, value) || !decodeField(tag, value, record)) {
      return DecodeStatus::Malformed;
    }
  }
  out = std::move(record);
  return DecodeStatus::Ok;
}

std::string_view describe(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::Ok: return "ok";
    case DecodeStatus::TooShort: return "record too short";
    case DecodeStatus::BadMagic: return "bad magic";
    case DecodeStatus::UnsupportedVersion: return "unsupported record version";
    case DecodeStatus::BadChecksum: return "checksum mismatch";
    case DecodeStatus::Malformed: return "malformed field";
  }
  return "unknown";
}

std::string metaKey(const mail::QueueId& id) { return std::string(id.bytes()); }

std::string bodyKey(const mail::QueueId& id, uint32_t chunk) {
  std::string key(id.bytes());
  for (int i = 3; i >= 0; --i) {
    key.push_back(static_cast<char>(chunk >> (8 * i)));
  }
  return key;
}

}  // namespace mxgate::spool
