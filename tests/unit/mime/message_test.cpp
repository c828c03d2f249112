// mime::parse, header side: the header section in order (RFC 5322 §2.2 unfolding, RFC 2047
// decoding, 8-bit repair), identification fields (§3.6.4), Date as RFC 3339 (§3.3), address
// fields with groups (§3.4), RFC 3834 auto-reply signals, headerless and empty input.
#include <boost/test/unit_test.hpp>

#include "mime_test_util.h"
#include "mxgate/mime/message.h"

namespace mxgate::mime {
namespace {

using test::crlf;

BOOST_AUTO_TEST_SUITE(mime_message)

BOOST_AUTO_TEST_CASE(header_section_in_order_unfolded_and_decoded) {
  const Message m = parse(crlf(
      "Received: from a.example by b.example;\n"
      "\tTue, 1 Jul 2003 10:52:37 +0200\n"
      "From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.com>\n"
      "Subject: =?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?q?_aus_K=C3=B6ln?=\n"
      "Content-Type: text/plain; charset=utf-8\n"
      "X-Latin: caf\xE9\n"
      "X-Empty:\n"
      "MIME-Version: 1.0\n"
      "\n"
      "body\n"));
  const std::vector<HeaderField> expected = {
      {"Received", "from a.example by b.example;\tTue, 1 Jul 2003 10:52:37 +0200"},
      {"From", "Jürgen <j@example.com>"},
      {"Subject", "Grüße aus Köln"},
      {"Content-Type", "text/plain; charset=utf-8"},
      {"X-Latin", "café"},
      {"X-Empty", ""},
      {"MIME-Version", "1.0"},
  };
  BOOST_TEST(m.headers == expected, boost::test_tools::per_element());
  BOOST_TEST(m.subject == "Grüße aus Köln");
  BOOST_TEST(!m.truncated);
}

BOOST_AUTO_TEST_CASE(header_field_limit) {
  Limits limits;
  limits.max_header_fields = 2;
  const Message m = parse(crlf("A: 1\nB: 2\nC: 3\n\nbody\n"), limits);
  const std::vector<HeaderField> expected = {{"A", "1"}, {"B", "2"}};
  BOOST_TEST(m.headers == expected, boost::test_tools::per_element());
  BOOST_TEST(m.truncated);
  BOOST_TEST(m.text == "body\r\n");
}

BOOST_AUTO_TEST_CASE(identification_fields) {
  const Message m = parse(crlf(
      "Message-ID: <abc.123@mail.example>\n"
      "In-Reply-To: <parent@crm.example>\n"
      "References: <root@crm.example>\n"
      " <middle@crm.example> (comment) <parent@crm.example>\n"
      "\n"
      "x\n"));
  BOOST_TEST(m.message_id == "<abc.123@mail.example>");
  BOOST_TEST(m.in_reply_to == std::vector<std::string>{"<parent@crm.example>"}, boost::test_tools::per_element());
  const std::vector<std::string> references = {"<root@crm.example>", "<middle@crm.example>", "<parent@crm.example>"};
  BOOST_TEST(m.references == references, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(missing_fields) {
  const Message m = parse(crlf("X-Only: 1\n\nhello\n"));
  BOOST_TEST(m.message_id == "");
  BOOST_TEST(m.in_reply_to.empty());
  BOOST_TEST(m.references.empty());
  BOOST_TEST(m.date == "");
  BOOST_TEST(m.subject == "");
  BOOST_TEST(!m.from.has_value());
  BOOST_TEST(!m.sender.has_value());
  BOOST_TEST(m.reply_to.empty());
  BOOST_TEST(m.to.empty());
  BOOST_TEST(m.cc.empty());
  BOOST_TEST(m.auto_submitted == "no");
  BOOST_TEST(!m.is_auto_reply);
  BOOST_TEST(!m.is_bounce);
  BOOST_TEST(m.text == "hello\r\n");
  BOOST_TEST(m.structure == "text/plain");
  BOOST_TEST(m.part_count == 1u);
}

BOOST_AUTO_TEST_CASE(date_as_rfc3339_with_offset) {
  BOOST_TEST(parse(crlf("Date: Tue, 1 Jul 2003 10:52:37 +0200\n\nx\n")).date == "2003-07-01T10:52:37+02:00");
  BOOST_TEST(parse(crlf("Date: 15 Jan 2026 11:22:30 -0330\n\nx\n")).date == "2026-01-15T11:22:30-03:30");
  BOOST_TEST(parse(crlf("Date: Thu, 15 Jan 2026 10:22:30 GMT\n\nx\n")).date == "2026-01-15T10:22:30+00:00");
  BOOST_TEST(parse(crlf("Date: next tuesday, maybe\n\nx\n")).date == "");
}

BOOST_AUTO_TEST_CASE(addresses_names_groups_and_lists) {
  const Message m = parse(crlf(
      "From: =?iso-8859-1?q?Andr=E9?= Muster <andre@example.com>, second@example.com\n"
      "Sender: \"List Bot\" <bot@lists.example>\n"
      "Reply-To: a@example.com, \"B, the second\" <b@example.com>\n"
      "To: Team: one@example.com, \"Two\" <two@example.com>;, three@example.com\n"
      "Cc: undisclosed-recipients:;\n"
      "\n"
      "x\n"));
  BOOST_TEST_REQUIRE(m.from.has_value());
  BOOST_TEST(m.from->email == "andre@example.com");
  BOOST_TEST(m.from->name == "André Muster");
  BOOST_TEST_REQUIRE(m.sender.has_value());
  BOOST_TEST(m.sender->email == "bot@lists.example");
  BOOST_TEST(m.sender->name == "List Bot");
  const std::vector<Mailbox> reply_to = {{"a@example.com", ""}, {"b@example.com", "B, the second"}};
  BOOST_TEST(m.reply_to == reply_to, boost::test_tools::per_element());
  const std::vector<Mailbox> to = {{"one@example.com", ""}, {"two@example.com", "Two"}, {"three@example.com", ""}};
  BOOST_TEST(m.to == to, boost::test_tools::per_element());
  BOOST_TEST(m.cc.empty());
}

BOOST_AUTO_TEST_CASE(multiple_from_fields_take_the_first_mailbox) {
  const Message m = parse(crlf("From: First <first@example.com>\nFrom: second@example.com\n\nx\n"));
  BOOST_TEST_REQUIRE(m.from.has_value());
  BOOST_TEST(m.from->email == "first@example.com");
  BOOST_TEST(m.from->name == "First");
}

BOOST_AUTO_TEST_CASE(from_group_only_gives_its_first_member) {
  const Message m = parse(crlf("From: Sales: s1@example.com, s2@example.com;\n\nx\n"));
  BOOST_TEST_REQUIRE(m.from.has_value());
  BOOST_TEST(m.from->email == "s1@example.com");
}

BOOST_AUTO_TEST_CASE(auto_submitted_keyword) {
  const Message replied = parse(crlf("Auto-Submitted: Auto-Replied; owner-email=\"x@example.com\"\n\nx\n"));
  BOOST_TEST(replied.auto_submitted == "auto-replied");
  BOOST_TEST(replied.is_auto_reply);
  const Message generated = parse(crlf("Auto-Submitted: auto-generated\n\nx\n"));
  BOOST_TEST(generated.auto_submitted == "auto-generated");
  BOOST_TEST(generated.is_auto_reply);
  const Message no = parse(crlf("Auto-Submitted: no\n\nx\n"));
  BOOST_TEST(no.auto_submitted == "no");
  BOOST_TEST(!no.is_auto_reply);
}

BOOST_AUTO_TEST_CASE(de_facto_auto_reply_headers) {
  BOOST_TEST(parse(crlf("X-Autoreply: yes\n\nx\n")).is_auto_reply);
  BOOST_TEST(parse(crlf("X-Autorespond: vacation\n\nx\n")).is_auto_reply);
  BOOST_TEST(parse(crlf("Precedence: auto_reply\n\nx\n")).is_auto_reply);
  BOOST_TEST(parse(crlf("Precedence: Bulk\n\nx\n")).is_auto_reply);
  BOOST_TEST(parse(crlf("Precedence: junk\n\nx\n")).is_auto_reply);
  BOOST_TEST(!parse(crlf("Precedence: list\n\nx\n")).is_auto_reply);
  BOOST_TEST(parse(crlf("Precedence: bulk\n\nx\n")).auto_submitted == "no");
}

BOOST_AUTO_TEST_CASE(lf_only_message) {
  const Message m = parse("Subject: lf\nFrom: a@example.com\n\nline one\nline two\n");
  BOOST_TEST(m.subject == "lf");
  BOOST_TEST(m.text == "line one\nline two\n");
}

BOOST_AUTO_TEST_CASE(headerless_text_is_the_body) {
  const Message m = parse(crlf("This is a simple message not having headers.\nSecond line.\n"));
  BOOST_TEST(m.headers.empty());
  BOOST_TEST(m.text == "This is a simple message not having headers.\r\nSecond line.\r\n");
  BOOST_TEST(m.structure == "text/plain");
}

BOOST_AUTO_TEST_CASE(empty_and_garbage_input) {
  const Message empty = parse("");
  BOOST_TEST(empty.headers.empty());
  BOOST_TEST(empty.text == "");
  BOOST_TEST(empty.structure == "");
  BOOST_TEST(empty.auto_submitted == "no");
  const Message binary = parse(std::string("\0\xff\xfe\r\n\r\n\x80", 8));
  BOOST_TEST(binary.auto_submitted == "no");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::mime
