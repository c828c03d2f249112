// Tests for smtp/command: line framing, verbs, MAIL/RCPT paths and parameters, HELO and BDAT
// arguments. Command lines of the smtp-abuse corpus (shared/corpora/smtp-abuse) are written
// here literally, each with its case id; OpenSMTPD regress test.mailfrom paths and nmap
// smtp-open-relay forms come from research/reliability.md §3, T10 and T20.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "mxgate/smtp/command.h"

using namespace mxgate::smtp;

namespace mxgate::smtp {
std::ostream& operator<<(std::ostream& os, ParseError err) { return os << static_cast<int>(err); }
std::ostream& operator<<(std::ostream& os, Verb verb) { return os << static_cast<int>(verb); }
std::ostream& operator<<(std::ostream& os, LineStatus status) { return os << static_cast<int>(status); }
std::ostream& operator<<(std::ostream& os, BodyType body) { return os << static_cast<int>(body); }
}  // namespace mxgate::smtp

namespace {

const std::string kUtf8Local = "\xe7\x94\xa8\xe6\x88\xb7";         // 用户
const std::string kUtf8Domain = "\xe4\xbe\x8b\xe5\xad\x90.example";  // 例子.example

ParseError mailError(std::string_view argument, bool smtputf8_offered = true) {
  MailFrom out;
  return parseMailFrom(argument, smtputf8_offered, out);
}

MailFrom mailOk(std::string_view argument, bool smtputf8_offered = true) {
  MailFrom out;
  BOOST_TEST_REQUIRE(parseMailFrom(argument, smtputf8_offered, out) == ParseError::None, "MAIL " << argument);
  return out;
}

ParseError rcptError(std::string_view argument, bool smtputf8 = false) {
  RcptTo out;
  return parseRcptTo(argument, smtputf8, out);
}

RcptTo rcptOk(std::string_view argument, bool smtputf8 = false) {
  RcptTo out;
  BOOST_TEST_REQUIRE(parseRcptTo(argument, smtputf8, out) == ParseError::None, "RCPT " << argument);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(crlf_line) {
  const LineResult r = nextCommandLine("EHLO x\r\nQUIT\r\n", 512, false);
  BOOST_TEST(r.status == LineStatus::Complete);
  BOOST_TEST(r.line == "EHLO x");
  BOOST_TEST(r.consumed == 8u);
  const LineResult empty = nextCommandLine("\r\n", 512, false);
  BOOST_TEST(empty.status == LineStatus::Complete);
  BOOST_TEST(empty.line == "");
  BOOST_TEST(empty.consumed == 2u);
}

BOOST_AUTO_TEST_CASE(incomplete_line_needs_more) {
  for (std::string_view partial : {"", "EHLO x", "EHLO x\r", "\r"}) {
    const LineResult r = nextCommandLine(partial, 512, true);
    BOOST_TEST(r.status == LineStatus::NeedMore);
    BOOST_TEST(r.consumed == 0u);
  }
}

BOOST_AUTO_TEST_CASE(bare_lf_policies) {
  const LineResult rejected = nextCommandLine("EHLO x\nQUIT\r\n", 512, false);
  BOOST_TEST(rejected.status == LineStatus::BareNewline);
  BOOST_TEST(rejected.consumed == 7u);
  const LineResult accepted = nextCommandLine("EHLO x\nQUIT\r\n", 512, true);
  BOOST_TEST(accepted.status == LineStatus::Complete);
  BOOST_TEST(accepted.line == "EHLO x");
  BOOST_TEST(accepted.consumed == 7u);
}

BOOST_AUTO_TEST_CASE(bare_cr_is_a_byte_of_the_line) {
  const LineResult r = nextCommandLine("RSET\rMAIL FROM:<a@b>\r\n", 512, false);
  BOOST_TEST(r.status == LineStatus::Complete);
  BOOST_TEST(r.line == "RSET\rMAIL FROM:<a@b>");
  BOOST_TEST(r.consumed == 22u);
  BOOST_TEST(parseCommand(r.line).verb == Verb::Invalid);
}

BOOST_AUTO_TEST_CASE(length_limit_counts_the_crlf) {
  const std::string fits = std::string(14, 'x') + "\r\n";  // 16 octets
  const LineResult ok = nextCommandLine(fits, 16, false);
  BOOST_TEST(ok.status == LineStatus::Complete);
  BOOST_TEST(ok.consumed == 16u);

  const std::string over = std::string(15, 'x') + "\r\nNOOP\r\n";  // 17 octets, then more
  const LineResult too_long = nextCommandLine(over, 16, false);
  BOOST_TEST(too_long.status == LineStatus::TooLong);
  BOOST_TEST(too_long.line_end_found);
  BOOST_TEST(too_long.consumed == 17u);

  const std::string bare = std::string(16, 'x') + "\n";
  const LineResult bare_long = nextCommandLine(bare, 16, true);
  BOOST_TEST(bare_long.status == LineStatus::TooLong);
  BOOST_TEST(bare_long.consumed == 17u);

  // Without an LF: 15 octets may still become a 16-octet line, 16 cannot.
  BOOST_TEST(nextCommandLine(std::string(15, 'x'), 16, false).status == LineStatus::NeedMore);
  const LineResult no_lf = nextCommandLine(std::string(16, 'x'), 16, false);
  BOOST_TEST(no_lf.status == LineStatus::TooLong);
  BOOST_TEST(!no_lf.line_end_found);
  BOOST_TEST(no_lf.consumed == 16u);
  const LineResult far_lf = nextCommandLine(std::string(100, 'x') + "\r\n", 16, false);
  BOOST_TEST(far_lf.status == LineStatus::TooLong);
  BOOST_TEST(far_lf.line_end_found);
  BOOST_TEST(far_lf.consumed == 102u);
}

// command-line-too-long: "MAIL FROM:<" + 600 x 'a' + "@example.org>\r\n".
BOOST_AUTO_TEST_CASE(abuse_command_line_too_long) {
  const std::string line = "MAIL FROM:<" + std::string(600, 'a') + "@example.org>\r\n";
  const LineResult r = nextCommandLine(line, 512, false);
  BOOST_TEST(r.status == LineStatus::TooLong);
  BOOST_TEST(r.line_end_found);
  BOOST_TEST(r.consumed == line.size());
  // Under a raised limit the line frames, and the path is too long (501 5.5.2).
  const LineResult raised = nextCommandLine(line, 2048, false);
  BOOST_TEST_REQUIRE(raised.status == LineStatus::Complete);
  const Command cmd = parseCommand(raised.line);
  BOOST_TEST(cmd.verb == Verb::Mail);
  BOOST_TEST(mailError(cmd.argument) == ParseError::PathTooLong);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(command_verbs)

BOOST_AUTO_TEST_CASE(known_verbs_case_insensitive) {
  const std::vector<std::pair<std::string_view, Verb>> cases = {
      {"HELO x", Verb::Helo}, {"ehlo x", Verb::Ehlo},         {"Mail FROM:<>", Verb::Mail},
      {"rcpt TO:<a@b>", Verb::Rcpt}, {"DATA", Verb::Data},    {"bdat 10 LAST", Verb::Bdat},
      {"RSET", Verb::Rset}, {"noop", Verb::Noop},             {"QUIT", Verb::Quit},
      {"HELP", Verb::Help}, {"VRFY x", Verb::Vrfy},           {"EXPN x", Verb::Expn},
      {"StartTLS", Verb::StartTls}, {"AUTH PLAIN", Verb::Auth},
  };
  for (const auto& [line, verb] : cases) {
    BOOST_TEST(parseCommand(line).verb == verb, "line " << line);
  }
}

BOOST_AUTO_TEST_CASE(name_and_argument_split) {
  const Command mail = parseCommand("MAIL FROM:<a@b.test> SIZE=10");
  BOOST_TEST(mail.name == "MAIL");
  BOOST_TEST(mail.argument == "FROM:<a@b.test> SIZE=10");
  const Command spaced = parseCommand("NOOP   hello world  ");
  BOOST_TEST(spaced.name == "NOOP");
  BOOST_TEST(spaced.argument == "hello world");
  const Command bare = parseCommand("DATA");
  BOOST_TEST(bare.name == "DATA");
  BOOST_TEST(bare.argument == "");
  BOOST_TEST(parseCommand("DATA   ").argument == "");
  BOOST_TEST(parseCommand("EHLO a\tb").argument == "a\tb");
}

BOOST_AUTO_TEST_CASE(unknown_words) {
  for (std::string_view line : {"XYZZY", "MAILX FROM:<a@b>", "X-FOO bar", "EHLO1 x", "GET", "Host: x",
                                "EHLO\tx", ""}) {
    BOOST_TEST(parseCommand(line).verb == Verb::Unknown, "line " << line);
  }
}

// http-on-smtp-port: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", and the other forbidden commands.
BOOST_AUTO_TEST_CASE(abuse_http_on_smtp_port) {
  for (std::string_view line : {"GET / HTTP/1.1", "POST /submit HTTP/1.1", "HEAD / HTTP/1.0",
                                "PUT /x HTTP/1.1", "CONNECT mx.example.test:25 HTTP/1.1", "get / http/1.1"}) {
    BOOST_TEST(parseCommand(line).verb == Verb::Forbidden, "line " << line);
  }
  for (std::string_view line : {" EHLO x", "1234", "<html>", "\tHELO x", "\xc3\xa9HLO x"}) {
    BOOST_TEST(parseCommand(line).verb == Verb::Forbidden, "line " << line);
  }
}

// nul-in-command: "MAIL FROM:<a@example.org>\x00 SIZE=1\r\n" must not be cut at the NUL.
BOOST_AUTO_TEST_CASE(abuse_nul_in_command) {
  const std::string wire("MAIL FROM:<a@example.org>\0 SIZE=1\r\n", 35);
  const LineResult r = nextCommandLine(wire, 512, false);
  BOOST_TEST_REQUIRE(r.status == LineStatus::Complete);
  BOOST_TEST(r.line.size() == 33u);
  const Command cmd = parseCommand(r.line);
  BOOST_TEST(cmd.verb == Verb::Invalid);
  BOOST_TEST(cmd.argument == "");
  BOOST_TEST(parseCommand(std::string_view("\0EHLO x", 7)).verb == Verb::Invalid);
}

BOOST_AUTO_TEST_CASE(control_bytes_and_bad_utf8_are_invalid) {
  for (std::string_view line : {"EHLO \x01", "NOOP \x7f", "RSET\r", "NOOP \x1b[31m", "EHLO \xc0\xaf",
                                "EHLO \xed\xa0\x80", "EHLO x\xe4\xbe", "\xff"}) {
    BOOST_TEST(parseCommand(line).verb == Verb::Invalid, "line " << line);
  }
  BOOST_TEST(parseCommand("EHLO " + kUtf8Domain).verb == Verb::Ehlo);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mail_from)

BOOST_AUTO_TEST_CASE(plain_sender) {
  const MailFrom m = mailOk("FROM:<a@Example.ORG>");
  BOOST_TEST(m.sender.local == "a");
  BOOST_TEST(m.sender.domain == "example.org");
  BOOST_TEST(!m.size.has_value());
  BOOST_TEST(m.body == BodyType::Unspecified);
  BOOST_TEST(!m.smtputf8);
  BOOST_TEST(!m.auth.has_value());
  BOOST_TEST(mailOk("from:<a@b.test>").sender.str() == "a@b.test");
  BOOST_TEST(mailOk("FROM: <a@b.test>").sender.str() == "a@b.test");
}

BOOST_AUTO_TEST_CASE(shape_errors_are_syntax) {
  for (std::string_view arg : {"FROM:a@b.test", "FROM:  <a@b.test>", "FROM <a@b.test>", "FROM:<a@b.test",
                               "FROM:<a@b.test>x", "FROM:<a@b.test>SIZE=1", "TO:<a@b.test>", "", "FROM:",
                               "FROM:<\"a>", "FROM:\t<a@b.test>"}) {
    BOOST_TEST(mailError(arg) == ParseError::Syntax, "argument " << arg);
  }
}

// null-sender: "MAIL FROM:<>" then "RCPT TO:<{RCPT}>" are both accepted.
BOOST_AUTO_TEST_CASE(abuse_null_sender) {
  const MailFrom m = mailOk("FROM:<>");
  BOOST_TEST(m.sender.isNull());
  BOOST_TEST(m.sender.str() == "");
  BOOST_TEST(mailOk("FROM:<> SIZE=100").size.value() == 100u);
  BOOST_TEST(rcptOk("TO:<rcpt@tenant.example>").recipient.str() == "rcpt@tenant.example");
}

// OpenSMTPD regress/smtp/test.mailfrom paths.
BOOST_AUTO_TEST_CASE(opensmtpd_paths) {
  for (std::string_view arg : {"FROM:<@>", "FROM:<a>", "FROM:<a@>", "FROM:<@a>", "FROM:<whatever:a@a>",
                               "FROM:< @a>", "FROM:< a@b.test>", "FROM:<a@b.test >", "FROM:<a @b.test>",
                               "FROM:<@x,:a@b.test>", "FROM:<@x,@y:>", "FROM:<@-x:a@b.test>", "FROM:<@x;a@b.test>",
                               "FROM:<@x:@y:a@b.test>", "FROM:<@x,y:a@b.test>", "FROM:<@[1.2.3]:a@b.test>"}) {
    BOOST_TEST(mailError(arg) == ParseError::PathSyntax, "argument " << arg);
  }
  BOOST_TEST(mailOk("FROM:<@x,@y:a@b.test>").sender.str() == "a@b.test");
  BOOST_TEST(mailOk("FROM:<@x.test:a@b.test>").sender.str() == "a@b.test");
  BOOST_TEST(mailOk("FROM:<@[192.0.2.1],@[IPv6:::1]:a@b.test>").sender.str() == "a@b.test");
}

BOOST_AUTO_TEST_CASE(quoted_local_parts_and_literals) {
  BOOST_TEST(mailOk("FROM:<\"a\\\"b\\\\c\"@x.test>").sender.local == "\"a\\\"b\\\\c\"");
  BOOST_TEST(mailOk("FROM:<\"a>b\"@x.test>").sender.local == "\"a>b\"");
  const MailFrom spaced = mailOk("FROM:<\"a b\"@x.test> SIZE=5");
  BOOST_TEST(spaced.sender.local == "\"a b\"");
  BOOST_TEST(spaced.size.value() == 5u);
  BOOST_TEST(mailOk("FROM:<a@[192.0.2.1]>").sender.domain == "[192.0.2.1]");
  BOOST_TEST(mailOk("FROM:<a@[IPv6:2001:db8::1]>").sender.domain == "[ipv6:2001:db8::1]");
  BOOST_TEST(mailError("FROM:<a@[IPv6:2001:db8::x]>") == ParseError::PathSyntax);
}

BOOST_AUTO_TEST_CASE(length_limits) {
  BOOST_TEST(mailOk("FROM:<" + std::string(64, 'a') + "@b.test>").sender.local.size() == 64u);
  BOOST_TEST(mailError("FROM:<" + std::string(65, 'a') + "@b.test>") == ParseError::LocalPartTooLong);
  // "<" + 64 + "@" + 189 + ">" is 256 octets; one more is too long.
  const std::string domain189 = std::string(63, 'd') + "." + std::string(63, 'e') + "." + std::string(61, 'f');
  BOOST_TEST_REQUIRE(domain189.size() == 189u);
  BOOST_TEST(mailOk("FROM:<" + std::string(64, 'a') + "@" + domain189 + ">").sender.domain == domain189);
  BOOST_TEST(mailError("FROM:<" + std::string(64, 'a') + "@" + domain189 + "f>") == ParseError::PathTooLong);
  // A source route counts towards the path.
  BOOST_TEST(mailError("FROM:<@" + std::string(200, 'r') + ":a@" + std::string(60, 'b') + ">") ==
             ParseError::PathTooLong);
}

// size-too-big: "MAIL FROM:<a@example.org> SIZE=99999999999" parses; the session compares.
BOOST_AUTO_TEST_CASE(abuse_size_too_big_and_size_values) {
  BOOST_TEST(mailOk("FROM:<a@example.org> SIZE=99999999999").size.value() == 99999999999ull);
  BOOST_TEST(mailOk("FROM:<a@example.org> size=0").size.value() == 0u);
  BOOST_TEST(mailOk("FROM:<a@example.org> SIZE=9999999999999999999").size.value() == 9999999999999999999ull);
  for (std::string_view arg : {"FROM:<a@b.test> SIZE=99999999999999999999", "FROM:<a@b.test> SIZE=abc",
                               "FROM:<a@b.test> SIZE=", "FROM:<a@b.test> SIZE", "FROM:<a@b.test> SIZE=-1",
                               "FROM:<a@b.test> SIZE=1k", "FROM:<a@b.test> SIZE=+1"}) {
    BOOST_TEST(mailError(arg) == ParseError::BadParameterValue, "argument " << arg);
  }
}

// body-param-invalid: "MAIL FROM:<a@example.org> BODY=9BIT".
BOOST_AUTO_TEST_CASE(abuse_body_param) {
  BOOST_TEST(mailError("FROM:<a@example.org> BODY=9BIT") == ParseError::BadParameterValue);
  BOOST_TEST(mailError("FROM:<a@example.org> BODY=BINARYMIME") == ParseError::BadParameterValue);
  BOOST_TEST(mailError("FROM:<a@example.org> BODY") == ParseError::BadParameterValue);
  BOOST_TEST(mailOk("FROM:<a@example.org> BODY=8BITMIME").body == BodyType::EightBitMime);
  BOOST_TEST(mailOk("FROM:<a@example.org> body=8bitmime").body == BodyType::EightBitMime);
  BOOST_TEST(mailOk("FROM:<a@example.org> BODY=7BIT").body == BodyType::SevenBit);
}

// smtputf8-declared and smtputf8-missing-param.
BOOST_AUTO_TEST_CASE(abuse_smtputf8) {
  const std::string declared = "FROM:<" + kUtf8Local + "@" + kUtf8Domain + "> SMTPUTF8";
  const MailFrom m = mailOk(declared, true);
  BOOST_TEST(m.smtputf8);
  BOOST_TEST(m.sender.local == kUtf8Local);
  BOOST_TEST(m.sender.domain == kUtf8Domain);
  BOOST_TEST(m.sender.isUtf8());
  BOOST_TEST(mailError(declared, false) == ParseError::UnknownParameter);  // not advertised
  BOOST_TEST(mailError("FROM:<" + kUtf8Local + "@example.org>", true) == ParseError::Utf8NotAllowed);
  BOOST_TEST(mailOk("FROM:<a@example.org> smtputf8", true).smtputf8);
  BOOST_TEST(mailError("FROM:<a@example.org> SMTPUTF8=yes", true) == ParseError::BadParameterValue);
  BOOST_TEST(mailError("FROM:<a\xc0\xaf@example.org> SMTPUTF8", true) == ParseError::InvalidUtf8);
}

BOOST_AUTO_TEST_CASE(parameters_parsed_before_the_address) {
  BOOST_TEST(mailError("FROM:<bad> FOO=1") == ParseError::UnknownParameter);
  BOOST_TEST(mailError("FROM:<" + kUtf8Local + "@example.org> SMTPUTF8", false) == ParseError::UnknownParameter);
  BOOST_TEST(mailError("FROM:<bad> SIZE=x") == ParseError::BadParameterValue);
}

BOOST_AUTO_TEST_CASE(parameter_lists) {
  const MailFrom m = mailOk("FROM:<a@b.test>   SIZE=1000    BODY=8BITMIME SMTPUTF8 AUTH=<>  ");
  BOOST_TEST(m.size.value() == 1000u);
  BOOST_TEST(m.body == BodyType::EightBitMime);
  BOOST_TEST(m.smtputf8);
  BOOST_TEST(m.auth.value() == "<>");
  for (std::string_view arg : {"FROM:<a@b.test> SIZE=1 SIZE=2", "FROM:<a@b.test> BODY=7BIT body=8BITMIME",
                               "FROM:<a@b.test> SMTPUTF8 smtputf8", "FROM:<a@b.test> AUTH=<> AUTH=<>"}) {
    BOOST_TEST(mailError(arg) == ParseError::DuplicateParameter, "argument " << arg);
  }
  for (std::string_view arg : {"FROM:<a@b.test> FOO=bar", "FROM:<a@b.test> RET=FULL", "FROM:<a@b.test> ENVID=x",
                               "FROM:<a@b.test> X-1", "FROM:<a@b.test> SIZE=1 FOO"}) {
    BOOST_TEST(mailError(arg) == ParseError::UnknownParameter, "argument " << arg);
  }
  for (std::string_view arg : {"FROM:<a@b.test> =x", "FROM:<a@b.test> -A=1", "FROM:<a@b.test> A_B=1",
                               "FROM:<a@b.test> SIZE\t=1", "FROM:<a@b.test> \xc3\xa9=1"}) {
    BOOST_TEST(mailError(arg) == ParseError::Syntax, "argument " << arg);
  }
}

// AUTH= is xtext (RFC 3461 §4); decoded control characters are refused (CVE-2020-28021, T11).
BOOST_AUTO_TEST_CASE(auth_parameter_xtext) {
  BOOST_TEST(mailOk("FROM:<a@b.test> AUTH=a+2Bb@x.test").auth.value() == "a+b@x.test");
  BOOST_TEST(mailOk("FROM:<a@b.test> AUTH=+3C+3E").auth.value() == "<>");
  BOOST_TEST(mailOk("FROM:<a@b.test> AUTH=+C3+A9@x.test").auth.value() == "\xc3\xa9@x.test");
  for (std::string_view arg : {"FROM:<a@b.test> AUTH=x+0Ainjected", "FROM:<a@b.test> AUTH=x+0D",
                               "FROM:<a@b.test> AUTH=x+00", "FROM:<a@b.test> AUTH=x+09", "FROM:<a@b.test> AUTH=x+7F",
                               "FROM:<a@b.test> AUTH=a+2", "FROM:<a@b.test> AUTH=a+", "FROM:<a@b.test> AUTH=a+2b",
                               "FROM:<a@b.test> AUTH=a+G0", "FROM:<a@b.test> AUTH=a=b", "FROM:<a@b.test> AUTH=",
                               "FROM:<a@b.test> AUTH", "FROM:<a@b.test> AUTH=+C0+AF", "FROM:<a@b.test> AUTH=\xc3\xa9"}) {
    BOOST_TEST(mailError(arg) == ParseError::BadParameterValue, "argument " << arg);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rcpt_to)

// postmaster-no-domain: "RCPT TO:<Postmaster>" accepted case-insensitively without a domain.
BOOST_AUTO_TEST_CASE(abuse_postmaster_no_domain) {
  for (std::string_view arg : {"TO:<Postmaster>", "TO:<POSTMASTER>", "to:<postmaster>", "TO: <PostMaster>"}) {
    const RcptTo r = rcptOk(arg);
    BOOST_TEST(r.postmaster, "argument " << arg);
    BOOST_TEST(r.recipient.isNull());
  }
  const RcptTo with_domain = rcptOk("TO:<Postmaster@Tenant.Example>");
  BOOST_TEST(!with_domain.postmaster);
  BOOST_TEST(with_domain.recipient.str() == "Postmaster@tenant.example");
  BOOST_TEST(rcptError("TO:<postmasterx>") == ParseError::PathSyntax);
}

BOOST_AUTO_TEST_CASE(rcpt_errors) {
  BOOST_TEST(rcptError("TO:<>") == ParseError::PathSyntax);
  BOOST_TEST(rcptError("TO:<a@b.test> NOTIFY=NEVER") == ParseError::UnknownParameter);
  BOOST_TEST(rcptError("TO:<a@b.test> SIZE=1") == ParseError::UnknownParameter);
  BOOST_TEST(rcptOk("TO:<a@b.test>   ").recipient.str() == "a@b.test");
  BOOST_TEST(rcptError("FROM:<a@b.test>") == ParseError::Syntax);
  BOOST_TEST(rcptError("TO:a@b.test") == ParseError::Syntax);
  BOOST_TEST(rcptError("TO:<a@b@c.test>") == ParseError::PathSyntax);
}

// local-part-too-long: "RCPT TO:<{65 x 'a'}@example.org>".
BOOST_AUTO_TEST_CASE(abuse_local_part_too_long) {
  const std::string line = "RCPT TO:<" + std::string(65, 'a') + "@example.org>";
  const Command cmd = parseCommand(line);
  BOOST_TEST_REQUIRE(cmd.verb == Verb::Rcpt);
  BOOST_TEST(rcptError(cmd.argument) == ParseError::LocalPartTooLong);
  BOOST_TEST(rcptOk("TO:<" + std::string(64, 'a') + "@example.org>").recipient.local.size() == 64u);
}

BOOST_AUTO_TEST_CASE(utf8_recipient_needs_smtputf8_transaction) {
  const std::string arg = "TO:<" + kUtf8Local + "@" + kUtf8Domain + ">";
  BOOST_TEST(rcptError(arg, false) == ParseError::Utf8NotAllowed);
  BOOST_TEST(rcptOk(arg, true).recipient.local == kUtf8Local);
}

// nmap smtp-open-relay forms (hosted.test is ours, relay.example is not): every accepted form
// routes on its last domain, so none can name relay.example while looking like hosted.test.
BOOST_AUTO_TEST_CASE(open_relay_forms) {
  const std::vector<std::pair<std::string_view, std::string_view>> accepted = {
      {"TO:<relaytest%relay.example@hosted.test>", "hosted.test"},
      {"TO:<relaytest%relay.example@[192.0.2.1]>", "[192.0.2.1]"},
      {"TO:<\"relaytest@relay.example\"@hosted.test>", "hosted.test"},
      {"TO:<\"relaytest%relay.example\"@hosted.test>", "hosted.test"},
      {"TO:<relay.example!relaytest@hosted.test>", "hosted.test"},
      {"TO:<relay.example!relaytest@[192.0.2.1]>", "[192.0.2.1]"},
      {"TO:<@hosted.test:relaytest@relay.example>", "relay.example"},  // route dropped
      {"TO:<@[192.0.2.1]:relaytest@relay.example>", "relay.example"},
      {"TO:<relaytest@RELAY.EXAMPLE>", "relay.example"},
  };
  for (const auto& [arg, domain] : accepted) {
    BOOST_TEST(rcptOk(arg).recipient.domain == domain, "argument " << arg);
  }
  for (std::string_view arg : {"TO:<\"relaytest@relay.example\">", "TO:<relay.example!relaytest>",
                               "TO:<relaytest@relay.example@hosted.test>", "TO:<relaytest@relay.example@[192.0.2.1]>",
                               "TO:<relaytest@hosted.test.>", "TO:<relaytest%relay.example>"}) {
    BOOST_TEST(rcptError(arg) == ParseError::PathSyntax, "argument " << arg);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(other_arguments)

BOOST_AUTO_TEST_CASE(helo_argument) {
  BOOST_TEST(isValidHeloArgument("mx.example.test"));
  BOOST_TEST(isValidHeloArgument("[192.0.2.1]"));
  BOOST_TEST(isValidHeloArgument(kUtf8Domain));
  BOOST_TEST(isValidHeloArgument(std::string(255, 'h')));
  BOOST_TEST(!isValidHeloArgument(std::string(256, 'h')));
  for (std::string_view bad : {"", "a b", "a\tb", "a\x7f", "\xc0\xaf", "x\xe4\xbe"}) {
    BOOST_TEST(!isValidHeloArgument(bad), "argument " << bad);
  }
  BOOST_TEST(!isValidHeloArgument(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(bdat_argument) {
  uint64_t size = 7;
  bool last = true;
  BOOST_TEST(parseBdat("100", size, last));
  BOOST_TEST(size == 100u);
  BOOST_TEST(!last);
  BOOST_TEST(parseBdat("0 LAST", size, last));
  BOOST_TEST(size == 0u);
  BOOST_TEST(last);
  BOOST_TEST(parseBdat("42  last", size, last));
  BOOST_TEST(size == 42u);
  BOOST_TEST(parseBdat("9999999999999999999", size, last));
  BOOST_TEST(size == 9999999999999999999ull);
  size = 5;
  last = false;
  for (std::string_view bad : {"", "abc", "-1", "+1", "1 FIRST", "1 LAST x", "1 LASTX", "99999999999999999999",
                               " 1", "1x", "1 "}) {
    BOOST_TEST(!parseBdat(bad, size, last), "argument " << bad);
  }
  BOOST_TEST(size == 5u);  // untouched on failure
  BOOST_TEST(!last);
}

BOOST_AUTO_TEST_SUITE_END()
