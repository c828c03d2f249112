// Tests for smtp/sasl: AUTH PLAIN (RFC 4616) and LOGIN exchanges, initial responses ("=" for
// an empty one), strict base64, cancellation, line limits and unknown mechanisms (RFC 4954).
#include <boost/test/unit_test.hpp>

#include <string>

#include "mxgate/base/base64.h"
#include "mxgate/smtp/sasl.h"

using namespace mxgate::smtp;
using mxgate::smtp::sasl::Exchange;
using mxgate::smtp::sasl::Step;

namespace mxgate::smtp {
std::ostream& operator<<(std::ostream& os, ReplyId id) { return os << renderReply(id, "{}"); }
}  // namespace mxgate::smtp
namespace mxgate::smtp::sasl {
std::ostream& operator<<(std::ostream& os, Step::Kind kind) { return os << static_cast<int>(kind); }
}  // namespace mxgate::smtp::sasl

namespace {

std::string b64(std::string_view bytes) { return mxgate::base64::encode(bytes); }

std::string plain(std::string_view authzid, std::string_view user, std::string_view secret) {
  return b64(std::string(authzid) + '\0' + std::string(user) + '\0' + std::string(secret));
}

void expectFail(const Step& step, ReplyId reply) {
  BOOST_TEST(step.kind == Step::Kind::Fail);
  BOOST_TEST(step.reply == reply);
}

void expectVerify(const Step& step, std::string_view user, std::string_view secret) {
  BOOST_TEST_REQUIRE(step.kind == Step::Kind::Verify);
  BOOST_TEST(step.credentials.username == user);
  BOOST_TEST(step.credentials.secret == secret);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_exchange)

BOOST_AUTO_TEST_CASE(plain_with_initial_response) {
  Exchange exchange;
  expectVerify(exchange.start("PLAIN " + plain("", "acme.crm", "s3cret")), "acme.crm", "s3cret");
  BOOST_TEST(!exchange.awaitingResponse());
  // The mechanism name is case-insensitive (RFC 4422 §3.1 names are upper case; clients vary).
  expectVerify(Exchange().start("plain " + plain("", "u", "p")), "u", "p");
}

BOOST_AUTO_TEST_CASE(plain_authzid_must_be_empty_or_the_user) {
  expectVerify(Exchange().start("PLAIN " + plain("acme.crm", "acme.crm", "pw")), "acme.crm", "pw");
  Step other = Exchange().start("PLAIN " + plain("other.user", "acme.crm", "pw"));
  expectFail(other, ReplyId::AuthFailed);
  BOOST_TEST(other.credentials.username == "acme.crm");  // counted against this user
  BOOST_TEST(other.credentials.secret.empty());
}

BOOST_AUTO_TEST_CASE(plain_after_an_empty_challenge) {
  Exchange exchange;
  Step step = exchange.start("PLAIN");
  BOOST_TEST(step.kind == Step::Kind::Challenge);
  BOOST_TEST(step.reply == ReplyId::AuthChallenge);
  BOOST_TEST(step.challenge.empty());
  BOOST_TEST(renderReply(step.reply, step.challenge) == "334 \r\n");
  BOOST_TEST(exchange.awaitingResponse());
  expectVerify(exchange.respond(plain("", "u", "p")), "u", "p");
  BOOST_TEST(!exchange.awaitingResponse());
}

BOOST_AUTO_TEST_CASE(malformed_plain_messages) {
  for (const std::string& message :
       {b64("no nul at all"), b64(std::string("one\0nul", 7)), b64(std::string("\0\0", 2)),
        b64(std::string("\0user\0", 6)), b64(std::string("\0\0secret", 8)),
        b64(std::string("a\0b\0c\0d", 7)), b64(std::string("\0us\x01r\0pw", 8)),
        b64(std::string("\0user\0\xff\xfe", 8)), b64(std::string("\0") + std::string(256, 'u') + '\0' + "pw")}) {
    expectFail(Exchange().start("PLAIN " + message), ReplyId::AuthBadResponse);
  }
  // "=" is an empty initial response, which is not a PLAIN message.
  expectFail(Exchange().start("PLAIN ="), ReplyId::AuthBadResponse);
  // 255 octets each are accepted (RFC 4616 §2).
  expectVerify(Exchange().start("PLAIN " + plain("", std::string(255, 'u'), std::string(255, 'p'))),
               std::string(255, 'u'), std::string(255, 'p'));
}

BOOST_AUTO_TEST_CASE(login_two_steps) {
  Exchange exchange;
  Step step = exchange.start("LOGIN");
  BOOST_TEST(step.kind == Step::Kind::Challenge);
  BOOST_TEST(step.challenge == b64("Username:"));
  step = exchange.respond(b64("acme.crm"));
  BOOST_TEST(step.kind == Step::Kind::Challenge);
  BOOST_TEST(step.challenge == b64("Password:"));
  expectVerify(exchange.respond(b64("s3cret")), "acme.crm", "s3cret");
  BOOST_TEST(!exchange.awaitingResponse());
}

BOOST_AUTO_TEST_CASE(login_with_the_user_name_as_initial_response) {
  Exchange exchange;
  Step step = exchange.start("LOGIN " + b64("acme.crm"));
  BOOST_TEST(step.kind == Step::Kind::Challenge);
  BOOST_TEST(step.challenge == b64("Password:"));
  expectVerify(exchange.respond(b64("pw")), "acme.crm", "pw");
}

BOOST_AUTO_TEST_CASE(login_refuses_empty_or_bad_fields) {
  expectFail(Exchange().start("LOGIN ="), ReplyId::AuthBadResponse);
  Exchange exchange;
  exchange.start("LOGIN");
  expectFail(exchange.respond(""), ReplyId::AuthBadResponse);  // empty user name
  BOOST_TEST(!exchange.awaitingResponse());
  Exchange second;
  second.start("LOGIN");
  second.respond(b64("user"));
  expectFail(second.respond(""), ReplyId::AuthBadResponse);  // empty password
  Exchange third;
  third.start("LOGIN");
  expectFail(third.respond(b64("us\r\ner")), ReplyId::AuthBadResponse);
}

BOOST_AUTO_TEST_CASE(star_cancels) {
  Exchange plain_exchange;
  plain_exchange.start("PLAIN");
  expectFail(plain_exchange.respond("*"), ReplyId::AuthCancelled);
  BOOST_TEST(!plain_exchange.awaitingResponse());
  BOOST_TEST(renderReply(ReplyId::AuthCancelled).starts_with("501 5.0.0 "));
  Exchange login;
  login.start("LOGIN");
  login.respond(b64("user"));
  expectFail(login.respond("*"), ReplyId::AuthCancelled);
}

BOOST_AUTO_TEST_CASE(strict_base64) {
  std::string out;
  BOOST_TEST(sasl::decodeStrictBase64("", out));
  BOOST_TEST(out.empty());
  BOOST_TEST(sasl::decodeStrictBase64("dXNlcg==", out));
  BOOST_TEST(out == "user");
  for (std::string_view bad : {"dXNlcg", "dXNlcg=", "dXNl cg==", "dXNlcg==\r", "dXNlch==", "d===", "====",
                               "dXNl-g==", "dXNlcg==dXNl", "*"}) {
    BOOST_TEST(!sasl::decodeStrictBase64(bad, out), bad);
  }
  Exchange exchange;
  exchange.start("PLAIN");
  expectFail(exchange.respond("AGFsaWNlAHNlY3JldA"), ReplyId::AuthBadResponse);  // unpadded
  expectFail(Exchange().start("PLAIN AGFsaWNlAHNlY3JldA=!"), ReplyId::AuthBadResponse);
}

BOOST_AUTO_TEST_CASE(command_syntax_and_mechanisms) {
  expectFail(Exchange().start(""), ReplyId::AuthSyntax);
  expectFail(Exchange().start(" PLAIN"), ReplyId::AuthSyntax);
  expectFail(Exchange().start("PLAIN "), ReplyId::AuthSyntax);
  expectFail(Exchange().start("PLAIN a b"), ReplyId::AuthSyntax);
  expectFail(Exchange().start("CRAM-MD5"), ReplyId::AuthMechanismUnknown);
  expectFail(Exchange().start("XOAUTH2 " + b64("x")), ReplyId::AuthMechanismUnknown);
  BOOST_TEST(renderReply(ReplyId::AuthMechanismUnknown).starts_with("504 5.5.4 "));
  // No challenge outstanding: a response is out of place.
  expectFail(Exchange().respond(b64("x")), ReplyId::AuthSyntax);
}

BOOST_AUTO_TEST_CASE(line_length_limit) {
  // RFC 4954 §4: lines of the exchange up to 12288 octets with the CRLF.
  Exchange exchange;
  exchange.start("PLAIN");
  expectFail(exchange.respond(std::string(sasl::kMaxLineLength - 1, 'A')), ReplyId::AuthLineTooLong);
  Exchange ok;
  ok.start("PLAIN");
  // Exactly at the limit the line is read (and then refused as a malformed message).
  expectFail(ok.respond(std::string(sasl::kMaxLineLength - 2 - 2, 'A') + "=="), ReplyId::AuthBadResponse);
  expectFail(Exchange().start("PLAIN " + std::string(sasl::kMaxLineLength, 'A')), ReplyId::AuthLineTooLong);
  BOOST_TEST(renderReply(ReplyId::AuthLineTooLong).starts_with("500 5.5.6 "));
}

BOOST_AUTO_TEST_CASE(a_new_exchange_forgets_the_last) {
  Exchange exchange;
  exchange.start("LOGIN");
  exchange.respond(b64("first"));
  Step step = exchange.start("PLAIN " + plain("", "second", "pw"));
  expectVerify(step, "second", "pw");
}

BOOST_AUTO_TEST_CASE(reply_codes) {
  BOOST_TEST(renderReply(ReplyId::AuthSucceeded) == "235 2.7.0 Authentication successful\r\n");
  BOOST_TEST(renderReply(ReplyId::AuthFailed).starts_with("535 5.7.8 "));
  BOOST_TEST(renderReply(ReplyId::AuthLocked).starts_with("454 4.7.0 "));
  BOOST_TEST(renderReply(ReplyId::AuthNeedsEncryption).starts_with("538 5.7.11 "));
  BOOST_TEST(renderReply(ReplyId::AlreadyAuthenticated).starts_with("503 5.5.1 "));
}

BOOST_AUTO_TEST_SUITE_END()
