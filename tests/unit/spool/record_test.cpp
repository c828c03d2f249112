// Unit tests for the spool record codec (queue/README.md "Message record").
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "mxgate/spool/record.h"

using namespace mxgate;

namespace {

spool::MessageRecord sample() {
  spool::MessageRecord record;
  record.id = mail::QueueId::generate();
  record.state = spool::MessageState::Queued;
  record.received_at_us = 1763700000123456;
  record.next_attempt_us = 1763700300000000;
  record.attempts = 3;
  record.mail_from = "sender@remote.example";
  record.client_address = "2001:db8::1";
  record.helo = "mail.remote.example";
  record.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
  record.listener = "inbound";
  record.smtputf8 = true;
  record.eightbit = true;
  record.body_size = 4321;
  record.body_chunks = 1;
  record.body_crc32 = 0xdeadbeef;
  record.last_reply = "451 4.3.0 try later";
  record.requeued_at_us = 17;
  record.recipients.push_back({"a@example.test", "example", spool::RecipientState::Pending, 2, "451 later", 1700000000123456});
  record.recipients.push_back({"b@example.test", "example", spool::RecipientState::Delivered, 1, "250 ok", 0});
  record.recipients.push_back({"c@other.test", "other", spool::RecipientState::Failed, 1, "550 no", 0});
  record.recipients.push_back({"d@example.test", "example", spool::RecipientState::Quarantined, 0, "", 0});
  record.stage = spool::Stage::Scan;
  record.headers = "Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=a@b\r\n";
  record.verdicts.spf = "pass";
  record.verdicts.spf_domain = "remote.example";
  record.verdicts.dkim = {{"pass", "remote.example", "s1", "ed25519-sha256"}, {"fail", "other.example", "k", "rsa-sha256"}};
  record.verdicts.dmarc = "pass";
  record.verdicts.dmarc_policy = "reject";
  record.verdicts.from_domain = "remote.example";
  record.verdicts.virus = "clean";
  return record;
}

// Re-seals a modified record with a fresh CRC so only the intended defect remains.
std::string reseal(std::string bytes) {
  bytes.resize(bytes.size() - 4);
  uint32_t crc = spool::crc32(0, bytes);
  for (int i = 0; i < 4; ++i) {
    bytes.push_back(static_cast<char>(crc >> (8 * i)));
  }
  return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(record)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
  spool::MessageRecord record = sample();
  std::string bytes = spool::encodeMessage(record);
  BOOST_TEST(bytes.substr(0, 4) == std::string("MXM\x01", 4));
  spool::MessageRecord decoded;
  decoded.id = record.id;
  BOOST_TEST((spool::decodeMessage(bytes, decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded == record));
}

BOOST_AUTO_TEST_CASE(outbound_fields_round_trip) {
  spool::MessageRecord record = sample();
  record.origin = spool::Origin::Api;
  record.auth_user = "acme.crm";
  record.tags = {"welcome", "", "campaign-7"};
  record.metadata = {{"order", "42"}, {"customer", "c-9"}, {"order", "43"}, {"empty", ""}};
  spool::MessageRecord decoded;
  decoded.id = record.id;
  BOOST_REQUIRE((spool::decodeMessage(spool::encodeMessage(record), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded == record));
  BOOST_TEST(decoded.outbound());
  record.origin = spool::Origin::Submission;
  BOOST_REQUIRE((spool::decodeMessage(spool::encodeMessage(record), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded.origin == spool::Origin::Submission));
}

BOOST_AUTO_TEST_CASE(records_without_origin_decode_as_inbound) {
  // A record as written before the origin fields existed: no tags 22-25.
  const spool::MessageRecord record = sample();
  const std::string bytes = spool::encodeMessage(record);
  spool::MessageRecord decoded;
  decoded.origin = spool::Origin::Api;  // decoding starts from a fresh record
  BOOST_REQUIRE((spool::decodeMessage(bytes, decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded.origin == spool::Origin::Inbound));
  BOOST_TEST(!decoded.outbound());
  BOOST_TEST(decoded.tags.empty());
  BOOST_TEST(decoded.metadata.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_origin_is_malformed) {
  spool::MessageRecord record = sample();
  record.origin = spool::Origin::Api;
  std::string bytes = spool::encodeMessage(record);
  const std::string field("\x16\x01\x02", 3);  // tag 22, length 1, value 2
  const size_t at = bytes.find(field);
  BOOST_REQUIRE(at != std::string::npos);
  bytes[at + 2] = '\x07';
  spool::MessageRecord decoded;
  BOOST_TEST((spool::decodeMessage(reseal(bytes), decoded) == spool::DecodeStatus::Malformed));
}

BOOST_AUTO_TEST_CASE(dead_letter_fields_round_trip) {
  spool::MessageRecord record = sample();
  record.state = spool::MessageState::Dead;
  record.dead_reason = "expired";
  record.dead_at_us = 99;
  spool::MessageRecord decoded;
  decoded.id = record.id;
  BOOST_REQUIRE((spool::decodeMessage(spool::encodeMessage(record), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded == record));
}

BOOST_AUTO_TEST_CASE(envelope_bytes_cannot_inject_fields) {
  spool::MessageRecord record = sample();
  record.mail_from = std::string("a\r\nstate\x01\x02@x\0y", 15);
  spool::MessageRecord decoded;
  decoded.id = record.id;
  BOOST_REQUIRE((spool::decodeMessage(spool::encodeMessage(record), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST(decoded.mail_from == record.mail_from);
  BOOST_TEST((decoded.state == spool::MessageState::Queued));
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_skipped) {
  std::string bytes = spool::encodeMessage(sample());
  bytes.resize(bytes.size() - 4);
  bytes += std::string("\x63\x03xyz", 5);  // tag 99, 3 bytes
  spool::MessageRecord decoded;
  BOOST_TEST((spool::decodeMessage(reseal(bytes + "1234"), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST(decoded.recipients.size() == 4u);
}

BOOST_AUTO_TEST_CASE(damage_is_detected) {
  std::string good = spool::encodeMessage(sample());
  spool::MessageRecord out;
  BOOST_TEST((spool::decodeMessage(good.substr(0, 6), out) == spool::DecodeStatus::TooShort));
  std::string magic = good;
  magic[0] = 'X';
  BOOST_TEST((spool::decodeMessage(magic, out) == spool::DecodeStatus::BadMagic));
  std::string version = good;
  version[3] = 2;
  BOOST_TEST((spool::decodeMessage(version, out) == spool::DecodeStatus::UnsupportedVersion));
  for (size_t i = 4; i < good.size(); ++i) {
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    BOOST_TEST((spool::decodeMessage(flipped, out) == spool::DecodeStatus::BadChecksum));
  }
  // A truncated field that still carries a valid checksum is malformed, not silently short.
  std::string truncated = good.substr(0, good.size() - 7) + "1234";
  BOOST_TEST((spool::decodeMessage(reseal(truncated), out) == spool::DecodeStatus::Malformed));
  // An impossible state value.
  spool::MessageRecord bad_state = sample();
  std::string bytes = spool::encodeMessage(bad_state);
  BOOST_REQUIRE(bytes[4] == 1 && bytes[5] == 1);  // tag 1 (state), length 1
  bytes[6] = 9;
  BOOST_TEST((spool::decodeMessage(reseal(bytes), out) == spool::DecodeStatus::Malformed));
}

BOOST_AUTO_TEST_CASE(held_state_and_recipient_predicates) {
  spool::MessageRecord record = sample();
  record.state = spool::MessageState::Held;
  spool::MessageRecord decoded;
  decoded.id = record.id;
  BOOST_REQUIRE((spool::decodeMessage(spool::encodeMessage(record), decoded) == spool::DecodeStatus::Ok));
  BOOST_TEST((decoded.state == spool::MessageState::Held));
  BOOST_TEST(decoded.hasPending());
  BOOST_TEST(decoded.hasRecipientIn(spool::RecipientState::Quarantined));
  decoded.recipients[0].state = spool::RecipientState::Delivered;
  BOOST_TEST(!decoded.hasPending());
}

BOOST_AUTO_TEST_CASE(quarantine_and_audit_records_round_trip) {
  spool::QuarantineRecord quarantine;
  quarantine.tenant = "example";
  quarantine.id = mail::QueueId::generate();
  quarantine.reason = "virus";
  quarantine.detail = "Eicar-Test-Signature.UNOFFICIAL";
  quarantine.quarantined_at_us = 1;
  quarantine.expires_at_us = 2;
  quarantine.legal_hold = true;
  quarantine.mail_from = "x@y.example";
  quarantine.size = 1234;
  quarantine.recipients = {"a@example.test", "b@example.test"};
  spool::QuarantineRecord q;
  q.id = quarantine.id;
  BOOST_REQUIRE((spool::decodeQuarantine(spool::encodeQuarantine(quarantine), q) == spool::DecodeStatus::Ok));
  BOOST_TEST((q == quarantine));
  std::string damaged = spool::encodeQuarantine(quarantine);
  damaged[5] ^= 1;
  BOOST_TEST((spool::decodeQuarantine(damaged, q) == spool::DecodeStatus::BadChecksum));
  // A message record is not a quarantine record.
  BOOST_TEST((spool::decodeQuarantine(spool::encodeMessage(sample()), q) == spool::DecodeStatus::BadMagic));

  spool::AuditRecord audit{77, "cli:root", "release", "example", quarantine.id.str(), "rescanned clean"};
  spool::AuditRecord a;
  BOOST_REQUIRE((spool::decodeAudit(spool::encodeAudit(audit), a) == spool::DecodeStatus::Ok));
  BOOST_TEST((a == audit));

  spool::EventRecord event{88, "evt_00", "example", "message.delivered", R"({"id":"evt_00"})", 3, true, 99};
  spool::EventRecord e;
  BOOST_REQUIRE((spool::decodeEvent(spool::encodeEvent(event), e) == spool::DecodeStatus::Ok));
  BOOST_TEST((e == event));
  BOOST_TEST((spool::decodeEvent(spool::encodeAudit(audit), e) == spool::DecodeStatus::BadMagic));
  std::string damaged_event = spool::encodeEvent(event);
  damaged_event.back() ^= 1;
  BOOST_TEST((spool::decodeEvent(damaged_event, e) == spool::DecodeStatus::BadChecksum));

  spool::EndpointRecord endpoint{"example", "https://crm.example/hook?[redacted]", 123, "HTTP 410"};
  spool::EndpointRecord d;
  BOOST_REQUIRE((spool::decodeEndpoint(spool::encodeEndpoint(endpoint), d) == spool::DecodeStatus::Ok));
  BOOST_TEST((d == endpoint));
  BOOST_TEST((spool::decodeEndpoint(spool::encodeEvent(event), d) == spool::DecodeStatus::BadMagic));

  for (const uint64_t revoked : {uint64_t{0}, uint64_t{456}}) {
    spool::CredentialRecord credential{"example.crm", "example", "crm", "smtp", 123, revoked, std::string(32, '\x01')};
    spool::CredentialRecord c;
    BOOST_REQUIRE((spool::decodeCredential(spool::encodeCredential(credential), c) == spool::DecodeStatus::Ok));
    BOOST_TEST((c == credential));
  }
  spool::CredentialRecord wrong_kind;
  BOOST_TEST((spool::decodeCredential(spool::encodeEndpoint(endpoint), wrong_kind) == spool::DecodeStatus::BadMagic));

  for (const auto reason : {spool::SuppressionReason::HardBounce, spool::SuppressionReason::Manual,
                            spool::SuppressionReason::Import}) {
    const spool::SuppressionRecord suppression{"example", "bob@example.org", reason, "550 5.1.1 no such user", 789,
                                               "0123456789abcdef01234567"};
    spool::SuppressionRecord s;
    BOOST_REQUIRE((spool::decodeSuppression(spool::encodeSuppression(suppression), s) == spool::DecodeStatus::Ok));
    BOOST_TEST((s == suppression));
  }
  BOOST_TEST(spool::suppressionReasonName(spool::SuppressionReason::HardBounce) == "hard_bounce");
  spool::SuppressionRecord wrong;
  BOOST_TEST((spool::decodeSuppression(spool::encodeEndpoint(endpoint), wrong) == spool::DecodeStatus::BadMagic));

  spool::IdempotencyRecord idempotency{"example", "order-1", std::string(64, 'a'), "0006C8262KS1X0000T8B",
                                       "{\"id\":\"0006C8262KS1X0000T8B\"}", 10, 20};
  spool::IdempotencyRecord i;
  BOOST_REQUIRE((spool::decodeIdempotency(spool::encodeIdempotency(idempotency), i) == spool::DecodeStatus::Ok));
  BOOST_TEST((i == idempotency));
  BOOST_TEST((spool::decodeIdempotency(spool::encodeEndpoint(endpoint), i) == spool::DecodeStatus::BadMagic));
  std::string corpus;
  {
    std::ifstream in(std::string(MXGATE_SOURCE_DIR) + "/tests/fuzz/record/corpus/idempotency", std::ios::binary);
    corpus.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  BOOST_REQUIRE((spool::decodeIdempotency(corpus, i) == spool::DecodeStatus::Ok));  // the fuzz seed decodes
  BOOST_TEST(i.key == "order-1001");
  BOOST_TEST((spool::suppressionKey("example", "Bob@Example.ORG") == std::string("example\0bob@example.org", 23)));
}

// Each tenant's events sort together, live ones in time order, then its dead ones (compared
// as whole strings: Boost.Test would compare char by char, signed).
BOOST_AUTO_TEST_CASE(event_keys_group_by_tenant_live_before_dead) {
  const std::string early = spool::eventKey("a", 100, 1);
  const std::string late = spool::eventKey("a", 200, 0);
  const std::string other = spool::eventKey("a-b", 50, 0);
  BOOST_TEST(early.size() == 1u + 1u + 12u);
  BOOST_TEST((early < late));
  BOOST_TEST((spool::deadEventKey(early) > late));
  BOOST_TEST((spool::deadEventKey(late) < other));
  BOOST_TEST((spool::deadEventKey(late) < spool::eventTenantEnd("a")));
  BOOST_TEST((spool::eventTenantPrefix("a") < early));
  BOOST_TEST(spool::eventKeyTenant(other) == "a-b");
  BOOST_TEST(spool::eventKeyTime(late) == spool::auditKey(200, 0));
  BOOST_TEST(!spool::isDeadEventKey(early));
  BOOST_TEST(spool::isDeadEventKey(spool::deadEventKey(early)));
  BOOST_TEST(spool::liveEventKey(spool::deadEventKey(early)) == early);
  BOOST_TEST(spool::endpointKey(spool::EndpointKind::Events, "a", "d1") == std::string("ea\0d1", 5));
}

BOOST_AUTO_TEST_CASE(quarantine_keys_group_by_tenant_and_audit_keys_by_time) {
  mail::QueueId id = mail::QueueId::generate();
  BOOST_TEST(spool::quarantineKey("a", id) < spool::quarantineKey("a-b", id));  // NUL sorts first
  BOOST_TEST(spool::quarantineKey("example", id).size() == 7u + 1u + 12u);
  BOOST_TEST(spool::auditKey(1, 9) < spool::auditKey(2, 0));
  BOOST_TEST(spool::auditKey(5, 1) < spool::auditKey(5, 2));
}

BOOST_AUTO_TEST_CASE(keys_sort_by_id_then_chunk) {
  mail::QueueId first = mail::QueueId::generate();
  mail::QueueId second = mail::QueueId::generate();
  BOOST_TEST(spool::metaKey(first).size() == 12u);
  BOOST_TEST(spool::bodyKey(first, 0).size() == 16u);
  BOOST_TEST(spool::bodyKey(first, 1) < spool::bodyKey(first, 256));
  BOOST_TEST(spool::bodyKey(first, UINT32_MAX) < spool::bodyKey(second, 0));
}

BOOST_AUTO_TEST_CASE(crc32_matches_the_zlib_check_value) {
  BOOST_TEST(spool::crc32(0, "123456789") == 0xCBF43926u);
  BOOST_TEST(spool::crc32(spool::crc32(0, "1234"), "56789") == 0xCBF43926u);
}

BOOST_AUTO_TEST_SUITE_END()
