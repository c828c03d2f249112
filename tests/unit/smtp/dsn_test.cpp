// Tests for smtp/dsn: the RFC 3464 delivery status notification in an RFC 6522
// multipart/report, read back by GMime (the webhook payload's MIME parser), its
// machine-readable fields per recipient, the RFC 6533 forms for UTF-8 mail, and that a peer's
// reply cannot inject header fields.
#include <boost/test/unit_test.hpp>

#include <string>

#include "mxgate/mime/message.h"
#include "mxgate/smtp/dsn.h"

using namespace mxgate;

namespace {

constexpr std::string_view kOriginalHeaders =
    "Received: from client.example ([192.0.2.7]) by mx.example.net\r\n"
    "From: Alice <alice@sender.example>\r\n"
    "To: bob@example.test\r\n"
    "Subject: quarterly numbers\r\n"
    "Message-ID: <q1@sender.example>\r\n";

smtp::DsnReport report() {
  smtp::DsnReport report;
  report.reporting_mta = "mx.example.net";
  report.sender = "alice@sender.example";
  report.queue_id = "0006C338WKPS2M001ZHD";
  report.arrival_us = 1768472551000000;
  report.created_us = 1768476151000000;
  report.original_headers = kOriginalHeaders;
  report.recipients.push_back({"bob@example.test", smtp::DsnAction::Failed, "5.1.1", "crm.example.test",
                               "550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown",
                               1768476150000000});
  report.recipients.push_back({"carol@example.test", smtp::DsnAction::Failed, "5.0.0", "",
                               "expired after 432000 s in the queue", 1768476150000000});
  return report;
}

std::string partOf(const std::string& message, std::string_view content_type) {
  const size_t type = message.find("Content-Type: " + std::string(content_type));
  BOOST_REQUIRE(type != std::string::npos);
  const size_t start = message.find("\r\n\r\n", type) + 4;
  return message.substr(start, message.find("\r\n--", start) - start);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dsn)

BOOST_AUTO_TEST_CASE(multipart_report_parses_as_a_bounce_with_three_parts) {
  mime::initialize();
  const smtp::DsnMessage dsn = smtp::buildDsn(report());
  BOOST_TEST(!dsn.utf8);
  const mime::Message parsed = mime::parse(dsn.text);
  BOOST_TEST(parsed.is_bounce);
  BOOST_TEST(parsed.auto_submitted == "auto-replied");
  BOOST_TEST(parsed.structure == "multipart/report(text/plain,message/delivery-status,text/rfc822-headers)");
  BOOST_TEST(parsed.subject == "Undelivered Mail Returned to Sender");
  BOOST_REQUIRE(parsed.from);
  BOOST_TEST(parsed.from->email == "MAILER-DAEMON@mx.example.net");
  BOOST_REQUIRE(parsed.to.size() == 1);
  BOOST_TEST(parsed.to[0].email == "alice@sender.example");
  BOOST_TEST(parsed.message_id == "<0006C338WKPS2M001ZHD.1768476151000000.dsn@mx.example.net>");
  BOOST_TEST(parsed.text.find("<bob@example.test>: failed: host crm.example.test said: 550 5.1.1") !=
             std::string::npos);
  for (size_t i = 0; i < dsn.text.size(); ++i) {  // CRLF only
    if (dsn.text[i] == '\n') {
      BOOST_REQUIRE(i > 0 && dsn.text[i - 1] == '\r');
    }
  }
}

BOOST_AUTO_TEST_CASE(delivery_status_fields_per_message_and_per_recipient) {
  const smtp::DsnMessage dsn = smtp::buildDsn(report());
  const std::string status = partOf(dsn.text, "message/delivery-status");
  BOOST_TEST(status ==
             "Reporting-MTA: dns; mx.example.net\r\n"
             "X-Mxgate-Queue-ID: 0006C338WKPS2M001ZHD\r\n"
             "Arrival-Date: Thu, 15 Jan 2026 10:22:31 +0000\r\n"
             "\r\n"
             "Final-Recipient: rfc822; bob@example.test\r\n"
             "Action: failed\r\n"
             "Status: 5.1.1\r\n"
             "Remote-MTA: dns; crm.example.test\r\n"
             "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown\r\n"
             "Last-Attempt-Date: Thu, 15 Jan 2026 11:22:30 +0000\r\n"
             "\r\n"
             "Final-Recipient: rfc822; carol@example.test\r\n"
             "Action: failed\r\n"
             "Status: 5.0.0\r\n"
             "Diagnostic-Code: X-Mxgate; expired after 432000 s in the queue\r\n"
             "Last-Attempt-Date: Thu, 15 Jan 2026 11:22:30 +0000\r\n");
  BOOST_TEST(partOf(dsn.text, "text/rfc822-headers") == std::string(kOriginalHeaders));
}

BOOST_AUTO_TEST_CASE(utf8_mail_uses_the_global_forms) {
  smtp::DsnReport utf8 = report();
  utf8.sender = "älice@sender.example";
  const smtp::DsnMessage dsn = smtp::buildDsn(utf8);
  BOOST_TEST(dsn.utf8);
  BOOST_TEST(dsn.text.find("Content-Type: message/global-delivery-status") != std::string::npos);
  BOOST_TEST(dsn.text.find("Content-Type: message/global-headers") != std::string::npos);
  BOOST_TEST(dsn.text.find("Final-Recipient: utf-8; bob@example.test") != std::string::npos);
  BOOST_TEST(dsn.text.find("To: <älice@sender.example>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_peers_reply_cannot_inject_fields_or_end_the_part) {
  smtp::DsnReport hostile = report();
  hostile.recipients[0].diagnostic = "550 5.1.1 no\r\nBcc: victim@example.org\r\n\r\n--0006C338WKPS2M001ZHD";
  hostile.recipients[0].remote_mta = "evil\r\nX-Injected: 1";
  const smtp::DsnMessage dsn = smtp::buildDsn(hostile);
  BOOST_TEST(dsn.text.find("\r\nBcc:") == std::string::npos);
  BOOST_TEST(dsn.text.find("\r\nX-Injected:") == std::string::npos);
  mime::initialize();
  BOOST_TEST(mime::parse(dsn.text).structure ==
             "multipart/report(text/plain,message/delivery-status,text/rfc822-headers)");
}

BOOST_AUTO_TEST_CASE(status_codes_from_stored_replies) {
  BOOST_TEST(smtp::dsnStatus("550 5.1.1 User unknown", "5.0.0") == "5.1.1");
  BOOST_TEST(smtp::dsnStatus("554 Transaction failed", "5.0.0") == "5.0.0");
  BOOST_TEST(smtp::dsnStatus("452 4.2.2 Mailbox full", "5.0.0") == "4.2.2");
  BOOST_TEST(smtp::dsnStatus("webhook endpoint disabled", "5.0.0") == "5.0.0");
  BOOST_TEST(smtp::dsnStatus("expired after 5 s", "4.4.7") == "4.4.7");
}

BOOST_AUTO_TEST_SUITE_END()
