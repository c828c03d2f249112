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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mxgate/mail/queue_id.h"

namespace mxgate::spool {

enum class MessageState : uint8_t {
  Queued = 1,  // has pending recipients and a next attempt time
  Dead = 2,    // dead-lettered: kept in the spool, listed, retryable, never delivered by itself
  Held = 3,    // nothing pending, but quarantined recipients keep the message (and its body)
};

enum class RecipientState : uint8_t {
  Pending = 0,
  Delivered = 1,
  Failed = 2,       // permanent failure (5xx) or expired
  Quarantined = 3,  // held in the tenant's quarantine until released or deleted
  Discarded = 4,    // deleted from quarantine (by an admin or the retention purge): final, no bounce
};

// What happens next to a queued message.
enum class Stage : uint8_t {
  Deliver = 0,
  Scan = 1,  // scan for viruses first (after the commit), then deliver or quarantine
};

struct DkimVerdict {
  std::string result;  // RFC 8601 result: "pass", "fail", ...
  std::string domain;
  std::string selector;
  std::string algorithm;

  bool operator==(const DkimVerdict&) const = default;
};

// What the inbound checks found, kept with the message for listings and the webhook payload.
struct Verdicts {
  std::string spf;         // RFC 8601 result, "" = not checked
  std::string spf_domain;
  std::vector<DkimVerdict> dkim;
  std::string dmarc;       // RFC 8601 result, "" = not checked
  std::string dmarc_policy;
  std::string from_domain;
  std::string virus;       // "clean", "infected", "limit_exceeded", "error", "" = not scanned
  std::string virus_name;

  bool operator==(const Verdicts&) const = default;
};

struct RecipientRecord {
  std::string address;  // envelope recipient, local@domain
  std::string tenant;   // tenant id that owned the domain at acceptance
  RecipientState state = RecipientState::Pending;
  uint32_t attempts = 0;
  std::string last_reply;  // last SMTP reply or error for this recipient
  // When this recipient is tried again (its own target's backoff); 0 = with the message
  // (MessageRecord::next_attempt_us).
  uint64_t next_attempt_us = 0;

  bool operator==(const RecipientRecord&) const = default;
  // When this recipient is due, given its message.
  uint64_t dueAt(uint64_t message_next_attempt_us) const {
    return next_attempt_us != 0 ? next_attempt_us : message_next_attempt_us;
  }
};

// Where a message came from: relayed to a tenant (inbound), submitted by an authenticated tenant
// over SMTP, or through the HTTP send API. Outbound messages (not Inbound) go to the tenant's
// outbound target.
enum class Origin : uint8_t {
  Inbound = 0,
  Submission = 1,
  Api = 2,
};

struct MessageRecord {
  mail::QueueId id;
  MessageState state = MessageState::Queued;
  uint64_t received_at_us = 0;   // acceptance time, microseconds since the epoch
  uint64_t next_attempt_us = 0;  // when the scheduler should try again: its earliest due recipient
  uint32_t attempts = 0;  // delivery rounds so far: the most attempts of any recipient
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
  uint64_t send_at_us = 0;      // scheduled send: not delivered before this; the max age counts from it
  Stage stage = Stage::Deliver;
  // Header fields written in front of the stored body at delivery: our Authentication-Results
  // and X-Mxgate-Tag (the body's first chunk was on disk before the verdicts existed).
  std::string headers;
  Verdicts verdicts;
  std::vector<RecipientRecord> recipients;
  Origin origin = Origin::Inbound;  // records written before this field decode as Inbound
  std::string auth_user;            // the authenticated user name of a submission ("" inbound)
  std::vector<std::string> tags;    // the sender's tags, carried into every outbound event
  std::vector<std::pair<std::string, std::string>> metadata;  // the sender's key/value pairs, in order

  bool operator==(const MessageRecord&) const = default;
  bool outbound() const { return origin != Origin::Inbound; }
  // True while at least one recipient is in the given state.
  bool hasRecipientIn(RecipientState state) const;
  bool hasPending() const { return hasRecipientIn(RecipientState::Pending); }
  // What the recipients' states make of the message: Queued while any is pending, Held while
  // any is quarantined, Dead when any failed, otherwise finished (nullopt: delete it).
  std::optional<MessageState> settledState() const;
};

// A tenant's quarantine entry for a message (queue/README.md, family quarantine). The message
// itself stays in meta/body with these recipients in state Quarantined.
struct QuarantineRecord {
  std::string tenant;
  mail::QueueId id;
  std::string reason;  // "virus", "scan_failed", "spf", "dkim", "dmarc", "policy"
  std::string detail;  // virus name, verdicts, the rule that matched
  uint64_t quarantined_at_us = 0;
  uint64_t expires_at_us = 0;  // purged after this unless legal_hold
  bool legal_hold = false;
  std::string mail_from;
  uint64_t size = 0;
  std::vector<std::string> recipients;

