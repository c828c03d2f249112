// Unit tests for the configuration schema (src/config/schema.h): the shipped reference
// conf/mxgate.toml sets and documents exactly the keys of the schema (like Postfix's
// check-postconf-undocumented), policies/example.toml mentions every policy key, and the
// schema data itself is consistent.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "schema.h"

namespace schema = mxgate::config::schema;

namespace {

std::string readSource(const std::string& relative) {
  std::ifstream in(std::string(MXGATE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> nodeSchemaNames() {
  std::vector<std::string> names;
  for (const auto& key : schema::nodeKeys()) {
    names.emplace_back(key.name);
  }
  for (const auto& key : schema::listenerKeys()) {
    names.emplace_back(key.name);
  }
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// For every "key = value" line of a TOML file: the dotted key and the comment lines right
// above it (without "# ").
struct Assignment {
  std::string key;
  std::string value;  // as written
  int line = 0;
  std::vector<std::string> comments;
};

std::vector<Assignment> assignments(const std::string& text) {
  std::vector<Assignment> out;
  std::istringstream in(text);
  std::string line;
  std::string section;
  std::vector<std::string> comments;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.starts_with("#")) {
      comments.push_back(line.size() > 2 ? line.substr(2) : "");
    } else if (line.starts_with("[")) {
      section = line.substr(line.find_first_not_of('['));
      section = section.substr(0, section.find(']'));
      comments.clear();
    } else if (const size_t eq = line.find(" = "); eq != std::string::npos) {
      out.push_back({section + "." + line.substr(0, eq), line.substr(eq + 3), number, comments});
      comments.clear();
    } else {
      comments.clear();
    }
  }
  return out;
}

// The note on the node keys that a reload (SIGHUP) does not apply.
const std::string kRestartNote = "Applied on restart only (SIGHUP keeps the running value).";

template <class Target>
void checkDocumented(const schema::Key<Target>& key, const Assignment& assignment, bool node_key) {
  const auto& comments = assignment.comments;
  BOOST_TEST_CONTEXT(key.name << " on line " << assignment.line) {
    BOOST_TEST_REQUIRE(comments.size() >= 2u);
    BOOST_TEST((std::find(comments.begin(), comments.end(), std::string(key.help)) != comments.end()));
    const bool noted = std::find(comments.begin(), comments.end(), kRestartNote) != comments.end();
    BOOST_TEST(noted == (node_key && !key.live), "the restart note must be on exactly the keys a reload keeps");
    std::string expected = key.default_value.empty() ? "Required." : "Default: " + std::string(key.default_value) + ".";
    if (key.type == schema::Type::Integer || key.type == schema::Type::Size || key.type == schema::Type::Duration) {
      expected += " Range: " + schema::formatBound(key.type, key.min) + " .. " +
                  schema::formatBound(key.type, key.max) + ".";
    }
    if (key.type == schema::Type::Enum) {
      expected += " One of:";
      for (std::string_view choice : key.choices) {
        expected += " \"" + std::string(choice) + "\"";
      }
      expected += ".";
    }
    BOOST_TEST(comments.back() == expected);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_schema)

BOOST_AUTO_TEST_CASE(reference_file_sets_exactly_the_schema_keys) {
  std::vector<std::string> set;
  std::string error;
  BOOST_TEST_REQUIRE(schema::keysSetIn(readSource("conf/mxgate.toml"), set, error), error);
  const std::vector<std::string> known = nodeSchemaNames();
  for (const std::string& name : known) {
    BOOST_TEST(contains(set, name), name << " is in the schema but not set in conf/mxgate.toml");
  }
  for (const std::string& name : set) {
    BOOST_TEST(contains(known, name), name << " is set in conf/mxgate.toml but not in the schema");
  }
  BOOST_TEST(set.size() == known.size());
}

BOOST_AUTO_TEST_CASE(reference_file_documents_every_key) {
  const std::vector<Assignment> all = assignments(readSource("conf/mxgate.toml"));
  size_t documented = 0;
  for (const Assignment& assignment : all) {
    for (const auto& key : schema::nodeKeys()) {
      if (key.name == assignment.key) {
        checkDocumented(key, assignment, true);
        ++documented;
      }
    }
    for (const auto& key : schema::listenerKeys()) {
      if (key.name == assignment.key) {
        checkDocumented(key, assignment, false);  // the [[listener]] section says it once
        ++documented;
      }
    }
  }
  BOOST_TEST(documented == all.size());
  BOOST_TEST(documented == schema::nodeKeys().size() + 2 * schema::listenerKeys().size());
}

BOOST_AUTO_TEST_CASE(reference_file_values_are_the_defaults) {
  // Every key is set to its default, except the two example values the brief asks for.
  for (const Assignment& assignment : assignments(readSource("conf/mxgate.toml"))) {
    for (const auto& key : schema::nodeKeys()) {
      if (key.name == assignment.key && key.name != "node.hostname" && key.name != "node.postmaster") {
        BOOST_TEST(assignment.value == std::string(key.default_value), key.name);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(example_policy_uses_and_mentions_every_policy_key) {
  const std::string text = readSource("policies/example.toml");
  std::vector<std::string> set;
  std::string error;
  BOOST_TEST_REQUIRE(schema::keysSetIn(text, set, error), error);
  BOOST_TEST(set == (std::vector<std::string>{"delivery.allow_private", "delivery.secrets", "delivery.target",
                                              "delivery.url", "domains", "events.url", "inbound.dkim_fail",
                                              "inbound.dmarc_none", "inbound.dmarc_quarantine", "inbound.dmarc_reject",
                                              "inbound.quarantine_retention", "inbound.spf_fail",
                                              "inbound.spf_softfail", "inbound.virus", "links.allow_hosts",
                                              "links.mode", "links.rewrite_text", "outbound.api_dsn", "outbound.daily_cap",
                                              "outbound.dsn", "outbound.message_rate", "outbound.target", "outbound.tls",
                                              "outbound.tls_ca_file", "tenant", "thread.ticket_pattern", "tracking.clicks",
                                              "tracking.list_unsubscribe", "tracking.opens"}),
             boost::test_tools::per_element());
  for (const auto& key : schema::policyKeys()) {
    const std::string_view leaf = key.name.substr(key.name.rfind('.') + 1);
    BOOST_TEST(text.find(std::string(leaf)) != std::string::npos, key.name << " is not described");
  }
  // [[dkim.keys]] needs key files, so the example shows it in comments.
  BOOST_TEST(text.find("# [[dkim.keys]]") != std::string::npos);
  for (const auto& key : schema::dkimKeyKeys()) {
    const std::string leaf(key.name.substr(key.name.rfind('.') + 1));
    BOOST_TEST(text.find("#   " + leaf + " ") != std::string::npos, key.name << " is not described");
    BOOST_TEST(text.find("# " + leaf + " = ") != std::string::npos, key.name << " has no example");
  }
}

BOOST_AUTO_TEST_CASE(schema_is_consistent) {
  std::set<std::string> names;
  auto checkKeys = [&names](const auto& keys) {
    for (const auto& key : keys) {
      BOOST_TEST_CONTEXT(key.name) {
        BOOST_TEST(names.insert(std::string(key.name)).second);
        BOOST_TEST(key.min <= key.max);
        BOOST_TEST(!key.help.empty());
        BOOST_TEST(key.store != nullptr);
        BOOST_TEST((key.type == schema::Type::Enum) == !key.choices.empty());
        BOOST_TEST((key.resolution == schema::kMicrosecond || key.type == schema::Type::Duration));
        if (key.type == schema::Type::Duration) {
          BOOST_TEST(key.min % key.resolution == 0u);
        }
      }
    }
  };
  checkKeys(schema::nodeKeys());
  checkKeys(schema::listenerKeys());
  checkKeys(schema::policyKeys());
  checkKeys(schema::dkimKeyKeys());
  const std::vector<std::string> required_listener{"listener.name", "listener.port"};
  for (const auto& key : schema::listenerKeys()) {
    BOOST_TEST(key.default_value.empty() == contains(required_listener, std::string(key.name)), key.name);
  }
  for (const auto& key : schema::nodeKeys()) {
    BOOST_TEST(!key.default_value.empty(), key.name << " has no default");
  }
}

BOOST_AUTO_TEST_CASE(keys_set_in_flattens_tables_and_arrays_of_tables) {
  std::vector<std::string> set;
  std::string error;
  BOOST_TEST_REQUIRE(schema::keysSetIn("a = 1\nlist = [1, 2]\nempty = []\n[b.c]\nd = 2\n[[e]]\nf = 1\n[[e]]\ng = 2\n",
                                       set, error));
  BOOST_TEST(set == (std::vector<std::string>{"a", "b.c.d", "e.f", "e.g", "empty", "list"}),
             boost::test_tools::per_element());
  BOOST_TEST(!schema::keysSetIn("a = = 1\n", set, error));
  BOOST_TEST(error.starts_with("text:1: TOML syntax error: "), error);
}

BOOST_AUTO_TEST_SUITE_END()
