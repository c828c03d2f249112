// Unit tests for traffic shaping files (mx.shaping_file, format: conf/shaping.toml): [default],
// [[provider]] and [[backoff]] read with their lines, provider matching by exchanger suffix and
// by domain, how limits combine (a provider's unset limits are the default's; a back-off takes
// the stricter of each), every mistake an error naming file, line and key, and the shipped file
// (also the built-in rules) reads clean.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "temp_dir.h"

using namespace mxgate::config;
using mxgate::config::test::TempDir;

namespace {

std::vector<ConfigError> parse(const std::string& text, ShapingRules& out) {
  return parseShaping("shaping.toml", text, out);
}

// The errors of text, by line (then text).
std::vector<std::string> errorsOf(const std::string& text) {
  ShapingRules rules;
  std::vector<ConfigError> errors = parse(text, rules);
  std::sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.str()) < std::pair(b.line, b.str());
  });
  std::vector<std::string> out;
  for (const ConfigError& error : errors) {
    out.push_back(error.str());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_shaping)

BOOST_AUTO_TEST_CASE(tables_are_read_with_their_lines) {
  ShapingRules rules;
  const auto errors = parse(
      "[default]\nconnection_limit = 10\nmax_connection_rate = \"100/m\"\nmax_deliveries_per_connection = 100\n"
      "max_message_rate = \"1,000/h\"\n\n"
      "[[provider]]\nname = \"big\"\nmx_suffixes = [\".Big.Example\"]\ndomains = [\"big.test\", \".big.test\"]\n"
      "connection_limit = 3\n\n"
      "[[backoff]]\nmatch = 'slow down'\nsuspend = true\nduration = \"2h\"\n\n"
      "[[backoff]]\nmatch = '4\\.7\\.28'\nmax_message_rate = \"1/m\"\nduration = \"90m\"\n",
      rules);
  BOOST_TEST_REQUIRE(errors.empty());
  BOOST_TEST(rules.defaults.connection_limit == 10u);
  BOOST_TEST(rules.defaults.max_connection_rate.count == 100u);
  BOOST_TEST(rules.defaults.max_connection_rate.period_s == 60u);
  BOOST_TEST(rules.defaults.max_deliveries_per_connection == 100u);
  BOOST_TEST(rules.defaults.max_message_rate.count == 1000u);
  BOOST_TEST_REQUIRE(rules.providers.size() == 1u);
  const ShapingProvider& big = rules.providers[0];
  BOOST_TEST(big.name == "big");
  BOOST_TEST(big.line == 7);
  BOOST_TEST(big.mx_suffixes == std::vector<std::string>{".big.example"});
  BOOST_TEST(big.limits.connection_limit == 3u);
  BOOST_TEST(big.limits.max_message_rate.count == 0u);  // not set: the default's
  const ShapingLimits merged = big.limits.over(rules.defaults);
  BOOST_TEST(merged.connection_limit == 3u);
  BOOST_TEST(merged.max_message_rate.count == 1000u);
  BOOST_TEST_REQUIRE(rules.backoff.size() == 2u);
  BOOST_TEST(rules.backoff[0].suspend);
  BOOST_TEST(rules.backoff[0].duration_us == 7200ULL * 1000000);
  BOOST_TEST(rules.backoff[0].line == 13);
  BOOST_TEST(!rules.backoff[1].suspend);
  BOOST_TEST(rules.backoff[1].limits.max_message_rate.count == 1u);
}

BOOST_AUTO_TEST_CASE(providers_match_exchangers_by_suffix_and_domains_exactly_or_by_suffix) {
  ShapingRules rules;
  BOOST_TEST_REQUIRE(parse("[[provider]]\nname = \"g\"\nmx_suffixes = [\".google.com\"]\n\n"
                           "[[provider]]\nname = \"d\"\ndomains = [\"d.test\", \".sub.test\"]\n",
                           rules)
                         .empty());
  BOOST_TEST(rules.providerFor("x.test", {"alt1.aspmx.l.GOOGLE.com."})->name == "g");
  BOOST_TEST(rules.providerFor("x.test", {"google.com"}) == nullptr);  // a suffix names subdomains only
  BOOST_TEST(rules.providerFor("x.test", {"notgoogle.com"}) == nullptr);
  BOOST_TEST(rules.providerFor("D.test", {"mx.d.test"})->name == "d");
  BOOST_TEST(rules.providerFor("a.sub.test", {})->name == "d");
  BOOST_TEST(rules.providerFor("sub.test", {}) == nullptr);
}

