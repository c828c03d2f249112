// Tests for mail/address: RFC 5321 §4.1.2 Mailbox syntax, §4.1.3 address literals, §4.5.3.1
// limits, RFC 6531 UTF-8 addresses and RFC 3629 well-formedness. Includes the address forms
// of nmap smtp-open-relay (percent hack, bang path, quoted "a@b"@c) from research T10/T20.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "mxgate/mail/address.h"

using mxgate::mail::Address;
using mxgate::mail::AddressError;
using mxgate::mail::isValidDomain;
using mxgate::mail::parseMailbox;

namespace mxgate::mail {
std::ostream& operator<<(std::ostream& os, AddressError err) { return os << static_cast<int>(err); }
}  // namespace mxgate::mail

namespace {

AddressError parse(std::string_view text, bool allow_utf8 = false) {
  Address out;
  return parseMailbox(text, allow_utf8, out);
}

Address parsed(std::string_view text, bool allow_utf8 = false) {
  Address out;
  BOOST_TEST_REQUIRE(parseMailbox(text, allow_utf8, out) == AddressError::None, "parsing " << text);
  return out;
}

// A domain of exactly `length` (>= 1) octets: a first label of 1..51 letters, then labels
// of 50 letters, each with its dot.
std::string domainOfLength(size_t length) {
  const size_t more_labels = (length - 1) / 51;
  std::string domain(length - 51 * more_labels, 'd');
  for (size_t i = 0; i < more_labels; ++i) {
    domain.append(".").append(50, 'e');
  }
  return domain;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address)

BOOST_AUTO_TEST_CASE(simple_mailbox_lowercases_domain_only) {
  const Address a = parsed("John.Smith@Example.TEST");
  BOOST_TEST(a.local == "John.Smith");
  BOOST_TEST(a.domain == "example.test");
  BOOST_TEST(a.str() == "John.Smith@example.test");
  BOOST_TEST(!a.isNull());
  BOOST_TEST(!a.isUtf8());
}

BOOST_AUTO_TEST_CASE(null_address) {
  const Address a;
  BOOST_TEST(a.isNull());
  BOOST_TEST(a.str() == "");
}

BOOST_AUTO_TEST_CASE(atext_specials_in_dot_string) {
  const Address a = parsed("!#$%&'*+-/=?^_`{|}~.x@example.test");
  BOOST_TEST(a.local == "!#$%&'*+-/=?^_`{|}~.x");
}

BOOST_AUTO_TEST_CASE(quoted_local_parts) {
  BOOST_TEST(parsed("\"a b\"@example.test").local == "\"a b\"");
  BOOST_TEST(parsed("\"a\\\"b\"@example.test").local == "\"a\\\"b\"");
  BOOST_TEST(parsed("\"a\\\\b\"@example.test").local == "\"a\\\\b\"");
  BOOST_TEST(parsed("\"\\ \"@example.test").local == "\"\\ \"");
  BOOST_TEST(parsed("\"a>b,c:d\"@example.test").local == "\"a>b,c:d\"");
  BOOST_TEST(parsed("\"\"@example.test").local == "\"\"");
  BOOST_TEST(parse("\"a\"b@example.test") == AddressError::Syntax);
  BOOST_TEST(parse("\"ab@example.test") == AddressError::Syntax);
  BOOST_TEST(parse("\"a\\") == AddressError::Syntax);
  BOOST_TEST(parse("\"a\\\x01\"@example.test") == AddressError::Syntax);  // quoted-pair is %d32-126
  BOOST_TEST(parse("\"a\tb\"@example.test") == AddressError::Syntax);     // HTAB is not qtextSMTP
  BOOST_TEST(parse("\"a\r\nb\"@example.test") == AddressError::Syntax);
}

// nmap smtp-open-relay forms: each parses to the literal mailbox and the domain that decides
// routing is the last one, so "relay through us" tricks route to the hosted domain.
BOOST_AUTO_TEST_CASE(open_relay_forms_keep_last_domain) {
  const Address percent = parsed("a%b@c.test");
  BOOST_TEST(percent.local == "a%b");
  BOOST_TEST(percent.domain == "c.test");
  const Address bang = parsed("b!a@c.test");
  BOOST_TEST(bang.local == "b!a");
  BOOST_TEST(bang.domain == "c.test");
  const Address quoted = parsed("\"a@b\"@c.test");
  BOOST_TEST(quoted.local == "\"a@b\"");
  BOOST_TEST(quoted.domain == "c.test");
  const Address quoted_percent = parsed("\"relaytest%relay.example\"@[192.0.2.1]");
  BOOST_TEST(quoted_percent.domain == "[192.0.2.1]");
  BOOST_TEST(parse("relaytest@relay.example@c.test") == AddressError::Syntax);
  BOOST_TEST(parse("\"relaytest@relay.example\"") == AddressError::Syntax);
  BOOST_TEST(parse("relay.example!relaytest") == AddressError::Syntax);
  BOOST_TEST(parse("@c.test:a@b.test") == AddressError::Syntax);  // source routes only in paths
}

BOOST_AUTO_TEST_CASE(syntax_errors) {
  for (std::string_view bad : {"", "@", "a", "a@", "@a", "a@b@c", ".a@b", "a.@b", "a..b@c",
                               "a @b", "a@ b", "a@b c", "a@-b.c", "a@b-.c", "a@b..c", "a@.b",
                               "a@b.", "a@example.test.", "a@_x.test", "a@b_c", "a(b)@c", "a,b@c",
                               "a:b@c", "<a@b>", "a@b>", "a\\b@c"}) {
    BOOST_TEST(parse(bad) == AddressError::Syntax, "input " << bad);
  }
  BOOST_TEST(parse(std::string_view("a\0b@c", 5)) == AddressError::Syntax);
  BOOST_TEST(parse(std::string_view("a@b\0c", 5)) == AddressError::Syntax);
}

BOOST_AUTO_TEST_CASE(ldh_domains) {
  BOOST_TEST(parsed("a@1example.test").domain == "1example.test");
  BOOST_TEST(parsed("a@x-y--z.test").domain == "x-y--z.test");
  BOOST_TEST(parsed("a@localhost").domain == "localhost");
  BOOST_TEST(parsed("a@123").domain == "123");
}

BOOST_AUTO_TEST_CASE(address_literals) {
  BOOST_TEST(parsed("a@[192.0.2.1]").domain == "[192.0.2.1]");
  BOOST_TEST(parsed("a@[255.255.255.255]").domain == "[255.255.255.255]");
  BOOST_TEST(parsed("a@[IPv6:2001:DB8::1]").domain == "[ipv6:2001:db8::1]");
  BOOST_TEST(parsed("a@[ipv6:::1]").domain == "[ipv6:::1]");
  BOOST_TEST(parsed("a@[IPv6:::ffff:192.0.2.1]").domain == "[ipv6:::ffff:192.0.2.1]");
  for (std::string_view bad : {"a@[192.0.2.256]", "a@[192.0.2]", "a@[192.0.2.1.5]", "a@[]",
                               "a@[192.0.2.1", "a@192.0.2.1]", "a@[192.0.2.1]x", "a@[ 192.0.2.1]",
                               "a@[01.2.3.4]",  // leading zero: octal-ambiguous, inet_pton refuses
                               "a@[2001:db8::1]", "a@[IPv6:2001:db8::g]", "a@[IPv6:1:2:3:4:5:6:7:8:9]",
                               "a@[IPv6:]", "a@[x400:foo]", "a@[tag:stuff]", "a@[IPv6:1.2.3.4]"}) {
    BOOST_TEST(parse(bad) == AddressError::Syntax, "input " << bad);
  }
  BOOST_TEST(parse(std::string_view("a@[1.2.3.4\0]", 12)) == AddressError::Syntax);
}

BOOST_AUTO_TEST_CASE(local_part_limit_64) {
  const std::string local64(64, 'a');
  BOOST_TEST(parsed(local64 + "@example.test").local == local64);
  BOOST_TEST(parse(std::string(65, 'a') + "@example.test") == AddressError::LocalPartTooLong);
  const std::string quoted64 = "\"" + std::string(62, 'q') + "\"";  // the quotes count
  BOOST_TEST(parsed(quoted64 + "@example.test").local == quoted64);
  BOOST_TEST(parse("\"" + std::string(63, 'q') + "\"@example.test") == AddressError::LocalPartTooLong);
}

BOOST_AUTO_TEST_CASE(domain_limit_255) {
  const std::string d255 = domainOfLength(255);
  const std::string d256 = domainOfLength(256);
  BOOST_TEST_REQUIRE(d255.size() == 255u);
  BOOST_TEST_REQUIRE(d256.size() == 256u);
  BOOST_TEST(parsed("a@" + d255).domain == d255);
  BOOST_TEST(parse("a@" + d256) == AddressError::DomainTooLong);
  BOOST_TEST(isValidDomain(d255, false));
  BOOST_TEST(!isValidDomain(d256, false));
}

BOOST_AUTO_TEST_CASE(utf8_addresses) {
  const std::string local = "\xe7\x94\xa8\xe6\x88\xb7";         // 用户
  const std::string domain = "\xe4\xbe\x8b\xe5\xad\x90.example";  // 例子.example
  const Address a = parsed(local + "@" + domain, true);
  BOOST_TEST(a.local == local);
  BOOST_TEST(a.domain == domain);
  BOOST_TEST(a.isUtf8());
  BOOST_TEST(parse(local + "@" + domain, false) == AddressError::Utf8NotAllowed);
  BOOST_TEST(parse(local + "@example.test", false) == AddressError::Utf8NotAllowed);
  BOOST_TEST(parse("a@" + domain, false) == AddressError::Utf8NotAllowed);
  BOOST_TEST(parsed("\"" + local + " x\"@example.test", true).local == "\"" + local + " x\"");
  // Upper-case non-ASCII is not folded: only ASCII is lower-cased.
  BOOST_TEST(parsed("a@\xc3\x84X.test", true).domain == "\xc3\x84x.test");
  BOOST_TEST(parsed("\xf0\x9f\x98\x80@example.test", true).local == "\xf0\x9f\x98\x80");
  BOOST_TEST(parse("a@-\xc3\xa4.test", true) == AddressError::Syntax);
}

BOOST_AUTO_TEST_CASE(malformed_utf8_is_rejected_even_when_allowed) {
  for (bool allow : {true, false}) {
    BOOST_TEST(parse("a\xc0\xaf@example.test", allow) == AddressError::InvalidUtf8);      // overlong '/'
    BOOST_TEST(parse("a\xe0\x80\xaf@example.test", allow) == AddressError::InvalidUtf8);  // overlong
    BOOST_TEST(parse("a\xed\xa0\x80@example.test", allow) == AddressError::InvalidUtf8);  // surrogate
    BOOST_TEST(parse("a\xe4\xbe@example.test", allow) == AddressError::InvalidUtf8);      // truncated
    BOOST_TEST(parse("a@\xe4\xbe.test", allow) == AddressError::InvalidUtf8);
    BOOST_TEST(parse("a@x\xe4\xbe", allow) == AddressError::InvalidUtf8);                 // at the end
    BOOST_TEST(parse("a\xf4\x90\x80\x80@example.test", allow) == AddressError::InvalidUtf8);  // > U+10FFFF
    BOOST_TEST(parse("a\x80@example.test", allow) == AddressError::InvalidUtf8);          // lone continuation
    BOOST_TEST(parse("\"a\xff\"@example.test", allow) == AddressError::InvalidUtf8);
  }
}

BOOST_AUTO_TEST_CASE(valid_domains) {
  BOOST_TEST(isValidDomain("example.test", false));
  BOOST_TEST(isValidDomain("[192.0.2.1]", false));
  BOOST_TEST(!isValidDomain("", false));
  BOOST_TEST(!isValidDomain("example.test.", false));
  BOOST_TEST(!isValidDomain("\xe4\xbe\x8b.test", false));
  BOOST_TEST(isValidDomain("\xe4\xbe\x8b.test", true));
}

BOOST_AUTO_TEST_CASE(str_reparses_to_same_address) {
  const std::vector<std::pair<std::string, bool>> inputs = {
      {"a@b.test", false},          {"A.B@C.Test", false},           {"\"a b\"@x.test", false},
      {"\"a@b\"@c.test", false},    {"\"a\\\"b\"@c.test", false},    {"x@[IPv6:2001:db8::1]", false},
      {"x@[192.0.2.1]", false},     {"\xe7\x94\xa8@\xe4\xbe\x8b.example", true},
  };
  for (const auto& [text, utf8] : inputs) {
    const Address first = parsed(text, utf8);
    const Address second = parsed(first.str(), utf8);
    BOOST_TEST(second.local == first.local);
    BOOST_TEST(second.domain == first.domain);
  }
}

BOOST_AUTO_TEST_SUITE_END()
