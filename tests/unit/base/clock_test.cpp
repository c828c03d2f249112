// Unit tests for RFC 3339 timestamps (base/clock.h): parsing offsets, fractions and leap days,
// refusing everything else, the round trip with formatRfc3339, and a sender's point in time
// (parseTimeSeconds: Unix seconds or RFC 3339).
#include <boost/test/unit_test.hpp>
#include <string>

#include "mxgate/base/clock.h"

using mxgate::formatRfc3339;
using mxgate::parseRfc3339;
using mxgate::parseTimeSeconds;

BOOST_AUTO_TEST_SUITE(base_clock)

BOOST_AUTO_TEST_CASE(rfc3339_date_times_parse_to_epoch_seconds) {
  BOOST_TEST(parseRfc3339("1970-01-01T00:00:00Z").value() == 0u);
  BOOST_TEST(parseRfc3339("2026-12-08T09:30:00Z").value() == 1796722200u);
  BOOST_TEST(parseRfc3339("2026-12-08T10:30:00+01:00").value() == 1796722200u);
  BOOST_TEST(parseRfc3339("2026-12-08T04:00:00-05:30").value() == 1796722200u);
  BOOST_TEST(parseRfc3339("2026-12-08t09:30:00.999999z").value() == 1796722200u);
  BOOST_TEST(parseRfc3339("2028-02-29T00:00:00Z").value() == 1835395200u);
  BOOST_TEST(parseRfc3339("2000-02-29T12:00:00Z").value() == 951825600u);
}

BOOST_AUTO_TEST_CASE(anything_else_is_refused) {
  for (const std::string text :
       {"", "2026-12-08", "2026-12-08 09:30:00Z", "2026-12-08T09:30:00", "2026-12-08T09:30:00+0100",
        "2026-13-08T09:30:00Z", "2026-02-29T09:30:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-12-08T24:00:00Z", "2026-12-08T09:60:00Z", "2026-12-08T09:30:00.Z", "2026-12-08T09:30:00Zjunk",
        "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00", "+026-12-08T09:30:00Z", "2026-12-08T09:30:00+24:00"}) {
    BOOST_TEST(!parseRfc3339(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(formatted_times_parse_back) {
  for (const uint64_t seconds : {0ull, 951825600ull, 1796722200ull, 253402300799ull}) {
    BOOST_TEST(parseRfc3339(formatRfc3339(seconds * 1000000, 0)).value() == seconds);
    BOOST_TEST(parseRfc3339(formatRfc3339(seconds * 1000000 + 123456, 6)).value() == seconds);
  }
}

BOOST_AUTO_TEST_CASE(a_senders_time_is_unix_seconds_or_rfc3339) {
  BOOST_TEST(parseTimeSeconds("1796722200").value() == 1796722200u);
  BOOST_TEST(parseTimeSeconds(" \t1796722200 ").value() == 1796722200u);
  BOOST_TEST(parseTimeSeconds("2026-12-08T10:30:00+01:00").value() == 1796722200u);
  BOOST_TEST(parseTimeSeconds(" 2026-12-08T09:30:00Z").value() == 1796722200u);
  BOOST_TEST(parseTimeSeconds("253402300799").value() == 253402300799u);
  for (const std::string text : {"", "0", "253402300800", "9999999999999", "-5", "17967222OO", "1796722200 s",
                                 "tomorrow", "9999-12-31T23:59:59-01:00"}) {
    BOOST_TEST(!parseTimeSeconds(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_SUITE_END()
