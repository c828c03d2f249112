// Unit tests for destinations files (mx.destinations_file, format: conf/destinations.toml):
// entries read with their lines, the lookup (exact name, then the longest ".suffix"), every
// mistake an error naming file, line and key, and the shipped example file reads clean.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "temp_dir.h"

using namespace mxgate::config;
using mxgate::config::test::TempDir;

namespace {

std::vector<ConfigError> parse(const std::string& text, DestinationPolicies& out) {
  return parseDestinations("destinations.toml", text, out);
}

// The single error of text, as "file:line: key: message".
std::string onlyError(const std::string& text) {
  DestinationPolicies destinations;
  const std::vector<ConfigError> errors = parse(text, destinations);
  BOOST_TEST_REQUIRE(errors.size() == 1u, text);
  return errors.front().str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_destinations)

BOOST_AUTO_TEST_CASE(entries_are_read_with_their_lines_and_found_by_domain) {
  DestinationPolicies destinations;
  const auto errors = parse(
      "[[destination]]\ndomain = \"Partner.Example\"\ntls = \"verify\"\n\n"
      "[[destination]]\ndomain = \".example\"\ntls = \"encrypt\"\n\n"
      "[[destination]]\ndomain = \".sub.example\"\ntls = \"none\"\n\n"
      "[[destination]]\ndomain = \"signed.example\"\ntls = \"dane\"\n",
      destinations);
  BOOST_TEST_REQUIRE(errors.empty());
  BOOST_TEST_REQUIRE(destinations.entries.size() == 4u);
  BOOST_TEST((destinations.entries[3].tls == ClientTls::Dane));
  BOOST_TEST(destinations.entries[0].domain == "partner.example");
  BOOST_TEST(destinations.entries[0].line == 1);
  BOOST_TEST(destinations.entries[1].line == 5);
  BOOST_TEST((destinations.entries[0].tls == ClientTls::Verify));
  BOOST_TEST(destinations.find("PARTNER.example")->domain == "partner.example");
  BOOST_TEST(destinations.find("mx.partner.example")->domain == ".example");
  BOOST_TEST(destinations.find("a.sub.example")->domain == ".sub.example");
  // ".example" names subdomains only, not the name itself.
  BOOST_TEST(destinations.find("example") == nullptr);
  BOOST_TEST(destinations.find("sub.example")->domain == ".example");
  BOOST_TEST(destinations.find("notexample") == nullptr);
  BOOST_TEST(destinations.find("other.test") == nullptr);
}

BOOST_AUTO_TEST_CASE(an_empty_file_has_no_entries) {
  DestinationPolicies destinations;
  BOOST_TEST(parse("# nothing yet\n", destinations).empty());
  BOOST_TEST(destinations.entries.empty());
}

BOOST_AUTO_TEST_CASE(mistakes_name_file_line_and_key) {
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"a.example\"\ntls = \"dane-only\"\n") ==
             "destinations.toml:3: destination.tls: \"dane-only\" is not a level: one of \"none\" \"may\" \"encrypt\" "
             "\"verify\" \"dane\"");
  BOOST_TEST(onlyError("[[destination]]\ntls = \"verify\"\n") == "destinations.toml:1: destination.domain: missing");
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"a.example\"\nport = \"25\"\n") ==
             "destinations.toml:3: destination.port: unknown key (expected domain, tls and tls_ca_file)");
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"a.example\"\n[[destination]]\ndomain = \"A.example\"\n") ==
             "destinations.toml:4: destination.domain: \"a.example\" is already listed on line 2");
  BOOST_TEST(onlyError("[[destination]]\ndomain = 5\n") ==
             "destinations.toml:2: destination.domain: wrong type: expected a string, got an integer");
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"a.example\"\ntls = \"verify\"\ntls_ca_file = \"/nonexistent/ca.pem\"\n") ==
             "destinations.toml:4: destination.tls_ca_file: \"/nonexistent/ca.pem\" is not a readable file");
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"bad domain\"\n").starts_with("destinations.toml:2: destination.domain: "));
  BOOST_TEST(onlyError("[[destination]]\ndomain = \"..a.example\"\n").starts_with("destinations.toml:2: destination.domain: "));
  BOOST_TEST(onlyError("tls = \"verify\"\n") ==
             "destinations.toml:1: tls: unknown key (a destinations file holds only [[destination]] tables)");
  BOOST_TEST(onlyError("destination = 1\n") ==
             "destinations.toml:1: destination: wrong type: expected an array of tables ([[destination]]), got an "
             "integer");
  BOOST_TEST(onlyError("[[destination]\n").starts_with("destinations.toml:1: TOML syntax error"));
}

BOOST_AUTO_TEST_CASE(the_shipped_example_reads_clean) {
  std::ifstream in(std::string(MXGATE_SOURCE_DIR) + "/conf/destinations.toml", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST_REQUIRE(!text.empty());
  DestinationPolicies destinations;
  BOOST_TEST(parse(text, destinations).empty());
  // Its examples, uncommented, read too (a CA file that exists stands in for the example's).
  TempDir dir;
  dir.write("internal-ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string ca = (dir.path() / "internal-ca.pem").string();
  std::string examples;
  for (size_t at = text.find("\n# [[destination]]\n") + 1; at < text.size();) {
    const size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    examples += (line.starts_with("# ") ? line.substr(2) : line.substr(1)) + "\n";
    at = end == std::string::npos ? text.size() : end + 1;
  }
  const std::string shown = "/etc/mxgate/internal-ca.pem";
  examples.replace(examples.find(shown), shown.size(), ca);
  DestinationPolicies uncommented;
  const auto errors = parse(examples, uncommented);
  BOOST_TEST(errors.empty(), (errors.empty() ? "" : errors.front().str()));
  BOOST_TEST(uncommented.entries.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_node_file_key_loads_the_file_and_names_it_in_errors) {
  TempDir dir;
  dir.write("destinations.toml", "[[destination]]\ndomain = \"a.example\"\ntls = \"maybe\"\n");
  std::filesystem::create_directory(dir.path() / "policies");
  const std::string file = (dir.path() / "destinations.toml").string();
  const std::string node = (dir.path() / "mxgate.toml").string();
  dir.write("mxgate.toml", "[node]\nhostname = \"mx.a.test\"\npolicies = \"" + (dir.path() / "policies").string() +
                               "\"\n[mx]\ndestinations_file = \"" + file + "\"\n");
  const LoadResult result = load(node);
  BOOST_TEST_REQUIRE(!result.errors.empty());
  BOOST_TEST(result.errors.front().str() == file + ":3: destination.tls: \"maybe\" is not a level: one of \"none\" "
                                                   "\"may\" \"encrypt\" \"verify\" \"dane\"");
  dir.write("destinations.toml", "[[destination]]\ndomain = \"a.example\"\ntls = \"encrypt\"\n");
  const LoadResult fixed = load(node);
  BOOST_TEST_REQUIRE(fixed.errors.empty(), (fixed.errors.empty() ? "" : fixed.errors.front().str()));
  BOOST_TEST_REQUIRE(fixed.config->destinations.entries.size() == 1u);
  BOOST_TEST((fixed.config->destinations.find("a.example")->tls == ClientTls::Encrypt));
}

BOOST_AUTO_TEST_SUITE_END()