  bool operator==(const QuarantineRecord&) const = default;
};

// One administrative action (family audit): who did what to which message, and when.
struct AuditRecord {
  uint64_t at_us = 0;
  std::string actor;   // "cli:<user>", "api", "system"
  std::string action;  // "quarantine", "release", "delete", "hold", "unhold", "purge", ...
  std::string tenant;
  std::string id;      // queue id text, or ""
  std::string detail;

  bool operator==(const AuditRecord&) const = default;
};

// One event in the webhook outbox (family events), written in the same batch as the state
// change that causes it and removed once the tenant's event endpoint took it.
struct EventRecord {
  uint64_t at_us = 0;
  std::string id;      // "evt_<hex of the key>": the webhook-id of its delivery
  std::string tenant;
  std::string type;    // "message.delivered", ...
  std::string json;    // the event object as posted
  uint32_t attempts = 0;
  bool dead = false;   // past the tenant's events.max_age: kept, replayable, not retried
  uint64_t dead_at_us = 0;  // when it became dead (events.dead_retention counts from here)

  bool operator==(const EventRecord&) const = default;
};

// Which endpoint of a tenant a disabled-endpoint record is about.
enum class EndpointKind : char {
  Delivery = 'd',  // the webhook delivery target (delivery.url)
  Events = 'e',    // the event webhook (events.url)
};

// An endpoint disabled by a 410 answer (family endpoints), until `mxgate webhooks replay`.
struct EndpointRecord {
  std::string tenant;
  std::string url;     // redacted (no query, no user information): for listings only
  uint64_t disabled_at_us = 0;
  std::string reason;  // "HTTP 410"

  bool operator==(const EndpointRecord&) const = default;
};

// A tenant's credential (family credentials, keyed by its user name): the secret itself is
// never stored, only its HMAC under the node key (auth/credentials.h says why).
struct CredentialRecord {
  std::string username;  // "<tenant>.<name>"; the key, also kept in the value
  std::string tenant;
  std::string name;
  std::string kind;      // "smtp" (AUTH on submission listeners) or "api" (the HTTP send API)
  uint64_t created_us = 0;
  uint64_t revoked_us = 0;  // 0 = active
  std::string hash;      // HMAC-SHA256(node key, username NUL secret), 32 bytes

  bool operator==(const CredentialRecord&) const = default;
};

// Why an address is on a tenant's suppression list.
enum class SuppressionReason : uint8_t {
  HardBounce = 1,  // a delivery of the tenant's outbound mail bounced hard (bounce/classifier.h)
  Manual = 2,      // `mxgate suppression add` or the admin API
  Import = 3,      // `mxgate suppression import`
  Unsubscribe = 4,  // the recipient's RFC 8058 one-click unsubscribe (the link endpoint's /u/)
};
std::string_view suppressionReasonName(SuppressionReason reason);

// A suppressed recipient of a tenant (family suppress, keyed by suppressionKey): the tenant's
// outbound mail to it is refused at RCPT.
struct SuppressionRecord {
  std::string tenant;
  std::string address;  // lower-cased
  SuppressionReason reason = SuppressionReason::Manual;
  std::string detail;   // the bounce reply, or the operator's note
  uint64_t created_us = 0;
  std::string queue_id;  // the message whose bounce added it ("" when added by hand)

