// Unit tests for the text helpers in base: UTF-8 well-formedness (RFC 3629 §4), ASCII case
// folding, RFC 3339 timestamps, HTML escaping and URL redaction.
#include <boost/test/unit_test.hpp>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/html.h"
#include "mxgate/base/redact.h"
#include "mxgate/base/utf8.h"

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(well_formed_utf8) {
  BOOST_TEST(mxgate::utf8::isWellFormed(""));
  BOOST_TEST(mxgate::utf8::isWellFormed("plain ascii"));
  BOOST_TEST(mxgate::utf8::isWellFormed("\xc2\x80"));              // U+0080
  BOOST_TEST(mxgate::utf8::isWellFormed("\xdf\xbf"));              // U+07FF
  BOOST_TEST(mxgate::utf8::isWellFormed("\xe0\xa0\x80"));          // U+0800
  BOOST_TEST(mxgate::utf8::isWellFormed("\xed\x9f\xbf"));          // U+D7FF
  BOOST_TEST(mxgate::utf8::isWellFormed("\xee\x80\x80"));          // U+E000
  BOOST_TEST(mxgate::utf8::isWellFormed("\xef\xbf\xbf"));          // U+FFFF
  BOOST_TEST(mxgate::utf8::isWellFormed("\xf0\x90\x80\x80"));      // U+10000
  BOOST_TEST(mxgate::utf8::isWellFormed("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xc0\xaf"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xc1\xbf"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xe0\x9f\xbf"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xed\xa0\x80"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xed\xbf\xbf"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xf0\x8f\xbf\xbf"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xf4\x90\x80\x80"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xf5\x80\x80\x80"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xff"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xe4\xbe"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xe4\xbe" "a"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\xf0\x90\x80"));
  BOOST_TEST(!mxgate::utf8::isWellFormed("\x80"));
}

BOOST_AUTO_TEST_CASE(valid_prefix_stops_at_the_first_bad_sequence) {
  BOOST_TEST(mxgate::utf8::validPrefix("ab\xc3\xa9" "cd") == 6u);
  BOOST_TEST(mxgate::utf8::validPrefix("ab\xc3") == 2u);
  BOOST_TEST(mxgate::utf8::validPrefix("\xe4\xbe\x8b\xff\xe4\xbe\x8b") == 3u);
  BOOST_TEST(mxgate::utf8::sequenceLength("\xf0\x90\x80\x80", 0) == 4u);
  BOOST_TEST(mxgate::utf8::sequenceLength("a", 0) == 1u);
}

BOOST_AUTO_TEST_CASE(valid_prefix_cases) {
  BOOST_TEST(mxgate::utf8::validPrefix("") == 0u);
  BOOST_TEST(mxgate::utf8::validPrefix("plain ascii\t\n") == 13u);
  BOOST_TEST(mxgate::utf8::validPrefix("b\xc3\xbc" "cher \xe2\x82\xac \xf0\x9f\x93\xa7") == 16u);  // ü € U+1F4E7
  BOOST_TEST(mxgate::utf8::validPrefix("ab\xff") == 2u);
  BOOST_TEST(mxgate::utf8::validPrefix("a\xc3") == 1u);                 // truncated
  BOOST_TEST(mxgate::utf8::validPrefix("a\xc3\x28") == 1u);             // bad continuation
  BOOST_TEST(mxgate::utf8::validPrefix("\xc0\xaf") == 0u);              // overlong '/'
  BOOST_TEST(mxgate::utf8::validPrefix("\xe0\x80\xaf") == 0u);          // overlong
  BOOST_TEST(mxgate::utf8::validPrefix("\xed\xa0\x80") == 0u);          // surrogate U+D800
  BOOST_TEST(mxgate::utf8::validPrefix("\xed\x9f\xbf") == 3u);          // U+D7FF
  BOOST_TEST(mxgate::utf8::validPrefix("\xf4\x8f\xbf\xbf") == 4u);      // U+10FFFF
  BOOST_TEST(mxgate::utf8::validPrefix("\xf4\x90\x80\x80") == 0u);      // above U+10FFFF
  BOOST_TEST(mxgate::utf8::validPrefix("\xf0\x8f\xbf\xbf") == 0u);      // overlong
  BOOST_TEST(mxgate::utf8::validPrefix("x\x80") == 1u);                 // lone continuation
}

BOOST_AUTO_TEST_CASE(ascii_case_folding_leaves_utf8_alone) {
  BOOST_TEST(mxgate::ascii::toLowerCopy("MiXeD.Example.TEST") == "mixed.example.test");
  BOOST_TEST(mxgate::ascii::toLowerCopy("\xc3\x84X") == "\xc3\x84x");
  BOOST_TEST(mxgate::ascii::equalsIgnoreCase("Received:", "RECEIVED:"));
  BOOST_TEST(!mxgate::ascii::equalsIgnoreCase("Received:", "Received"));
  BOOST_TEST(mxgate::ascii::startsWithIgnoreCase("ipv6:2001::1", "IPv6:"));
  BOOST_TEST(!mxgate::ascii::isDigit(static_cast<unsigned char>('\xb2')));  // superscript two in Latin-1
}

BOOST_AUTO_TEST_CASE(rfc3339_timestamps) {
  BOOST_TEST(mxgate::formatRfc3339(0, 3) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(mxgate::formatRfc3339(1768472551880999, 3) == "2026-01-15T10:22:31.880Z");
  BOOST_TEST(mxgate::formatRfc3339(1768472551880999, 6) == "2026-01-15T10:22:31.880999Z");
  BOOST_TEST(mxgate::formatRfc3339(1768472551880999, 0) == "2026-01-15T10:22:31Z");
  BOOST_TEST(mxgate::formatRfc3339(951782400000000, 3) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(mxgate::formatRfc3339(253402300799999999, 3) == "9999-12-31T23:59:59.999Z");
  BOOST_TEST(mxgate::formatRfc3339(UINT64_MAX, 3) == "9999-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(rfc5322_dates) {
  BOOST_TEST(mxgate::formatRfc5322(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  BOOST_TEST(mxgate::formatRfc5322(1768472551880999) == "Thu, 15 Jan 2026 10:22:31 +0000");
  BOOST_TEST(mxgate::formatRfc5322(951782400000000) == "Tue, 29 Feb 2000 00:00:00 +0000");
}

BOOST_AUTO_TEST_CASE(html_escaping) {
  BOOST_TEST(mxgate::html::escaped(R"(<a href="x?a=1&b='2'">)") ==
             "&lt;a href=&quot;x?a=1&amp;b=&#39;2&#39;&quot;&gt;");
  BOOST_TEST(mxgate::html::escaped("plain é") == "plain é");
}

BOOST_AUTO_TEST_CASE(urls_lose_userinfo_query_and_fragment) {
  using mxgate::redactUrl;
  BOOST_TEST(redactUrl("https://crm.example/hooks/in") == "https://crm.example/hooks/in");
  BOOST_TEST(redactUrl("https://crm.example:8443/hooks?token=s3cr3t") == "https://crm.example:8443/hooks?[redacted]");
  BOOST_TEST(redactUrl("https://user:pw@crm.example/h?a=1#frag") == "https://crm.example/h?[redacted]#[redacted]");
  BOOST_TEST(redactUrl("http://a@b@crm.example?x") == "http://crm.example?[redacted]");
  BOOST_TEST(redactUrl("https://crm.example#k=v?x") == "https://crm.example#[redacted]");
  BOOST_TEST(redactUrl("https://crm.example/p/a@b") == "https://crm.example/p/a@b");  // "@" in the path stays
  BOOST_TEST(redactUrl("https://crm.example/?") == "https://crm.example/?[redacted]");
  BOOST_TEST(redactUrl("/receiver?token=1") == "/receiver?[redacted]");
  BOOST_TEST(redactUrl("") == "");
}

BOOST_AUTO_TEST_SUITE_END()
