// Spool records: the metadata of a queued message (envelope, per-recipient delivery state,
// attempts, next attempt, last reply) and the RocksDB key layout. queue/README.md is the
// normative description of the format; this codec implements it.
//
// A record is "MXM" + version byte, then fields as (tag varint, length varint, bytes), then
// a CRC-32 (zlib polynomial) of everything before it, little-endian. Unknown tags are skipped,
// so newer writers can add fields; a bad magic, version, length or checksum is reported and
// the caller moves the record to the corrupt family. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/mail/queue_id.h"

namespace mxgate::spool {

enum class MessageState : uint8_t {
  Queued = 1,  // has pending recipients and a next attempt time
  Dead = 2,    // dead-lettered: kept in the spool, listed, retryable, never delivered by itself
};

enum class RecipientState : uint8_t {
  Pending = 0,
  Delivered = 1,
  Failed = 2,  // permanent failure (5xx) or expired
};

struct RecipientRecord {
  std::string address;  // envelope recipient, local@domain
  std::string tenant;   // tenant id that owned the domain at acceptance
  RecipientState state = RecipientState::Pending;
  uint32_t attempts = 0;
  std::string last_reply;  // last SMTP reply or error for this recipient

  bool operator==(const RecipientRecord&) const = default;
};

struct MessageRecord {
  mail::QueueId id;
  MessageState state = MessageState::Queued;
  uint64_t received_at_us = 0;   // acceptance time, microseconds since the epoch
  uint64_t next_attempt_us = 0;  // when the scheduler should try again
  uint32_t attempts = 0;
  std::string mail_from;  // "" for the null reverse-path
  std::string client_address;
  std::string helo;
  std::string tls;  // "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" for plaintext
  std::string listener;
  bool smtputf8 = false;
  bool eightbit = false;
  uint64_t body_size = 0;    // bytes of the stored body (our Received: header included)
  uint32_t body_chunks = 0;  // number of body chunks under body/<id><index>
  uint32_t body_crc32 = 0;   // CRC-32 of the whole body
  std::string last_reply;    // last delivery outcome, for queue listings
  std::string dead_reason;   // why the message was dead-lettered
  uint64_t dead_at_us = 0;
  uint64_t requeued_at_us = 0;  // last admin requeue of a dead letter; restarts the max age
  std::vector<RecipientRecord> recipients;

  bool operator==(const MessageRecord&) const = default;
  // True while at least one recipient is still Pending.
  bool hasPending() const;
};

enum class DecodeStatus { Ok, TooShort, BadMagic, UnsupportedVersion, BadChecksum, Malformed };

std::string encodeMessage(const MessageRecord& record);
DecodeStatus decodeMessage(std::string_view bytes, MessageRecord& out);
std::string_view describe(DecodeStatus status);

// Keys: meta/<12-byte queue id>; body/<12-byte queue id><4-byte big-endian chunk index>;
// open/<12-byte queue id> marks a multi-chunk body whose transaction has not committed.
std::string metaKey(const mail::QueueId& id);
std::string bodyKey(const mail::QueueId& id, uint32_t chunk);

// CRC-32 (zlib) continuing from crc; start with 0.
uint32_t crc32(uint32_t crc, std::string_view bytes);

}  // namespace mxgate::spool
