// Unit tests for the MTA-STS parsers (RFC 8461): policy files (§3.2: fields, LF and CRLF,
// unknown keys, limits, errors), MX patterns (§4.1: a wildcard stands for one label only) and
// the _mta-sts TXT records (§3.1: exactly one v=STSv1 record with a 1-32 alnum id), and what an
// enforce policy leaves of a domain's route.
#include <boost/test/unit_test.hpp>

#include "mxgate/delivery/mta_sts.h"
#include "mxgate/delivery/mta_sts_policies.h"

using namespace mxgate::delivery::mta_sts;

BOOST_AUTO_TEST_SUITE(mta_sts)

BOOST_AUTO_TEST_CASE(policy_with_crlf_unknown_keys_and_patterns) {
  std::string error;
  const auto policy = parsePolicy(
      "version: STSv1\r\nmode: enforce\r\nmx: mail.Example.com\r\nmx: *.backup.example.com\r\n"
      "extension: ignored\r\nmax_age:  604800 \r\n",
      error);
  BOOST_REQUIRE_MESSAGE(policy, error);
  BOOST_TEST(name(policy->mode) == "enforce");
  BOOST_TEST(policy->max_age == 604800u);
  BOOST_TEST(policy->mx == (std::vector<std::string>{"mail.example.com", "*.backup.example.com"}));
}

BOOST_AUTO_TEST_CASE(policy_with_lf_and_modes) {
  std::string error;
  const auto testing = parsePolicy("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 0", error);
  BOOST_REQUIRE_MESSAGE(testing, error);
  BOOST_TEST(name(testing->mode) == "testing");
  const auto none = parsePolicy("version: STSv1\nmode: none\nmax_age: 31557600\n", error);
  BOOST_REQUIRE_MESSAGE(none, error);
  BOOST_TEST(name(none->mode) == "none");
  BOOST_TEST(none->max_age == kMaxAgeLimit);
}

BOOST_AUTO_TEST_CASE(invalid_policies_say_why) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mode: enforce\nmx: a.example\nmax_age: 10\n", "no version"},
      {"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 10\n", "version is not STSv1"},
      {"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 10\n", "unknown mode \"strict\""},
      {"version: STSv1\nmx: a.example\nmax_age: 10\n", "no mode"},
      {"version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age"},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "max_age is not a number of seconds up to 31557600"},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "max_age is not a number of seconds up to 31557600"},
      {"version: STSv1\nmode: enforce\nmax_age: 10\n", "no mx"},
      {"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 10\n", "invalid mx pattern \"*.*.example\""},
      {"version: STSv1\nmode enforce\n", "line without a colon: \"mode enforce\""},
  };
  for (const auto& [text, why] : cases) {
    std::string error;
    BOOST_TEST(!parsePolicy(text, error));
    BOOST_TEST(error == why);
  }
}

BOOST_AUTO_TEST_CASE(wildcard_matches_exactly_one_leftmost_label) {
  Policy policy;
  policy.mx = {"*.example.com", "mail.example.net"};
  BOOST_TEST(policy.allowsMx("mx1.example.com"));
  BOOST_TEST(policy.allowsMx("MX1.Example.COM."));
  BOOST_TEST(!policy.allowsMx("a.b.example.com"));
  BOOST_TEST(!policy.allowsMx("example.com"));
  BOOST_TEST(!policy.allowsMx("mx1example.com"));
  BOOST_TEST(policy.allowsMx("mail.example.net"));
  BOOST_TEST(!policy.allowsMx("x.mail.example.net"));
}

BOOST_AUTO_TEST_CASE(txt_record_id) {
  std::string error;
  BOOST_TEST(parseTxtRecords({"v=spf1 -all", "v=STSv1; id=20260101T000000;"}, error).value_or("") == "20260101T000000");
  BOOST_TEST(parseTxtRecords({"v=STSv1;id=abc; ext=1"}, error).value_or("") == "abc");
  BOOST_TEST(!parseTxtRecords({"v=STSv1; id=a", "v=STSv1; id=b"}, error));
  BOOST_TEST(error == "several v=STSv1 records");
  BOOST_TEST(!parseTxtRecords({"v=STSv1; id=" + std::string(33, 'a')}, error));
  BOOST_TEST(error == "id is not 1-32 letters and digits");
  BOOST_TEST(!parseTxtRecords({"v=STSv1; id=a-b"}, error));
  BOOST_TEST(!parseTxtRecords({"v=STSv1;"}, error));
  BOOST_TEST(error == "no id");
  BOOST_TEST(!parseTxtRecords({"v=STSv10; id=a", "v=TLSRPTv1"}, error));
  BOOST_TEST(error == "no v=STSv1 record");
}

BOOST_AUTO_TEST_CASE(unlisted_exchangers_leave_the_route) {
  mxgate::delivery::StsPolicy sts;
  sts.policy.mx = {"*.b.example"};
  mxgate::delivery::MxRoute route;
  route.hops = {{"mx1.a.example", "192.0.2.1", 10, false},
                {"mx1.a.example", "192.0.2.2", 10, false},
                {"mx.b.example", "192.0.2.3", 20, false},
                {"x.mx.b.example", "192.0.2.4", 30, false}};
  BOOST_TEST(sts.dropUnlistedHops(route) == "mx1.a.example,x.mx.b.example");
  BOOST_REQUIRE(route.hops.size() == 1u);
  BOOST_TEST(route.hops[0].address == "192.0.2.3");
}

BOOST_AUTO_TEST_SUITE_END()
