// Unit tests for the value syntax of the configuration files (src/config/values.h):
// durations, sizes, domain names (RFC 1034 §3.5, RFC 1123 §2.1), IP literals, identifiers,
// mailboxes and the edit distance behind "did you mean".
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>

#include "values.h"

namespace values = mxgate::config::values;
using values::UnitStatus;

namespace {

uint64_t duration(const std::string& text) {
  uint64_t micros = 0;
  BOOST_TEST_REQUIRE((values::parseDuration(text, micros) == UnitStatus::Ok), text);
  return micros;
}

UnitStatus durationStatus(const std::string& text) {
  uint64_t micros = 0;
  return values::parseDuration(text, micros);
}

uint64_t size(const std::string& text) {
  uint64_t bytes = 0;
  BOOST_TEST_REQUIRE((values::parseSize(text, bytes) == UnitStatus::Ok), text);
  return bytes;
}

UnitStatus sizeStatus(const std::string& text) {
  uint64_t bytes = 0;
  return values::parseSize(text, bytes);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_values)

BOOST_AUTO_TEST_CASE(durations_in_every_unit) {
  BOOST_TEST(duration("250us") == 250u);
  BOOST_TEST(duration("300ms") == 300000u);
  BOOST_TEST(duration("30s") == 30000000u);
  BOOST_TEST(duration("5m") == 300000000u);
  BOOST_TEST(duration("1h") == 3600000000u);
  BOOST_TEST(duration("5d") == 432000000000u);
  BOOST_TEST(duration("0s") == 0u);
  BOOST_TEST(duration("007s") == 7000000u);
}

BOOST_AUTO_TEST_CASE(duration_syntax_errors) {
  for (const char* text : {"", "5", "s", "5 m", " 5m", "5m ", "-5s", "+5s", "1.5s", "5M", "5S", "5min", "5sec",
                           "5ns", "1h30m", "0x10s", "5mS", "５s"}) {
    BOOST_TEST((durationStatus(text) == UnitStatus::BadSyntax), '"' << text << '"');
  }
}

BOOST_AUTO_TEST_CASE(duration_overflow_is_too_large) {
  BOOST_TEST((durationStatus("99999999999999999999d") == UnitStatus::TooLarge));
  BOOST_TEST((durationStatus("18446744073709551616us") == UnitStatus::TooLarge));  // 2^64
  BOOST_TEST((durationStatus("213503983d") == UnitStatus::TooLarge));             // > 2^64 us
  BOOST_TEST(duration("18446744073709551615us") == UINT64_MAX);
  BOOST_TEST(duration("213503982d") == 213503982ull * 86400000000ull);
}

BOOST_AUTO_TEST_CASE(sizes_in_every_unit) {
  BOOST_TEST(size("512B") == 512u);
  BOOST_TEST(size("64KiB") == 65536u);
  BOOST_TEST(size("25MiB") == 26214400u);
  BOOST_TEST(size("8GiB") == 8589934592u);
  BOOST_TEST(size("16TiB") == 17592186044416u);
  BOOST_TEST(size("10KB") == 10000u);
  BOOST_TEST(size("10MB") == 10000000u);
  BOOST_TEST(size("1GB") == 1000000000u);
  BOOST_TEST(size("2TB") == 2000000000000u);
  BOOST_TEST(size("0B") == 0u);
}

BOOST_AUTO_TEST_CASE(size_syntax_errors) {
  // Only the listed units, case-sensitive: "5M" is ambiguous (MB or MiB?) and refused.
  for (const char* text : {"", "512", "5M", "5K", "5G", "5k", "5kib", "5KIB", "5mb", "5 MiB", "-5MiB", "1.5GiB",
                           "5MiBs", "B", "5b", "5iB"}) {
    BOOST_TEST((sizeStatus(text) == UnitStatus::BadSyntax), '"' << text << '"');
  }
  BOOST_TEST((sizeStatus("99999999999999999999B") == UnitStatus::TooLarge));
  BOOST_TEST((sizeStatus("16777216TiB") == UnitStatus::TooLarge));  // 2^24 * 2^40 = 2^64
  BOOST_TEST(size("16777215TiB") == 16777215ull << 40);
}

BOOST_AUTO_TEST_CASE(formatting_picks_the_largest_exact_unit) {
  BOOST_TEST(values::formatDuration(0) == "0s");
  BOOST_TEST(values::formatDuration(300) == "300us");
  BOOST_TEST(values::formatDuration(100000) == "100ms");
  BOOST_TEST(values::formatDuration(1500000) == "1500ms");
  BOOST_TEST(values::formatDuration(3600000000ull) == "1h");
  BOOST_TEST(values::formatDuration(60ull * 86400000000ull) == "60d");
  BOOST_TEST(values::formatSize(0) == "0");
  BOOST_TEST(values::formatSize(512) == "512B");
  BOOST_TEST(values::formatSize(65536) == "64KiB");
  BOOST_TEST(values::formatSize(2147483648ull) == "2GiB");
  BOOST_TEST(values::formatSize(17592186044416ull) == "16TiB");
  BOOST_TEST(values::formatSize(1000) == "1000B");
}

BOOST_AUTO_TEST_CASE(domain_names) {
  BOOST_TEST(values::checkDomain("example.test") == "");
  BOOST_TEST(values::checkDomain("EXAMPLE.Test") == "");
  BOOST_TEST(values::checkDomain("localhost") == "");
  BOOST_TEST(values::checkDomain("a-b.c0.xn--bcher-kva.example") == "");
  BOOST_TEST(values::checkDomain(std::string(63, 'a') + ".test") == "");
  BOOST_TEST(values::checkDomain(std::string(64, 'a') + ".test") == "label longer than 63 characters");
  BOOST_TEST(values::checkDomain("") == "empty domain name");
  BOOST_TEST(values::checkDomain("a..test") == "empty label in domain name");
  BOOST_TEST(values::checkDomain("example.test.") == "empty label in domain name");
  BOOST_TEST(values::checkDomain(".example.test") == "empty label in domain name");
  BOOST_TEST(values::checkDomain("exa_mple.test") == "invalid character '_' (only letters, digits and '-')");
  BOOST_TEST(values::checkDomain("exa mple.test") == "invalid character ' ' (only letters, digits and '-')");
  BOOST_TEST(values::checkDomain("a\nb.test") == "invalid character '\\x0a' (only letters, digits and '-')");
  BOOST_TEST(values::checkDomain("-a.test") == "a label must not start or end with '-'");
  BOOST_TEST(values::checkDomain("a-.test") == "a label must not start or end with '-'");
  BOOST_TEST(values::checkDomain("192.0.2.1") == "the last label must not be all-numeric");
  BOOST_TEST(values::checkDomain("b\xc3\xbc" "cher.example") ==
             "non-ASCII domain name: write it in A-label (punycode) form, e.g. xn--bcher-kva.example");
  std::string long_name;
  while (long_name.size() < 250) {
    long_name += "abcdefghi.";
  }
  long_name += "test";  // 254 octets
  BOOST_TEST(values::checkDomain(long_name) == "domain name longer than 253 characters");
  BOOST_TEST(values::checkDomain(long_name.substr(1)) == "");  // 253 octets
}

BOOST_AUTO_TEST_CASE(ip_literals_and_hosts) {
  BOOST_TEST(values::isIpLiteral("127.0.0.1"));
  BOOST_TEST(values::isIpLiteral("0.0.0.0"));
  BOOST_TEST(values::isIpLiteral("::"));
  BOOST_TEST(values::isIpLiteral("::1"));
  BOOST_TEST(values::isIpLiteral("2001:db8::25"));
  BOOST_TEST(values::isIpLiteral("::ffff:192.0.2.1"));
  BOOST_TEST(!values::isIpLiteral("localhost"));
  BOOST_TEST(!values::isIpLiteral("[::1]"));
  BOOST_TEST(!values::isIpLiteral("127.1"));
  BOOST_TEST(!values::isIpLiteral("256.0.0.1"));
  BOOST_TEST(!values::isIpLiteral("fe80::1%eth0"));
  BOOST_TEST(!values::isIpLiteral(""));
  BOOST_TEST(!values::isIpLiteral(std::string("127.0.0.1\0x", 11)));
  BOOST_TEST(values::checkHost("192.0.2.7") == "");
  BOOST_TEST(values::checkHost("2001:db8::7") == "");
  BOOST_TEST(values::checkHost("relay.example.test") == "");
  BOOST_TEST(values::checkHost("relay_1.example") == "invalid character '_' (only letters, digits and '-')");
}

BOOST_AUTO_TEST_CASE(identifiers) {
  BOOST_TEST(values::checkIdentifier("acme_corp-2") == "");
  BOOST_TEST(values::checkIdentifier(std::string(64, 'a')) == "");
  BOOST_TEST(values::checkIdentifier(std::string(65, 'a')) == "must be 1 to 64 characters long");
  BOOST_TEST(values::checkIdentifier("") == "must be 1 to 64 characters long");
  BOOST_TEST(values::checkIdentifier("Acme") == "invalid character 'A' (only a-z, 0-9, '_' and '-')");
  BOOST_TEST(values::checkIdentifier("a.b") == "invalid character '.' (only a-z, 0-9, '_' and '-')");
}

BOOST_AUTO_TEST_CASE(mailboxes) {
  BOOST_TEST(values::checkMailbox("postmaster@example.test") == "");
  BOOST_TEST(values::checkMailbox("first.last+tag@Example.Test") == "");
  BOOST_TEST(values::checkMailbox("\"quoted local\"@example.test") == "");
  BOOST_TEST(values::checkMailbox("postmaster") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("@example.test") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox(std::string(65, 'a') + "@example.test") ==
             "the local part is longer than 64 characters");
  BOOST_TEST(values::checkMailbox("a..b@example.test") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("a b@example.test") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("a@b@example.test") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("pm@") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("pm@[192.0.2.1]") == "the domain must be a name, not an address literal");
  BOOST_TEST(values::checkMailbox("pm@a-.example") == "not an address (local@domain, RFC 5321)");
  BOOST_TEST(values::checkMailbox("pm@host.123") == "domain: the last label must not be all-numeric");
}

BOOST_AUTO_TEST_CASE(edit_distance) {
  BOOST_TEST(values::editDistance("smtp.max_recipients", "smtp.max_recipients", 2) == 0u);
  BOOST_TEST(values::editDistance("smtp.max_recipent", "smtp.max_recipients", 2) == 2u);
  BOOST_TEST(values::editDistance("smtp.max_reicpients", "smtp.max_recipients", 2) == 1u);  // transposition
  BOOST_TEST(values::editDistance("smpt", "smtp", 2) == 1u);
  BOOST_TEST(values::editDistance("abc", "xyz", 2) == 3u);                     // capped at limit + 1
  BOOST_TEST(values::editDistance("a", "abcdefgh", 2) == 3u);                  // length difference
  BOOST_TEST(values::editDistance(std::string(100000, 'x'), "node", 2) == 3u);  // returns at once
  BOOST_TEST(values::editDistance("", "ab", 2) == 2u);
}

BOOST_AUTO_TEST_CASE(rates) {
  const auto rate = [](std::string_view text) {
    uint64_t count = 0;
    uint64_t period = 0;
    return values::parseRate(text, count, period) ? std::to_string(count) + "/" + std::to_string(period) : "bad";
  };
  BOOST_TEST(rate("") == "0/0");
  BOOST_TEST(rate("100/s") == "100/1");
  BOOST_TEST(rate("1,000/h") == "1000/3600");
  BOOST_TEST(rate("10_000/d") == "10000/86400");
  BOOST_TEST(rate("5/10m") == "5/600");
  BOOST_TEST(rate("1000000000/s") == "1000000000/1");
  for (const char* text : {"100", "/s", "0/s", "100/", "100/x", "100/0m", "1,,000/s", ",100/s", "100,/s", "-1/s",
                           "100/s ", " 100/s", "1000000001/s", "5/1000000m", "100/S", "1e3/s"}) {
    BOOST_TEST(rate(text) == "bad", text);
  }
  BOOST_TEST(values::checkRate("3/m").empty());
  BOOST_TEST(!values::checkRate("3 per minute").empty());
}

BOOST_AUTO_TEST_SUITE_END()
