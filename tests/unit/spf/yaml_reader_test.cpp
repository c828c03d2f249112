// The test suites' YAML reader (test support): the constructs the openspf files use.
#include <boost/test/unit_test.hpp>

#include <string>

#include "yaml_reader.h"

using mxgate::spf::test::parseYamlDocuments;
using mxgate::spf::test::YamlNode;
using namespace std::string_literals;

BOOST_AUTO_TEST_SUITE(spf_yaml_reader)

BOOST_AUTO_TEST_CASE(the_suite_constructs) {
  const std::string text =
      "# header comment\n"
      "---\n"
      "description: Two\n"
      "  lines\n"
      "tests:\n"
      "  case-one:\n"
      "    comment: >-\n"
      "      folded\n"
      "      text\n"
      "    mailfrom: \"\"\n"
      "    host: CAFE:BABE::1\n"
      "    result: [fail,permerror]\n"
      "zonedata:\n"
      "  \"macro%percent  space.example.com\":\n"
      "    - A: 1.2.3.4\n"
      "  foo:bar/baz.example.com:\n"
      "    - MX: [0, \"foo:bar/baz.example.com\"]\n"
      "    - TIMEOUT\n"
      "    - SPF: [ \"v=spf1 ip4:\", '192.0.2.5 -all' ]\n"
      "    - SPF: [ ]\n"
      "    - SPF: \"v=spf1 a:\\xEF\\xBB garbage\\0\\x0d\"\n"
      "  same.indent:\n"
      "  - TXT: 'it''s'\n"
      "---\n"
      "description: second\n";
  std::string error;
  const auto documents = parseYamlDocuments(text, error);
  BOOST_TEST(error.empty(), error);
  BOOST_TEST_REQUIRE(documents.size() == 2U);
  const YamlNode& doc = documents[0];
  BOOST_TEST(doc.find("description")->scalar == "Two lines");
  const YamlNode* test = doc.find("tests")->find("case-one");
  BOOST_TEST_REQUIRE(test != nullptr);
  BOOST_TEST(test->find("comment")->scalar == "folded text");
  BOOST_TEST(test->find("mailfrom")->scalar == "");
  BOOST_TEST(test->find("host")->scalar == "CAFE:BABE::1");
  BOOST_TEST(test->find("result")->items.size() == 2U);
  BOOST_TEST(test->find("result")->items[1].scalar == "permerror");
  const YamlNode* zone = doc.find("zonedata");
  BOOST_TEST(zone->find("macro%percent  space.example.com")->items[0].find("A")->scalar == "1.2.3.4");
  const YamlNode* colon = zone->find("foo:bar/baz.example.com");
  BOOST_TEST_REQUIRE(colon != nullptr);
  BOOST_TEST_REQUIRE(colon->items.size() == 5U);
  BOOST_TEST(colon->items[0].find("MX")->items[1].scalar == "foo:bar/baz.example.com");
  BOOST_TEST(colon->items[1].scalar == "TIMEOUT");
  BOOST_TEST(colon->items[2].find("SPF")->items[1].scalar == "192.0.2.5 -all");
  BOOST_TEST(colon->items[3].find("SPF")->items.empty());
  BOOST_TEST(colon->items[4].find("SPF")->scalar == "v=spf1 a:\xc3\xaf\xc2\xbb garbage\0\r"s);
  BOOST_TEST(zone->find("same.indent")->items[0].find("TXT")->scalar == "it's");
}

BOOST_AUTO_TEST_CASE(errors_name_the_line) {
  std::string error;
  parseYamlDocuments("---\nkey: \"open\n", error);
  BOOST_TEST(error == "line 2: unterminated quoted scalar");
}

BOOST_AUTO_TEST_SUITE_END()
