// Tests for smtp/reply_parser: RFC 5321 §4.2 single and multi-line replies, code validation,
// RFC 3463 enhanced codes, the line length and line count bounds (CVE-2020-8794 class, T21)
// EHLO capability parsing, and stored one-line replies split into code, enhanced code and
// text. Every reply is also fed split at every byte.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "mxgate/smtp/reply_parser.h"

using mxgate::smtp::EhloCapabilities;
using mxgate::smtp::parseEhloCapabilities;
using mxgate::smtp::Reply;
using mxgate::smtp::ReplyParser;
using Status = mxgate::smtp::ReplyParser::Status;

namespace mxgate::smtp {
std::ostream& operator<<(std::ostream& os, ReplyParser::Status s) { return os << static_cast<int>(s); }
}  // namespace mxgate::smtp

namespace {

// A client connection: bytes arrive in pieces, the parser consumes what it can.
struct Client {
  ReplyParser parser;
  std::string buffer;
  std::vector<Reply> replies;
  Status status = Status::NeedMore;

  void receive(std::string_view bytes) {
    buffer.append(bytes);
    while (status != Status::Error) {
      size_t consumed = 0;
      Reply reply;
      status = parser.feed(buffer, consumed, reply);
      BOOST_TEST_REQUIRE(consumed <= buffer.size());
      buffer.erase(0, consumed);
      if (status != Status::Complete) {
        break;
      }
      replies.push_back(std::move(reply));
    }
  }
};

bool sameReplies(const std::vector<Reply>& a, const std::vector<Reply>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].code != b[i].code || a[i].enhanced != b[i].enhanced || a[i].lines != b[i].lines) {
      return false;
    }
  }
  return true;
}

// Receives `wire` whole and split at every position; all must agree.
Client receiveAllSplits(std::string_view wire) {
  Client whole;
  whole.receive(wire);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    Client split;
    split.receive(wire.substr(0, cut));
    split.receive(wire.substr(cut));
    BOOST_TEST(split.status == whole.status, "split at " << cut);
    BOOST_TEST(sameReplies(split.replies, whole.replies), "split at " << cut);
    BOOST_TEST(split.buffer == whole.buffer, "split at " << cut);
  }
  return whole;
}

Reply single(std::string_view wire) {
  Client c = receiveAllSplits(wire);
  BOOST_TEST_REQUIRE(c.replies.size() == 1u);
  BOOST_TEST(c.buffer.empty());
  return c.replies[0];
}

Status errorStatus(std::string_view wire) {
  ReplyParser parser;
  size_t consumed = 0;
  Reply reply;
  const Status status = parser.feed(wire, consumed, reply);
  if (status == Status::Error) {
    BOOST_TEST(!parser.error().empty());
  }
  return status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reply_parser)

BOOST_AUTO_TEST_CASE(single_line) {
  const Reply r = single("250 OK\r\n");
  BOOST_TEST(r.code == 250);
  BOOST_TEST(r.lines == std::vector<std::string>{"OK"});
  BOOST_TEST(r.enhanced == "");
  BOOST_TEST(single("354\r\n").lines == std::vector<std::string>{""});
  BOOST_TEST(single("221 \r\n").lines == std::vector<std::string>{""});
}

BOOST_AUTO_TEST_CASE(consumed_stops_after_the_reply) {
  ReplyParser parser;
  size_t consumed = 0;
  Reply reply;
  const std::string wire = "250 OK\r\n220 next\r\n";
  BOOST_TEST(parser.feed(wire, consumed, reply) == Status::Complete);
  BOOST_TEST(consumed == 8u);
  BOOST_TEST(parser.feed(std::string_view(wire).substr(8), consumed, reply) == Status::Complete);
  BOOST_TEST(consumed == 10u);
  BOOST_TEST(reply.code == 220);
  BOOST_TEST(parser.feed("250-partial", consumed, reply) == Status::NeedMore);
  BOOST_TEST(consumed == 11u);
}

