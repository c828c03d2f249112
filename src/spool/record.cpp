// Spool record codecs and key layout (see include/mxgate/spool/record.h, queue/README.md).
// Every record kind shares one framing: a 3-byte magic, a version byte, TLV fields, and a
// CRC-32 of everything before it. Pure functions, any thread.
#include "mxgate/spool/record.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>

#include "mxgate/base/ascii.h"

namespace mxgate::spool {
namespace {

constexpr uint8_t kVersion = 1;
constexpr std::string_view kMessageMagic = "MXM";
constexpr std::string_view kQuarantineMagic = "MXQ";
constexpr std::string_view kAuditMagic = "MXA";
constexpr std::string_view kEventMagic = "MXE";
constexpr std::string_view kEndpointMagic = "MXD";
constexpr std::string_view kCredentialMagic = "MXC";
constexpr std::string_view kSuppressionMagic = "MXS";
constexpr std::string_view kIdempotencyMagic = "MXI";
constexpr size_t kTimeKeyBytes = 12;
constexpr char kDeadEventMark = '\xff';

// Field tags of a message record (queue/README.md, "Message record").
enum MessageTag : uint64_t {
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
  kStage = 18,
  kHeaders = 19,
  kRecipient = 20,
  kVerdicts = 21,
  kOrigin = 22,
  kAuthUser = 23,
  kTag = 24,
  kMetadata = 25,
  kSendAt = 26,
};

// Inside a kMetadata value.
enum MetadataTag : uint64_t { kMetadataKey = 1, kMetadataValue = 2 };

// Inside a kRecipient value.
enum RecipientTag : uint64_t {
  kRcptAddress = 1, kRcptTenant = 2, kRcptState = 3, kRcptAttempts = 4, kRcptLastReply = 5, kRcptNextAttempt = 6
};

// Inside a kVerdicts value; kVerdictDkim values nest DkimTag fields.
enum VerdictTag : uint64_t {
  kVerdictSpf = 1,
  kVerdictSpfDomain = 2,
  kVerdictDkim = 3,
  kVerdictDmarc = 4,
  kVerdictDmarcPolicy = 5,
  kVerdictFromDomain = 6,
  kVerdictVirus = 7,
  kVerdictVirusName = 8,
};
enum DkimTag : uint64_t { kDkimResult = 1, kDkimDomain = 2, kDkimSelector = 3, kDkimAlgorithm = 4 };

// Quarantine and audit records.
enum QuarantineTag : uint64_t {
  kQuarantineTenant = 1,
  kQuarantineReason = 2,
  kQuarantineDetail = 3,
  kQuarantineAt = 4,
  kQuarantineExpires = 5,
  kQuarantineHold = 6,
  kQuarantineMailFrom = 7,
  kQuarantineSize = 8,
  kQuarantineRecipient = 9,
};
enum EventTag : uint64_t {
  kEventAt = 1,
  kEventId = 2,
  kEventTenant = 3,
  kEventType = 4,
  kEventJson = 5,
  kEventAttempts = 6,
  kEventDead = 7,
  kEventDeadAt = 8,
};
enum EndpointTag : uint64_t { kEndpointTenant = 1, kEndpointUrl = 2, kEndpointDisabledAt = 3, kEndpointReason = 4 };
enum SuppressionTag : uint64_t {
  kSuppressionTenant = 1,
  kSuppressionAddress = 2,
  kSuppressionReason = 3,
  kSuppressionDetail = 4,
  kSuppressionCreated = 5,
  kSuppressionQueueId = 6,
};
enum IdempotencyTag : uint64_t {
  kIdempotencyTenant = 1,
  kIdempotencyKey = 2,
  kIdempotencyRequestHash = 3,
  kIdempotencyQueueId = 4,
  kIdempotencyResponse = 5,
  kIdempotencyCreated = 6,
  kIdempotencyExpires = 7,
};

enum CredentialTag : uint64_t {
  kCredentialUsername = 1,
  kCredentialTenant = 2,
  kCredentialName = 3,
  kCredentialKind = 4,
  kCredentialCreated = 5,
  kCredentialRevoked = 6,
  kCredentialHash = 7,
};
enum AuditTag : uint64_t { kAuditAt = 1, kAuditActor = 2, kAuditAction = 3, kAuditTenant = 4, kAuditId = 5, kAuditDetail = 6 };

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

void putText(std::string& out, uint64_t tag, std::string_view value) {
  if (!value.empty()) {
    putField(out, tag, value);
  }
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

// A yes/no field: 0 or 1.
bool asFlag(std::string_view value, bool& out) {
  uint64_t number = 0;
  if (!asNumber(value, number) || number > 1) {
    return false;
  }
  out = number == 1;
  return true;
}

// Walks the fields of a value; field() returns false for a malformed field.
template <typename Fn>
bool forEachField(std::string_view in, Fn field) {
  uint64_t tag = 0;
  std::string_view value;
  while (!in.empty()) {
    if (!nextField(in, tag, value) || !field(tag, value)) {
      return false;
    }
  }
  return true;
}

// magic · version · fields · CRC-32 of all of it.
std::string seal(std::string_view magic, std::string fields) {
  std::string out;
  out.reserve(magic.size() + 1 + fields.size() + 4);
  out.append(magic);
  out.push_back(static_cast<char>(kVersion));
  out.append(fields);
  uint32_t crc = crc32(0, out);
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>(crc >> (8 * i)));
  }
  return out;
}

// Checks the framing; on Ok, fields is the field area.
DecodeStatus unseal(std::string_view magic, std::string_view bytes, std::string_view& fields) {
  if (bytes.size() < magic.size() + 1 + 4) {
    return DecodeStatus::TooShort;
  }
  if (bytes.substr(0, magic.size()) != magic) {
    return DecodeStatus::BadMagic;
  }
  if (static_cast<uint8_t>(bytes[magic.size()]) != kVersion) {
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
  fields = payload.substr(magic.size() + 1);
  return DecodeStatus::Ok;
}

// Unseals bytes and hands every field to decode_field(record, tag, value), starting from seed
// (what the key carries); out is replaced only when all of it decodes.
template <class Record, class FieldFn>
DecodeStatus decodeRecord(std::string_view magic, std::string_view bytes, Record seed, Record& out,
                          FieldFn decode_field) {
  std::string_view fields;
  const DecodeStatus status = unseal(magic, bytes, fields);
  if (status != DecodeStatus::Ok) {
    return status;
  }
  if (!forEachField(fields, [&seed, &decode_field](uint64_t tag, std::string_view value) {
        return decode_field(seed, tag, value);
      })) {
    return DecodeStatus::Malformed;
  }
  out = std::move(seed);
  return DecodeStatus::Ok;
}

std::string encodeRecipient(const RecipientRecord& recipient) {
  std::string out;
  putField(out, kRcptAddress, recipient.address);
  putField(out, kRcptTenant, recipient.tenant);
  putNumber(out, kRcptState, static_cast<uint64_t>(recipient.state));
  putNumber(out, kRcptAttempts, recipient.attempts);
  putText(out, kRcptLastReply, recipient.last_reply);
  if (recipient.next_attempt_us != 0) {
    putNumber(out, kRcptNextAttempt, recipient.next_attempt_us);
  }
  return out;
}

bool decodeRecipient(std::string_view in, RecipientRecord& out) {
  return forEachField(in, [&out](uint64_t tag, std::string_view value) {
    uint64_t number = 0;
    switch (tag) {
      case kRcptAddress: out.address.assign(value); return true;
      case kRcptTenant: out.tenant.assign(value); return true;
      case kRcptState:
        if (!asNumber(value, number) || number > static_cast<uint64_t>(RecipientState::Discarded)) {
          return false;
        }
        out.state = static_cast<RecipientState>(number);
        return true;
      case kRcptAttempts: return asU32(value, out.attempts);
      case kRcptLastReply: out.last_reply.assign(value); return true;
      case kRcptNextAttempt: return asNumber(value, out.next_attempt_us);
      default: return true;  // a field from a newer version
    }
  });
}

std::string encodeVerdicts(const Verdicts& verdicts) {
  std::string out;
  putText(out, kVerdictSpf, verdicts.spf);
  putText(out, kVerdictSpfDomain, verdicts.spf_domain);
  for (const auto& dkim : verdicts.dkim) {
    std::string nested;
    putText(nested, kDkimResult, dkim.result);
    putText(nested, kDkimDomain, dkim.domain);
    putText(nested, kDkimSelector, dkim.selector);
    putText(nested, kDkimAlgorithm, dkim.algorithm);
    putField(out, kVerdictDkim, nested);
  }
  putText(out, kVerdictDmarc, verdicts.dmarc);
  putText(out, kVerdictDmarcPolicy, verdicts.dmarc_policy);
  putText(out, kVerdictFromDomain, verdicts.from_domain);
  putText(out, kVerdictVirus, verdicts.virus);
  putText(out, kVerdictVirusName, verdicts.virus_name);
  return out;
}

bool decodeVerdicts(std::string_view in, Verdicts& out) {
  return forEachField(in, [&out](uint64_t tag, std::string_view value) {
    switch (tag) {
      case kVerdictSpf: out.spf.assign(value); return true;
      case kVerdictSpfDomain: out.spf_domain.assign(value); return true;
      case kVerdictDkim: {
        DkimVerdict dkim;
        bool ok = forEachField(value, [&dkim](uint64_t inner, std::string_view text) {
          switch (inner) {
            case kDkimResult: dkim.result.assign(text); break;
            case kDkimDomain: dkim.domain.assign(text); break;
            case kDkimSelector: dkim.selector.assign(text); break;
            case kDkimAlgorithm: dkim.algorithm.assign(text); break;
            default: break;
          }
          return true;
        });
        out.dkim.push_back(std::move(dkim));
        return ok;
      }
      case kVerdictDmarc: out.dmarc.assign(value); return true;
      case kVerdictDmarcPolicy: out.dmarc_policy.assign(value); return true;
      case kVerdictFromDomain: out.from_domain.assign(value); return true;
      case kVerdictVirus: out.virus.assign(value); return true;
      case kVerdictVirusName: out.virus_name.assign(value); return true;
      default: return true;
    }
  });
}

bool decodeMessageField(uint64_t tag, std::string_view value, MessageRecord& out) {
  uint64_t number = 0;
  switch (tag) {
    case kState:
      if (!asNumber(value, number) || number < static_cast<uint64_t>(MessageState::Queued) ||
          number > static_cast<uint64_t>(MessageState::Held)) {
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
    case kStage:
      if (!asNumber(value, number) || number > static_cast<uint64_t>(Stage::Scan)) {
        return false;
      }
      out.stage = static_cast<Stage>(number);
      return true;
    case kHeaders: out.headers.assign(value); return true;
    case kVerdicts: return decodeVerdicts(value, out.verdicts);
    case kOrigin:
      if (!asNumber(value, number) || number > static_cast<uint64_t>(Origin::Api)) {
        return false;
      }
      out.origin = static_cast<Origin>(number);
      return true;
    case kAuthUser: out.auth_user.assign(value); return true;
    case kSendAt: return asNumber(value, out.send_at_us);
    case kTag: out.tags.emplace_back(value); return true;
    case kMetadata: {
      std::pair<std::string, std::string> entry;
      if (!forEachField(value, [&entry](uint64_t nested, std::string_view text) {
            if (nested == kMetadataKey) {
              entry.first.assign(text);
            } else if (nested == kMetadataValue) {
              entry.second.assign(text);
            }
            return true;
          })) {
        return false;
      }
      out.metadata.push_back(std::move(entry));
      return true;
    }
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

bool MessageRecord::hasRecipientIn(RecipientState wanted) const {
  return std::any_of(recipients.begin(), recipients.end(),
                     [wanted](const RecipientRecord& recipient) { return recipient.state == wanted; });
}

std::optional<MessageState> MessageRecord::settledState() const {
  if (hasPending()) {
    return MessageState::Queued;
  }
  if (hasRecipientIn(RecipientState::Quarantined)) {
    return MessageState::Held;
  }
  if (hasRecipientIn(RecipientState::Failed)) {
    return MessageState::Dead;
  }
  return std::nullopt;
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
  out.reserve(256 + record.headers.size() + record.recipients.size() * 64);
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
  putText(out, kLastReply, record.last_reply);
  if (!record.dead_reason.empty()) {
    putField(out, kDeadReason, record.dead_reason);
    putNumber(out, kDeadAt, record.dead_at_us);
  }
  if (record.requeued_at_us != 0) {
    putNumber(out, kRequeuedAt, record.requeued_at_us);
  }
  if (record.stage != Stage::Deliver) {
    putNumber(out, kStage, static_cast<uint64_t>(record.stage));
  }
  putText(out, kHeaders, record.headers);
  std::string verdicts = encodeVerdicts(record.verdicts);
  putText(out, kVerdicts, verdicts);
  for (const auto& recipient : record.recipients) {
    putField(out, kRecipient, encodeRecipient(recipient));
  }
  if (record.origin != Origin::Inbound) {
    putNumber(out, kOrigin, static_cast<uint64_t>(record.origin));
  }
  putText(out, kAuthUser, record.auth_user);
  if (record.send_at_us != 0) {
    putNumber(out, kSendAt, record.send_at_us);
  }
  for (const std::string& tag : record.tags) {
    putField(out, kTag, tag);
  }
  for (const auto& [key, text] : record.metadata) {
    std::string nested;
    putField(nested, kMetadataKey, key);
    putField(nested, kMetadataValue, text);
    putField(out, kMetadata, nested);
  }
  return seal(kMessageMagic, std::move(out));
}

DecodeStatus decodeMessage(std::string_view bytes, MessageRecord& out) {
  MessageRecord seed;
  seed.id = out.id;  // the id lives in the key, not in the value
  return decodeRecord(kMessageMagic, bytes, std::move(seed), out,
                      [](MessageRecord& record, uint64_t tag, std::string_view value) {
                        return decodeMessageField(tag, value, record);
                      });
}

std::string encodeQuarantine(const QuarantineRecord& record) {
  std::string out;
  putField(out, kQuarantineTenant, record.tenant);
  putField(out, kQuarantineReason, record.reason);
  putText(out, kQuarantineDetail, record.detail);
  putNumber(out, kQuarantineAt, record.quarantined_at_us);
  putNumber(out, kQuarantineExpires, record.expires_at_us);
  putNumber(out, kQuarantineHold, record.legal_hold ? 1 : 0);
  putText(out, kQuarantineMailFrom, record.mail_from);
  putNumber(out, kQuarantineSize, record.size);
  for (const auto& recipient : record.recipients) {
    putField(out, kQuarantineRecipient, recipient);
  }
  return seal(kQuarantineMagic, std::move(out));
}

DecodeStatus decodeQuarantine(std::string_view bytes, QuarantineRecord& out) {
  QuarantineRecord seed;
  seed.id = out.id;  // from the key
  return decodeRecord(kQuarantineMagic, bytes, std::move(seed), out,
                      [](QuarantineRecord& record, uint64_t tag, std::string_view value) {
                        switch (tag) {
                          case kQuarantineTenant: record.tenant.assign(value); return true;
                          case kQuarantineReason: record.reason.assign(value); return true;
                          case kQuarantineDetail: record.detail.assign(value); return true;
                          case kQuarantineAt: return asNumber(value, record.quarantined_at_us);
                          case kQuarantineExpires: return asNumber(value, record.expires_at_us);
                          case kQuarantineHold: return asFlag(value, record.legal_hold);
                          case kQuarantineMailFrom: record.mail_from.assign(value); return true;
                          case kQuarantineSize: return asNumber(value, record.size);
                          case kQuarantineRecipient: record.recipients.emplace_back(value); return true;
                          default: return true;
                        }
                      });
}

std::string encodeAudit(const AuditRecord& record) {
  std::string out;
  putNumber(out, kAuditAt, record.at_us);
  putField(out, kAuditActor, record.actor);
  putField(out, kAuditAction, record.action);
  putText(out, kAuditTenant, record.tenant);
  putText(out, kAuditId, record.id);
  putText(out, kAuditDetail, record.detail);
  return seal(kAuditMagic, std::move(out));
}

DecodeStatus decodeAudit(std::string_view bytes, AuditRecord& out) {
  return decodeRecord(kAuditMagic, bytes, AuditRecord{}, out, [](AuditRecord& record, uint64_t tag, std::string_view value) {
    switch (tag) {
      case kAuditAt: return asNumber(value, record.at_us);
      case kAuditActor: record.actor.assign(value); return true;
      case kAuditAction: record.action.assign(value); return true;
      case kAuditTenant: record.tenant.assign(value); return true;
      case kAuditId: record.id.assign(value); return true;
      case kAuditDetail: record.detail.assign(value); return true;
      default: return true;
    }
  });
}

std::string encodeEvent(const EventRecord& record) {
  std::string out;
  putNumber(out, kEventAt, record.at_us);
  putField(out, kEventId, record.id);
  putText(out, kEventTenant, record.tenant);
  putField(out, kEventType, record.type);
  putField(out, kEventJson, record.json);
  putNumber(out, kEventAttempts, record.attempts);
  putNumber(out, kEventDead, record.dead ? 1 : 0);
  if (record.dead_at_us != 0) {
    putNumber(out, kEventDeadAt, record.dead_at_us);
  }
  return seal(kEventMagic, std::move(out));
}

DecodeStatus decodeEvent(std::string_view bytes, EventRecord& out) {
  return decodeRecord(kEventMagic, bytes, EventRecord{}, out, [](EventRecord& record, uint64_t tag, std::string_view value) {
    switch (tag) {
      case kEventAt: return asNumber(value, record.at_us);
      case kEventId: record.id.assign(value); return true;
      case kEventTenant: record.tenant.assign(value); return true;
      case kEventType: record.type.assign(value); return true;
      case kEventJson: record.json.assign(value); return true;
      case kEventAttempts: return asU32(value, record.attempts);
      case kEventDead: return asFlag(value, record.dead);
      case kEventDeadAt: return asNumber(value, record.dead_at_us);
      default: return true;
    }
  });
}

std::string encodeEndpoint(const EndpointRecord& record) {
  std::string out;
  putField(out, kEndpointTenant, record.tenant);
  putText(out, kEndpointUrl, record.url);
  putNumber(out, kEndpointDisabledAt, record.disabled_at_us);
  putText(out, kEndpointReason, record.reason);
  return seal(kEndpointMagic, std::move(out));
}

DecodeStatus decodeEndpoint(std::string_view bytes, EndpointRecord& out) {
  return decodeRecord(kEndpointMagic, bytes, EndpointRecord{}, out,
                      [](EndpointRecord& record, uint64_t tag, std::string_view value) {
                        switch (tag) {
                          case kEndpointTenant: record.tenant.assign(value); return true;
                          case kEndpointUrl: record.url.assign(value); return true;
                          case kEndpointDisabledAt: return asNumber(value, record.disabled_at_us);
                          case kEndpointReason: record.reason.assign(value); return true;
                          default: return true;
                        }
                      });
}

std::string encodeCredential(const CredentialRecord& record) {
  std::string out;
  putField(out, kCredentialUsername, record.username);
  putField(out, kCredentialTenant, record.tenant);
  putField(out, kCredentialName, record.name);
  putField(out, kCredentialKind, record.kind);
  putNumber(out, kCredentialCreated, record.created_us);
  if (record.revoked_us != 0) {
    putNumber(out, kCredentialRevoked, record.revoked_us);
  }
  putField(out, kCredentialHash, record.hash);
  return seal(kCredentialMagic, std::move(out));
}

DecodeStatus decodeCredential(std::string_view bytes, CredentialRecord& out) {
  return decodeRecord(kCredentialMagic, bytes, CredentialRecord{}, out,
                      [](CredentialRecord& record, uint64_t tag, std::string_view value) {
                        switch (tag) {
                          case kCredentialUsername: record.username.assign(value); return true;
                          case kCredentialTenant: record.tenant.assign(value); return true;
                          case kCredentialName: record.name.assign(value); return true;
                          case kCredentialKind: record.kind.assign(value); return true;
                          case kCredentialCreated: return asNumber(value, record.created_us);
                          case kCredentialRevoked: return asNumber(value, record.revoked_us);
                          case kCredentialHash: record.hash.assign(value); return true;
                          default: return true;
                        }
                      });
}

std::string_view suppressionReasonName(SuppressionReason reason) {
  switch (reason) {
    case SuppressionReason::HardBounce: return "hard_bounce";
    case SuppressionReason::Manual: return "manual";
    case SuppressionReason::Import: return "import";
    case SuppressionReason::Unsubscribe: return "unsubscribe";
  }
  return "manual";
}

std::string encodeSuppression(const SuppressionRecord& record) {
  std::string out;
  putField(out, kSuppressionTenant, record.tenant);
  putField(out, kSuppressionAddress, record.address);
  putNumber(out, kSuppressionReason, static_cast<uint64_t>(record.reason));
  putField(out, kSuppressionDetail, record.detail);
  putNumber(out, kSuppressionCreated, record.created_us);
  putField(out, kSuppressionQueueId, record.queue_id);
  return seal(kSuppressionMagic, std::move(out));
}

DecodeStatus decodeSuppression(std::string_view bytes, SuppressionRecord& out) {
  return decodeRecord(kSuppressionMagic, bytes, SuppressionRecord{}, out,
                      [](SuppressionRecord& record, uint64_t tag, std::string_view value) {
                        uint64_t number = 0;
                        switch (tag) {
                          case kSuppressionTenant: record.tenant.assign(value); return true;
                          case kSuppressionAddress: record.address.assign(value); return true;
                          case kSuppressionReason:
                            if (!asNumber(value, number) || number < 1 || number > 4) {
                              return false;
                            }
                            record.reason = static_cast<SuppressionReason>(number);
                            return true;
                          case kSuppressionDetail: record.detail.assign(value); return true;
                          case kSuppressionCreated: return asNumber(value, record.created_us);
                          case kSuppressionQueueId: record.queue_id.assign(value); return true;
                          default: return true;
                        }
                      });
}

std::string idempotencyKey(std::string_view tenant, std::string_view key) {
  std::string out(tenant);
  out += '\0';
  out += key;
  return out;
}

std::string encodeTenantUsage(const TenantUsageRecord& record) {
  return std::to_string(record.rate_tat_us) + " " + std::to_string(record.day_tat_us);
}

DecodeStatus decodeTenantUsage(std::string_view value, TenantUsageRecord& out) {
  const size_t space = value.find(' ');
  if (space == std::string_view::npos) {
    return DecodeStatus::Malformed;
  }
  const char* end = value.data() + value.size();
  const auto rate = std::from_chars(value.data(), value.data() + space, out.rate_tat_us);
  const auto day = std::from_chars(value.data() + space + 1, end, out.day_tat_us);
  const bool ok = space > 0 && rate.ec == std::errc() && rate.ptr == value.data() + space && day.ec == std::errc() &&
                  day.ptr == end && space + 1 < value.size();
  return ok ? DecodeStatus::Ok : DecodeStatus::Malformed;
}

std::string encodeIdempotency(const IdempotencyRecord& record) {
  std::string out;
  putField(out, kIdempotencyTenant, record.tenant);
  putField(out, kIdempotencyKey, record.key);
  putField(out, kIdempotencyRequestHash, record.request_hash);
  putField(out, kIdempotencyQueueId, record.queue_id);
  putField(out, kIdempotencyResponse, record.response);
  putNumber(out, kIdempotencyCreated, record.created_us);
  putNumber(out, kIdempotencyExpires, record.expires_us);
  return seal(kIdempotencyMagic, std::move(out));
}

DecodeStatus decodeIdempotency(std::string_view bytes, IdempotencyRecord& out) {
  return decodeRecord(kIdempotencyMagic, bytes, IdempotencyRecord{}, out,
                      [](IdempotencyRecord& record, uint64_t tag, std::string_view value) {
                        switch (tag) {
                          case kIdempotencyTenant: record.tenant.assign(value); return true;
                          case kIdempotencyKey: record.key.assign(value); return true;
                          case kIdempotencyRequestHash: record.request_hash.assign(value); return true;
                          case kIdempotencyQueueId: record.queue_id.assign(value); return true;
                          case kIdempotencyResponse: record.response.assign(value); return true;
                          case kIdempotencyCreated: return asNumber(value, record.created_us);
                          case kIdempotencyExpires: return asNumber(value, record.expires_us);
                          default: return true;
                        }
                      });
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

std::string quarantineKey(std::string_view tenant, const mail::QueueId& id) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(id.bytes());
  return key;
}

std::string suppressionKey(std::string_view tenant, std::string_view address) {
  std::string key(tenant);
  key.push_back('\0');
  key.append(ascii::toLowerCopy(address));
  return key;
}

std::string auditKey(uint64_t at_us, uint32_t sequence) {
  std::string key;
  for (int i = 7; i >= 0; --i) {
    key.push_back(static_cast<char>(at_us >> (8 * i)));
  }
  for (int i = 3; i >= 0; --i) {
    key.push_back(static_cast<char>(sequence >> (8 * i)));
  }
  return key;
}

std::string eventTenantPrefix(std::string_view tenant) {
  std::string key(tenant);
  key.push_back('\0');
  return key;
}

std::string eventTenantEnd(std::string_view tenant) {
  std::string key(tenant);
  key.push_back('\1');
  return key;
}

std::string eventKey(std::string_view tenant, uint64_t at_us, uint32_t sequence) {
  return eventTenantPrefix(tenant) + auditKey(at_us, sequence);
}

std::string_view eventKeyTenant(std::string_view key) {
  const size_t nul = key.find('\0');
  return nul == std::string_view::npos ? std::string_view() : key.substr(0, nul);
}

std::string_view eventKeyTime(std::string_view key) {
  return key.size() < kTimeKeyBytes ? key : key.substr(key.size() - kTimeKeyBytes);
}

bool isDeadEventKey(std::string_view key) {
  const size_t nul = key.find('\0');
  return nul != std::string_view::npos && nul + 1 < key.size() && key[nul + 1] == kDeadEventMark &&
         key.size() - nul - 2 == kTimeKeyBytes;
}

std::string deadEventKey(std::string_view live_key) {
  std::string key(eventKeyTenant(live_key));
  key.push_back('\0');
  key.push_back(kDeadEventMark);
  key.append(eventKeyTime(live_key));
  return key;
}

std::string liveEventKey(std::string_view dead_key) {
  return eventTenantPrefix(eventKeyTenant(dead_key)) + std::string(eventKeyTime(dead_key));
}

std::string endpointKey(EndpointKind kind, std::string_view tenant, std::string_view url_digest) {
  std::string key(1, static_cast<char>(kind));
  key.append(tenant);
  key.push_back('\0');
  key.append(url_digest);
  return key;
}

}  // namespace mxgate::spool