BOOST_AUTO_TEST_CASE(strictest_takes_the_smaller_count_and_the_slower_rate_of_each_limit) {
  ShapingLimits a;
  a.connection_limit = 10;
  a.max_message_rate = Rate{100, 1};
  ShapingLimits b;
  b.connection_limit = 1;
  b.max_message_rate = Rate{1, 60};
  b.max_deliveries_per_connection = 5;
  const ShapingLimits both = a.strictest(b);
  BOOST_TEST(both.connection_limit == 1u);
  BOOST_TEST(both.max_message_rate.count == 1u);
  BOOST_TEST(both.max_message_rate.period_s == 60u);
  BOOST_TEST(both.max_deliveries_per_connection == 5u);  // set in one only
  BOOST_TEST(both.max_connection_rate.count == 0u);      // set in neither
  BOOST_TEST((a.strictest(ShapingLimits{}) == a));
}

BOOST_AUTO_TEST_CASE(every_mistake_names_file_line_and_key) {
  const auto errors = errorsOf(
      "[default]\nconnection_limit = 0\nmax_message_rate = \"fast\"\nspeed = 1\n"
      "[[provider]]\nmx_suffixes = [\"google.com\", 3]\n"
      "[[provider]]\nname = \"a\"\ndomains = [\"a.test\"]\n"
      "[[provider]]\nname = \"a\"\ndomains = [\"b.test\"]\n"
      "[[backoff]]\nmatch = '('\nduration = \"0s\"\n"
      "[[backoff]]\nmatch = 'x'\nduration = \"1m\"\n"
      "[limits]\n");
  const std::vector<std::string> expected = {
      "shaping.toml:2: default.connection_limit: 0 is out of range 1 .. 1000000",
      "shaping.toml:3: default.max_message_rate: ",
      "shaping.toml:4: default.speed: unknown key (expected connection_limit, max_connection_rate, "
      "max_deliveries_per_connection, max_message_rate)",
      "shaping.toml:5: provider.name: missing",
      "shaping.toml:5: provider: names no usable mx_suffixes or domains",
      "shaping.toml:6: provider.mx_suffixes: \"google.com\" must start with '.'",
      "shaping.toml:6: provider.mx_suffixes: wrong type: expected a string, got an integer",
      "shaping.toml:11: provider.name: \"a\" is already a provider on line 8",
      "shaping.toml:13: backoff: neither suspends nor sets a limit",
      "shaping.toml:14: backoff.match: not a valid regular expression",
      "shaping.toml:15: backoff.duration: \"0s\" is not a duration above zero",
      "shaping.toml:16: backoff: neither suspends nor sets a limit",
      "shaping.toml:19: limits: unknown key (a shaping file holds [default], [[provider]] and [[backoff]] tables)",
  };
  BOOST_TEST_REQUIRE(errors.size() == expected.size(), [&] {
    std::string all;
    for (const std::string& error : errors) {
      all += error + "\n";
    }
    return all;
  }());
  for (size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(errors[i].starts_with(expected[i]), errors[i] + " <> " + expected[i]);
  }
}

BOOST_AUTO_TEST_CASE(the_shipped_file_is_the_built_in_rules_and_reads_clean) {
  std::ifstream in(std::string(MXGATE_SOURCE_DIR) + "/conf/shaping.toml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(text == std::string(defaultShapingText()));
  ShapingRules rules;
  const auto errors = parse(text, rules);
  BOOST_TEST(errors.empty());
  BOOST_TEST(rules.defaults.connection_limit > 0u);
  BOOST_TEST(rules.defaults.max_message_rate.count > 0u);
  BOOST_TEST(rules.providerFor("gmail.com", {"gmail-smtp-in.l.google.com"})->name == "google");
  BOOST_TEST(!rules.backoff.empty());
}

BOOST_AUTO_TEST_CASE(a_node_without_a_shaping_file_has_the_built_in_rules_and_a_bad_file_is_an_error) {
  const LoadResult plain = loadFromText("node.toml", "", {});
  BOOST_TEST_REQUIRE(plain.errors.empty());
  BOOST_TEST(plain.config->shaping->source == "<built-in shaping rules>");
  BOOST_TEST(!plain.config->shaping->providers.empty());

  TempDir dir;
  dir.write("shaping.toml", "[default]\nconnection_limit = \"ten\"\n");
  const std::string file = (dir.path() / "shaping.toml").string();
  const LoadResult bad = loadFromText("node.toml", "[mx]\nshaping_file = \"" + file + "\"\n", {});
  BOOST_TEST_REQUIRE(bad.errors.size() == 1u);
  BOOST_TEST(bad.errors[0].str() == file + ":2: default.connection_limit: wrong type: expected an integer, got a string");
  const LoadResult missing = loadFromText("node.toml", "[mx]\nshaping_file = \"/nonexistent/shaping.toml\"\n", {});
  BOOST_TEST_REQUIRE(missing.errors.size() == 1u);
  BOOST_TEST(missing.errors[0].str().starts_with("node.toml:2: mx.shaping_file: \"/nonexistent/shaping.toml\": cannot read file"));
}

BOOST_AUTO_TEST_SUITE_END()
