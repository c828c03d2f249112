// Unit tests for reading bounce rules files (format: conf/bounce_rules.toml): every mistake is an
// error naming file, line and key; bounces.rules_file replaces the built-in rules, which need no
// file; the shipped file and the built-in copy are the same rules.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mxgate/bounce/classifier.h"
#include "mxgate/config/config.h"
#include "temp_dir.h"

using namespace mxgate::config;
using mxgate::config::test::TempDir;

namespace {

std::vector<ConfigError> parse(const std::string& text, mxgate::bounce::Rules& rules) {
  return parseBounceRules("rules.toml", text, rules);
}

// The single error of text, as "file:line: key: message".
std::string onlyError(const std::string& text) {
  mxgate::bounce::Rules rules;
  const std::vector<ConfigError> errors = parse(text, rules);
  BOOST_TEST_REQUIRE(errors.size() == 1u, text);
  return errors.front().str();
}

const std::string kRule = "[[rule]]\nmatch = 'user unknown'\nclass = \"hard\"\nlabel = \"invalid_recipient\"\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(config_bounce_rules)

BOOST_AUTO_TEST_CASE(rules_are_read_in_order_with_their_lines) {
  mxgate::bounce::Rules rules;
  const auto errors = parse(kRule + "\n[[rule]]\nmatch = '^4'\nclass = \"soft\"\nlabel = \"later\"\n", rules);
  BOOST_TEST_REQUIRE(errors.empty());
  BOOST_TEST_REQUIRE(rules.rules.size() == 2u);
  BOOST_TEST(rules.rules[0].label == "invalid_recipient");
  BOOST_TEST(rules.rules[0].line == 1);
  BOOST_TEST(rules.rules[1].label == "later");
  BOOST_TEST(rules.rules[1].line == 6);
  BOOST_TEST(classify(rules, "550 5.1.1 User Unknown", true).label == "invalid_recipient");
  BOOST_TEST(classify(rules, "451 4.3.0 busy", true).label == "later");
}

BOOST_AUTO_TEST_CASE(mistakes_name_file_line_and_key) {
  BOOST_TEST(onlyError("[[rule]]\nmatch = '(unclosed'\nclass = \"hard\"\nlabel = \"x\"\n").starts_with(
      "rules.toml:2: rule.match: not a valid regular expression"));
  BOOST_TEST(onlyError("[[rule]]\nmatch = 'x'\nclass = \"permanent\"\nlabel = \"x\"\n") ==
             "rules.toml:3: rule.class: \"permanent\" is not a class: one of \"hard\" \"soft\" \"block\"");
  BOOST_TEST(onlyError("[[rule]]\nmatch = 'x'\nclass = \"hard\"\nlabel = \"Bad Label\"\n") ==
             "rules.toml:4: rule.label: may hold only a-z, 0-9 and '_'");
  BOOST_TEST(onlyError(kRule + "action = \"suppress\"\n") ==
             "rules.toml:5: rule.action: unknown key (expected match, class and label)");
  BOOST_TEST(onlyError("[[rule]]\nmatch = 'x'\nlabel = \"x\"\n") == "rules.toml:1: rule.class: missing");
  BOOST_TEST(onlyError("[[rule]]\nmatch = 5\nclass = \"hard\"\nlabel = \"x\"\n") ==
             "rules.toml:2: rule.match: wrong type: expected a string, got an integer");
  BOOST_TEST(onlyError("[[rule]]\nmatch = ''\nclass = \"hard\"\nlabel = \"x\"\n") ==
             "rules.toml:2: rule.match: must not be empty");
  BOOST_TEST(onlyError("rules = 1\n" + kRule) ==
             "rules.toml:1: rules: unknown key (a rules file holds only [[rule]] tables)");
  BOOST_TEST(onlyError("rule = 1\n") == "rules.toml:1: rule: wrong type: expected an array of tables ([[rule]]), got an integer");
  BOOST_TEST(onlyError("# nothing\n") == "rules.toml: rule: no [[rule]] tables");
  BOOST_TEST(onlyError("[[rule]\n").starts_with("rules.toml:1: TOML syntax error"));
  BOOST_TEST(onlyError("[[rule]]\nmatch = '\xff'\n").find("not valid UTF-8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_bad_rule_is_reported) {
  mxgate::bounce::Rules rules;
  const auto errors = parse("[[rule]]\nmatch = '['\nclass = \"x\"\nlabel = \"ok\"\n" + kRule, rules);
  BOOST_TEST(errors.size() == 2u);
  BOOST_TEST(rules.rules.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_built_in_rules_are_the_shipped_file) {
  std::ifstream in(std::string(MXGATE_SOURCE_DIR) + "/conf/bounce_rules.toml", std::ios::binary);
  const std::string shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(!shipped.empty());
  BOOST_TEST(shipped == std::string(mxgate::bounce::defaultRulesText()));
}

BOOST_AUTO_TEST_CASE(the_node_key_replaces_the_built_in_rules) {
  const LoadResult built_in = loadFromText("node.toml", "", {});
  BOOST_TEST_REQUIRE(built_in.errors.empty());
  BOOST_TEST_REQUIRE(built_in.config->bounce_rules != nullptr);
  BOOST_TEST(built_in.config->bounce_rules->source == "<built-in bounce rules>");
  BOOST_TEST(classify(*built_in.config->bounce_rules, "550 5.1.1 no such user", true).label == "invalid_recipient");

  TempDir dir;
  dir.write("rules.toml", "[[rule]]\nmatch = 'no such'\nclass = \"block\"\nlabel = \"custom\"\n");
  const std::string file = (dir.path() / "rules.toml").string();
  const LoadResult custom = loadFromText("node.toml", "[bounces]\nrules_file = \"" + file + "\"\n", {});
  BOOST_TEST_REQUIRE(custom.errors.empty());
  BOOST_TEST(custom.config->bounce_rules->source == file);
  BOOST_TEST(custom.config->bounce_rules->rules.size() == 1u);
  BOOST_TEST(classify(*custom.config->bounce_rules, "550 5.1.1 no such user", true).label == "custom");

  dir.write("rules.toml", kRule + "[[rule]]\nmatch = 'a'\nclass = \"hard\"\nlabl = \"x\"\n");
  const LoadResult bad = loadFromText("node.toml", "[bounces]\nrules_file = \"" + file + "\"\n", {});
  BOOST_TEST_REQUIRE(bad.errors.size() == 2u);
  BOOST_TEST(bad.errors[0].str() == file + ":5: rule.label: missing");
  BOOST_TEST(bad.errors[1].str() == file + ":8: rule.labl: unknown key (expected match, class and label)");

  const LoadResult missing = loadFromText("node.toml", "[bounces]\nrules_file = \"/nonexistent/rules.toml\"\n", {});
  BOOST_TEST_REQUIRE(missing.errors.size() == 1u);
  BOOST_TEST(missing.errors[0].str().starts_with("node.toml:2: bounces.rules_file: \"/nonexistent/rules.toml\": cannot read file"));
}

BOOST_AUTO_TEST_SUITE_END()
