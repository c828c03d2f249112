// The inbound.message.received payload: whole documents against golden files
// (tests/unit/payload/golden, compared as JSON values) for a plain reply with a ticket tag,
// In-Reply-To and a plus address; multipart/alternative with an inline attachment; an
// attachment over the inline budget; a DSN from the null reverse-path. Then the single rules:
// RFC 3339 timestamps, TLS and verdict nulls, the inline budget, and every corpus message
// (corpora/mime) giving JSON that parses back.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../mime/mime_test_util.h"
#include "mxgate/config/config.h"
#include "mxgate/payload/inbound.h"

namespace mxgate::payload {
namespace {

namespace fs = std::filesystem;
using mime::test::crlf;
using mime::test::readFile;
using nlohmann::json;

spool::MessageRecord fixedRecord() {
  spool::MessageRecord record;
  record.id = mail::QueueId::fromBytes(std::string_view("\x00\x06\x48\x6e\x9d\x0a\x51\x00\x00\x01\xbe\xef", 12));
  record.received_at_us = 1768472551880123;  // 2026-01-15T10:22:31.880123Z
  record.mail_from = "jane@example.com";
  record.client_address = "203.0.113.7";
  record.helo = "mail.example.com";
  record.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
  record.verdicts.spf = "pass";
  record.verdicts.spf_domain = "example.com";
  record.verdicts.dkim = {{"pass", "example.com", "s1", "rsa-sha256"}};
  record.verdicts.dmarc = "pass";
  record.verdicts.dmarc_policy = "reject";
  record.verdicts.from_domain = "example.com";
  record.verdicts.virus = "clean";
  return record;
}

struct Built {
  std::string text;
  json document;
};

Built build(const spool::MessageRecord& record, const std::string& message, uint64_t inline_max = 1048576,
            std::vector<std::string> rcpt_to = {"support@acme.example"}) {
  static const TicketPattern pattern{config::ThreadPolicy{}.ticket_pattern};
  const mime::Message parsed = mime::parse(message);
  Input input;
  input.record = &record;
  input.tenant = "acme";
  input.rcpt_to = std::move(rcpt_to);
  input.authentication_results = "mx.acme.example; spf=pass smtp.mailfrom=example.com";
  input.message = &parsed;
  input.ticket_pattern = &pattern;
  input.links_rewritten = 2;
  input.links_mode = "safe_links";
  input.inline_attachments_max = inline_max;
  input.timestamp_us = 1768472553123456;  // 2026-01-15T10:22:33.123456Z
  Built built;
  built.text = buildInbound(input);
  built.document = json::parse(built.text);
  return built;
}

void checkGolden(const Built& built, const std::string& name) {
  const fs::path path = fs::path(MXGATE_SOURCE_DIR) / "tests" / "unit" / "payload" / "golden" / (name + ".json");
  const std::string golden = readFile(path.string());
  BOOST_TEST((built.document == json::parse(golden)),
             name << " differs from " << path.string() << "\nexpected:\n"
                  << golden << "\nactual:\n"
                  << nlohmann::ordered_json::parse(built.text).dump(2));
}

const std::string kReply = crlf(
    "Received: from mail.example.com (mail.example.com [203.0.113.7])\n"
    "\tby mx.acme.example with ESMTPS id 0006486E9D0A51000001BEEF\n"
    "From: Jane Doe <jane@example.com>\n"
    "To: Acme Support <support+TICKET-202501-0001@acme.example>\n"
    "Subject: Re: AW: Printer is on fire [TICKET-202501-0001]\n"
    "Date: Thu, 15 Jan 2026 11:22:30 +0100\n"
    "Message-ID: <CAF3k9x@mail.example.com>\n"
    "In-Reply-To: <TICKET-202501-0001.k7Qp2.acme@gw.example>\n"
    "References: <a1@crm.acme.example>\n"
    " <TICKET-202501-0001.k7Qp2.acme@gw.example>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Hi,\n"
    "\n"
    "Still burning. Grüße\n");

const std::string kAlternativeWithAttachment = crlf(
    "From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.org>\n"
    "To: support@acme.example, Sales: a@acme.example, b@acme.example;\n"
    "Cc: \"Boss\" <boss@example.org>\n"
    "Reply-To: tickets@example.org\n"
    "Subject: =?UTF-8?B?UmVjaG51bmcgw7xiZXIgMTIg4oKs?=\n"
    "Date: Fri, 16 Jan 2026 08:00:00 -0500\n"
    "Message-ID: <invoice-1@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"mix\"\n"
    "\n"
    "--mix\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Rechnung anbei, sch=F6nen Tag.\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>Rechnung anbei, schönen Tag.</p>\n"
    "--alt--\n"
    "--mix\n"
    "Content-Type: application/pdf; name=\"invoice.pdf\"\n"
    "Content-Disposition: attachment; filename=\"invoice.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQgZmFrZQ==\n"
    "--mix--\n");

const std::string kLargeAttachment = crlf(
    "From: sender@example.net\n"
    "To: support@acme.example\n"
    "Subject: Fwd: logs\n"
    "Message-ID: <logs@example.net>\n"
    "Auto-Submitted: auto-generated\n"
    "Content-Type: multipart/mixed; boundary=b\n"
    "\n"
    "--b\n"
    "Content-Type: text/plain\n"
    "\n"
    "Logs attached.\n"
    "--b\n"
    "Content-Type: image/gif\n"
    "Content-ID: <small@x>\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "R0lGODlhAQABAA==\n"
    "--b\n"
    "Content-Type: application/octet-stream\n"
    "Content-Disposition: attachment; filename=big.log\n"
    "\n"
    "0123456789012345678901234567890123456789\n"
    "--b\n"
    "Content-Type: text/plain; name=tiny.txt\n"
    "\n"
    "tiny\n"
    "--b--\n");

const std::string kBounce = crlf(
    "From: Mail Delivery System <MAILER-DAEMON@mail.example.com>\n"
    "To: support@acme.example\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Date: Sat, 17 Jan 2026 23:59:59 +0000\n"
    "Auto-Submitted: auto-replied\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n"
    "\n"
    "--r\n"
    "Content-Type: text/plain\n"
    "\n"
    "Your message could not be delivered.\n"
    "--r\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mail.example.com\n"
    "\n"
    "Final-Recipient: rfc822; gone@example.com\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "--r\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "Subject: hello\n"
    "--r--\n");

BOOST_AUTO_TEST_SUITE(payload_inbound)

BOOST_AUTO_TEST_CASE(golden_reply_with_ticket) {
  checkGolden(build(fixedRecord(), kReply, 1048576, {"support+TICKET-202501-0001@acme.example"}), "reply_with_ticket");
}

BOOST_AUTO_TEST_CASE(golden_alternative_with_inline_attachment) {
  spool::MessageRecord record = fixedRecord();
  record.mail_from = "bounces+x1@mailer.example.org";
  record.tls.clear();
  record.verdicts.dkim.push_back({"fail", "mailer.example.org", "k2", "ed25519-sha256"});
  record.verdicts.dmarc.clear();
  record.verdicts.virus.clear();
  checkGolden(build(record, kAlternativeWithAttachment), "alternative_with_attachment");
}

BOOST_AUTO_TEST_CASE(golden_attachment_over_inline_limit) {
  spool::MessageRecord record = fixedRecord();
  record.verdicts.spf.clear();
  record.verdicts.dkim.clear();
  record.verdicts.virus = "infected";
  record.verdicts.virus_name = "Eicar-Signature";
  checkGolden(build(record, kLargeAttachment, 20), "attachment_over_limit");
}

BOOST_AUTO_TEST_CASE(golden_bounce_from_null_sender) {
  spool::MessageRecord record = fixedRecord();
  record.mail_from.clear();
  record.verdicts.spf = "none";
  record.verdicts.spf_domain = "mail.example.com";
  checkGolden(build(record, kBounce), "bounce");
}

BOOST_AUTO_TEST_CASE(null_sender_is_a_bounce_and_tls_parts) {
  spool::MessageRecord record = fixedRecord();
  record.mail_from.clear();
  record.tls = "TLSv1.2";
  const json data = build(record, crlf("Subject: hi\n\nbody\n")).document.at("data");
  BOOST_TEST(data.at("is_bounce") == true);
  BOOST_TEST(data.at("envelope").at("mail_from") == "");
  BOOST_TEST(data.at("envelope").at("tls") == (json{{"version", "TLSv1.2"}, {"cipher", ""}}));
  BOOST_TEST(data.at("from").is_null());
  BOOST_TEST(data.at("message_id").is_null());
  BOOST_TEST(data.at("date").is_null());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_not_thrown) {
  spool::MessageRecord record = fixedRecord();
  record.helo = "bad\xff" "helo";
  const Built built = build(record, crlf("Subject: hi\n\nbody\n"), 1048576, {"a+\xc3@acme.example"});
  BOOST_TEST(built.document.at("data").at("envelope").at("helo") == "bad\xEF\xBF\xBDhelo");
}

BOOST_AUTO_TEST_CASE(inline_budget_stops_at_the_first_attachment_that_does_not_fit) {
  const std::string message = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream\n\n1234\n"
      "--b\nContent-Type: application/octet-stream\n\n123456\n"
      "--b\nContent-Type: application/octet-stream\n\n1\n"
      "--b--\n");
  const json attachments = build(fixedRecord(), message, 9).document.at("data").at("attachments");
  BOOST_TEST_REQUIRE(attachments.size() == 3u);
  BOOST_TEST(attachments[0].at("content_base64") == "MTIzNA==");
  BOOST_TEST(attachments[1].at("content_base64").is_null());
  BOOST_TEST(attachments[1].at("size") == 6);
  BOOST_TEST(attachments[2].at("content_base64").is_null());
  const json none = build(fixedRecord(), message, 0).document.at("data").at("attachments");
  BOOST_TEST(none[0].at("content_base64").is_null());
}

BOOST_AUTO_TEST_CASE(every_corpus_message_gives_parseable_json) {
  size_t built = 0;
  const spool::MessageRecord record = fixedRecord();
  for (const fs::path& path : mime::test::corpusMessages()) {
    BOOST_TEST_CONTEXT(path.string()) {
      const Built result = build(record, readFile(path.string()));
      BOOST_TEST(result.document.at("type") == "inbound.message.received");
      BOOST_TEST(result.document.at("data").at("structure") == mime::parse(readFile(path.string())).structure);
      ++built;
    }
  }
  BOOST_TEST_MESSAGE("payload corpus: " << built << " messages built and parsed back");
  BOOST_TEST(built == 245u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::payload