  bool operator==(const SuppressionRecord&) const = default;
};

enum class DecodeStatus { Ok, TooShort, BadMagic, UnsupportedVersion, BadChecksum, Malformed };

std::string encodeMessage(const MessageRecord& record);
DecodeStatus decodeMessage(std::string_view bytes, MessageRecord& out);
std::string encodeQuarantine(const QuarantineRecord& record);
DecodeStatus decodeQuarantine(std::string_view bytes, QuarantineRecord& out);
std::string encodeAudit(const AuditRecord& record);
DecodeStatus decodeAudit(std::string_view bytes, AuditRecord& out);
std::string encodeEvent(const EventRecord& record);
DecodeStatus decodeEvent(std::string_view bytes, EventRecord& out);
std::string encodeEndpoint(const EndpointRecord& record);
DecodeStatus decodeEndpoint(std::string_view bytes, EndpointRecord& out);
std::string encodeCredential(const CredentialRecord& record);
DecodeStatus decodeCredential(std::string_view bytes, CredentialRecord& out);
std::string encodeSuppression(const SuppressionRecord& record);
DecodeStatus decodeSuppression(std::string_view bytes, SuppressionRecord& out);

// What a tenant's sending limits ([outbound] message_rate, daily_cap) have counted: the
// theoretical arrival times of their GCRAs (shaping/gcra.h), so a restart keeps the allowance
// already used. Family default, key "tenant_limits/<tenant>", value "<rate TAT> <day TAT>" in
// decimal microseconds since the epoch.
struct TenantUsageRecord {
  std::string tenant;
  uint64_t rate_tat_us = 0;
  uint64_t day_tat_us = 0;

  bool operator==(const TenantUsageRecord&) const = default;
};

std::string encodeTenantUsage(const TenantUsageRecord& record);
// The times of value into out (out.tenant is left alone).
DecodeStatus decodeTenantUsage(std::string_view value, TenantUsageRecord& out);

// An Idempotency-Key of the HTTP send API and the answer its first request got, kept until
// expires_us (family idempotency, key idempotencyKey(tenant, key)).
struct IdempotencyRecord {
  std::string tenant;
  std::string key;           // as the client sent it
  std::string request_hash;  // SHA-256 of the request path, NUL, body (64 hex digits)
  std::string queue_id;
  std::string response;      // the 202 body
  uint64_t created_us = 0;
  uint64_t expires_us = 0;

  bool operator==(const IdempotencyRecord&) const = default;
};

// "<tenant> NUL <key>": a tenant's keys together, and no tenant sees another's.
std::string idempotencyKey(std::string_view tenant, std::string_view key);
std::string encodeIdempotency(const IdempotencyRecord& record);
DecodeStatus decodeIdempotency(std::string_view bytes, IdempotencyRecord& out);
std::string_view describe(DecodeStatus status);

// Keys: meta/<12-byte queue id>; body/<12-byte queue id><4-byte big-endian chunk index>;
// open/<12-byte queue id> marks a multi-chunk body whose transaction has not committed.
std::string metaKey(const mail::QueueId& id);
std::string bodyKey(const mail::QueueId& id, uint32_t chunk);
// quarantine/<tenant id> NUL <12-byte queue id>: a tenant's entries sort together.
std::string quarantineKey(std::string_view tenant, const mail::QueueId& id);
// audit/<8-byte big-endian microseconds><4-byte sequence>: time order.
std::string auditKey(uint64_t at_us, uint32_t sequence);
// events/<tenant id> NUL <the 12 bytes of an audit key>: each tenant's events sort together,
// in time order. A dead event has 0xFF between the NUL and the time, so a tenant's dead
// events sort after its live ones.
std::string eventKey(std::string_view tenant, uint64_t at_us, uint32_t sequence);
std::string_view eventKeyTenant(std::string_view key);  // "" when the key has no tenant part
std::string_view eventKeyTime(std::string_view key);    // the last 12 bytes
bool isDeadEventKey(std::string_view key);
std::string deadEventKey(std::string_view live_key);
std::string liveEventKey(std::string_view dead_key);
// Where the keys of the tenant's events start, and the first key after all of them.
std::string eventTenantPrefix(std::string_view tenant);
std::string eventTenantEnd(std::string_view tenant);
// endpoints/<kind> <tenant id> NUL <SHA-256 of the whole URL (32 bytes)>: the record is about
// exactly that URL, so a tenant's new URL starts enabled.
std::string endpointKey(EndpointKind kind, std::string_view tenant, std::string_view url_digest);

// suppress/<tenant id> NUL <lower-cased address>: a tenant's list sorts together.
std::string suppressionKey(std::string_view tenant, std::string_view address);

// CRC-32 (zlib) continuing from crc; start with 0.
uint32_t crc32(uint32_t crc, std::string_view bytes);

}  // namespace mxgate::spool