BOOST_AUTO_TEST_CASE(multi_line_and_split_everywhere) {
  const std::string ehlo =
      "250-mx.example.test Hello client.example [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
      "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n";
  const Reply r = single(ehlo);
  BOOST_TEST(r.code == 250);
  BOOST_TEST(r.lines.size() == 8u);
  BOOST_TEST(r.lines[0] == "mx.example.test Hello client.example [192.0.2.1]");
  BOOST_TEST(r.lines[7] == "ENHANCEDSTATUSCODES");
  const Client two = receiveAllSplits("250-a\r\n250 b\r\n550 5.7.1 no\r\n421");
  BOOST_TEST(two.replies.size() == 2u);
  BOOST_TEST(two.replies[1].code == 550);
  BOOST_TEST(two.status == Status::NeedMore);
  BOOST_TEST(two.buffer.empty());  // the partial "421" is held by the parser
}

BOOST_AUTO_TEST_CASE(bare_lf_line_ends_are_tolerated) {
  const Reply r = single("250-a\n250 b\n");
  BOOST_TEST(r.lines == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(single("250 a\rb\r\n").lines == std::vector<std::string>{"a\rb"});
}

BOOST_AUTO_TEST_CASE(codes_must_match_between_lines) {
  BOOST_TEST(errorStatus("250-a\r\n251 b\r\n") == Status::Error);
  BOOST_TEST(errorStatus("250-a\r\n550 b\r\n") == Status::Error);
  const Client c = receiveAllSplits("250-a\r\n550 b\r\n");
  BOOST_TEST(c.status == Status::Error);
  BOOST_TEST(c.replies.empty());
}

BOOST_AUTO_TEST_CASE(bad_codes_and_shapes) {
  for (std::string_view wire : {"099 x\r\n", "600 x\r\n", "6xx x\r\n", "2x0 x\r\n", "260 x\r\n", "199 x\r\n",
                                "599 x\r\n", "25\r\n", "250x\r\n", "250_x\r\n", "abc\r\n", "\r\n", " 250 x\r\n", "2500 x\r\n"}) {
    BOOST_TEST(errorStatus(wire) == Status::Error, "wire " << wire);
  }
  for (std::string_view wire : {"200 x\r\n", "559 x\r\n", "554 x\r\n", "421 x\r\n"}) {
    BOOST_TEST(errorStatus(wire) == Status::Complete, "wire " << wire);
  }
}

BOOST_AUTO_TEST_CASE(error_is_sticky) {
  ReplyParser parser;
  size_t consumed = 0;
  Reply reply;
  BOOST_TEST(parser.feed("999 x\r\n", consumed, reply) == Status::Error);
  BOOST_TEST(parser.feed("250 ok\r\n", consumed, reply) == Status::Error);
  BOOST_TEST(consumed == 0u);
}

BOOST_AUTO_TEST_CASE(line_length_limit) {
  const size_t limit = ReplyParser::kMaxLineLength;
  // "250 " + text + CRLF == limit fits; one more octet does not.
  const std::string fits = "250 " + std::string(limit - 6, 'a') + "\r\n";
  BOOST_TEST(single(fits).lines[0].size() == limit - 6);
  BOOST_TEST(errorStatus("250 " + std::string(limit - 5, 'a') + "\r\n") == Status::Error);
  // Without a line end the parser gives up as soon as the line cannot fit.
  BOOST_TEST(errorStatus(std::string(limit - 1, '2')) == Status::NeedMore);
  BOOST_TEST(errorStatus(std::string(limit, '2')) == Status::Error);
  Client flood;
  for (int i = 0; i < 256 && flood.status != Status::Error; ++i) {
    flood.receive(std::string(4096, 'A'));
  }
  BOOST_TEST(flood.status == Status::Error);
  BOOST_TEST(flood.buffer.size() <= 2 * 4096u);
}

BOOST_AUTO_TEST_CASE(line_count_limit) {
  std::string wire;
  for (size_t i = 1; i < ReplyParser::kMaxLines; ++i) {
    wire += "250-x\r\n";
  }
  const Reply r = single(wire + "250 x\r\n");
  BOOST_TEST(r.lines.size() == ReplyParser::kMaxLines);
  BOOST_TEST(errorStatus(wire + "250-x\r\n250 x\r\n") == Status::Error);
}

BOOST_AUTO_TEST_CASE(enhanced_codes) {
  BOOST_TEST(single("250 2.1.0 Ok\r\n").enhanced == "2.1.0");
  BOOST_TEST(single("250 2.1.0 Ok\r\n").lines[0] == "2.1.0 Ok");
  BOOST_TEST(single("550-5.1.1 No such user\r\n550 5.1.1 here\r\n").enhanced == "5.1.1");
  BOOST_TEST(single("421 4.4.2\r\n").enhanced == "4.4.2");
  BOOST_TEST(single("452 4.123.456 x\r\n").enhanced == "4.123.456");
  BOOST_TEST(single("250-first\r\n250 2.0.0 later\r\n").enhanced == "");
  for (std::string_view wire : {"250 5.1.0 class mismatch\r\n", "250 2.1000.0 x\r\n", "250 2.1.0000 x\r\n",
                                "250 2.1.0x\r\n", "250 2..0 x\r\n", "250 2.1. x\r\n", "451 4.3.0.\r\n", "250 2.1\r\n",
                                "250 .2.1.0\r\n", "250  2.1.0\r\n"}) {
    BOOST_TEST(single(wire).enhanced == "", "wire " << wire);
  }
}

BOOST_AUTO_TEST_CASE(text_joins_lines) {
  BOOST_TEST(single("550-a\r\n550-b\r\n550 c\r\n").text() == "a / b / c");
  BOOST_TEST(Reply{}.text() == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ehlo_capabilities)

BOOST_AUTO_TEST_CASE(all_keywords) {
  const EhloCapabilities caps = parseEhloCapabilities(
      single("250-mx.example.test greets you\r\n250-pipelining\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
             "250-SmtpUtf8\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n"));
  BOOST_TEST(caps.pipelining);
  BOOST_TEST(caps.starttls);
  BOOST_TEST(caps.eightbitmime);
  BOOST_TEST(caps.smtputf8);
  BOOST_TEST(caps.chunking);
  BOOST_TEST(caps.enhanced_status_codes);
  BOOST_TEST(caps.size.value() == 10240000u);
}

BOOST_AUTO_TEST_CASE(size_forms_and_greeting_line) {
  BOOST_TEST(parseEhloCapabilities(single("250-x\r\n250 SIZE\r\n")).size.value() == 0u);
  BOOST_TEST(parseEhloCapabilities(single("250-x\r\n250 size 123\r\n")).size.value() == 123u);
  BOOST_TEST(!parseEhloCapabilities(single("250-x\r\n250 SIZE abc\r\n")).size.has_value());
  BOOST_TEST(!parseEhloCapabilities(single("250-x\r\n250 SIZE 99999999999999999999\r\n")).size.has_value());
  BOOST_TEST(parseEhloCapabilities(single("250-x\r\n250 SIZE 18446744073709551615\r\n")).size.value() ==
             18446744073709551615ull);
  const EhloCapabilities none = parseEhloCapabilities(single("250 PIPELINING\r\n"));  // greeting only
  BOOST_TEST(!none.pipelining);
  BOOST_TEST(!none.size.has_value());
  BOOST_TEST(!parseEhloCapabilities(single("502-x\r\n502 STARTTLS\r\n")).starttls);
  BOOST_TEST(!parseEhloCapabilities(single("250-x\r\n250 STARTTLSX\r\n")).starttls);
}

BOOST_AUTO_TEST_CASE(stored_replies_are_split_into_code_enhanced_code_and_text) {
  mxgate::smtp::ReplyLine reply = mxgate::smtp::splitReplyLine("451 4.3.0 Try again later");
  BOOST_TEST(reply.code == 451);
  BOOST_TEST(reply.enhanced == "4.3.0");
  BOOST_TEST(reply.text == "Try again later");
  reply = mxgate::smtp::splitReplyLine("250 Ok: queued");
  BOOST_TEST(reply.code == 250);
  BOOST_TEST(reply.enhanced.empty());
  BOOST_TEST(reply.text == "Ok: queued");
  reply = mxgate::smtp::splitReplyLine("550 4.1.1 mismatched class");
  BOOST_TEST(reply.enhanced.empty());  // the enhanced code's class must match the reply's
  reply = mxgate::smtp::splitReplyLine("webhook HTTP 503: busy");
  BOOST_TEST(reply.code == 0);
  BOOST_TEST(reply.text == "webhook HTTP 503: busy");
}

BOOST_AUTO_TEST_SUITE_END()
