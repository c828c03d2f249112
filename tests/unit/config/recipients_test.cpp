// Unit tests for a tenant's recipient validation keys: delivery.recipients any | list | verify,
// the addresses of recipients_list and recipients_file (matched case-insensitively and without a
// "+detail"), the verification cache settings, and the errors: a list without addresses,
// verify without an smtp next hop, an unreadable file, a bad line naming the file and line;
// and the [bounces] relay that delivery status notifications take.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mxgate/config/config.h"

using namespace mxgate::config;
using Lines = std::vector<std::string>;
namespace fs = std::filesystem;

namespace {

struct RecipientsFile {
  RecipientsFile(const std::string& text) {
    std::string pattern = (fs::temp_directory_path() / "mxgate-recipients-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    BOOST_TEST_REQUIRE(fd >= 0);
    ::close(fd);
    path = pattern;
    std::ofstream(path, std::ios::binary) << text;
  }
  ~RecipientsFile() { fs::remove(path); }
  std::string path;
};

LoadResult loadPolicy(const std::string& delivery) {
  return loadFromText("node.toml", "", {{"a.toml", "tenant = \"t\"\ndomains = [\"t.test\"]\n[delivery]\n" + delivery}});
}

Lines errorsOf(const LoadResult& result) {
  Lines lines;
  for (const ConfigError& error : result.errors) {
    lines.push_back(error.str());
  }
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(recipients)

BOOST_AUTO_TEST_CASE(any_is_the_default) {
  const LoadResult result = loadPolicy("target = \"file\"\npath = \"out\"\n");
  BOOST_TEST_REQUIRE(result.errors.empty());
  BOOST_TEST((result.config->tenants[0].delivery.recipients == RecipientCheck::Any));
}

BOOST_AUTO_TEST_CASE(list_and_file_addresses_are_matched_without_case_and_detail) {
  RecipientsFile file("# support staff\nsupport@t.test\n  Sales@T.test   # trailing comment\n\n");
  const LoadResult result = loadPolicy("target = \"smtp\"\nhost = \"relay.test\"\nrecipients = \"list\"\n"
                                       "recipients_list = [\"Alice@t.test\"]\nrecipients_file = \"" +
                                       file.path + "\"\n");
  BOOST_TEST_REQUIRE(errorsOf(result) == Lines{}, boost::test_tools::per_element());
  const DeliveryTarget& delivery = result.config->tenants[0].delivery;
  BOOST_TEST((delivery.recipients == RecipientCheck::List));
  BOOST_TEST(delivery.listsRecipient("alice@t.test"));
  BOOST_TEST(delivery.listsRecipient("ALICE@T.TEST"));
  BOOST_TEST(delivery.listsRecipient("alice+ticket-42@t.test"));
  BOOST_TEST(delivery.listsRecipient("support@t.test"));
  BOOST_TEST(delivery.listsRecipient("sales@t.test"));
  BOOST_TEST(!delivery.listsRecipient("bob@t.test"));
  BOOST_TEST(!delivery.listsRecipient("alice@other.test"));
  BOOST_TEST(!delivery.listsRecipient("+@t.test"));
  BOOST_TEST(!delivery.listsRecipient("alice"));
}

BOOST_AUTO_TEST_CASE(verify_settings_for_an_smtp_next_hop) {
  LoadResult result = loadPolicy("target = \"smtp\"\nhost = \"relay.test\"\nrecipients = \"verify\"\n");
  BOOST_TEST_REQUIRE(result.errors.empty());
  const DeliveryTarget& defaults = result.config->tenants[0].delivery;
  BOOST_TEST((defaults.recipients == RecipientCheck::Verify));
  BOOST_TEST(defaults.verify_ttl.count() == 7 * 86400);
  BOOST_TEST(defaults.verify_negative_ttl.count() == 3 * 3600);
  BOOST_TEST(defaults.verify_tempfail_ttl.count() == 60);
  BOOST_TEST(defaults.verify_wait.count() == 10000);
  result = loadPolicy("target = \"smtp\"\nhost = \"relay.test\"\nrecipients = \"verify\"\nverify_ttl = \"1d\"\n"
                      "verify_negative_ttl = \"10m\"\nverify_tempfail_ttl = \"5s\"\nverify_wait = \"500ms\"\n");
  BOOST_TEST_REQUIRE(result.errors.empty());
  const DeliveryTarget& set = result.config->tenants[0].delivery;
  BOOST_TEST(set.verify_ttl.count() == 86400);
  BOOST_TEST(set.verify_negative_ttl.count() == 600);
  BOOST_TEST(set.verify_tempfail_ttl.count() == 5);
  BOOST_TEST(set.verify_wait.count() == 500);
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_line_and_key) {
  BOOST_TEST(errorsOf(loadPolicy("target = \"file\"\npath = \"out\"\nrecipients = \"list\"\n")) ==
                 (Lines{"a.toml:6: delivery.recipients: \"list\" needs addresses in delivery.recipients_list or "
                        "delivery.recipients_file"}),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(loadPolicy("target = \"webhook\"\nurl = \"https://crm.test/in\"\n"
                                 "secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\nrecipients = \"verify\"\n")) ==
                 (Lines{"a.toml:7: delivery.recipients: \"verify\" probes the next hop: it needs delivery.target = "
                        "\"smtp\""}),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(loadPolicy("target = \"file\"\npath = \"out\"\nverify_wait = \"1s\"\n")) ==
                 (Lines{"a.toml:6: delivery.verify_wait: key only valid for target smtp"}),
             boost::test_tools::per_element());
  RecipientsFile file("ok@t.test\nnot an address\n@t.test\n");
  BOOST_TEST(errorsOf(loadPolicy("target = \"file\"\npath = \"out\"\nrecipients = \"list\"\nrecipients_file = \"" +
                                 file.path + "\"\n")).size() == 2u);
  const Lines lines = errorsOf(loadPolicy("target = \"file\"\npath = \"out\"\nrecipients = \"list\"\n"
                                          "recipients_file = \"" + file.path + "\"\n"));
  BOOST_TEST(lines[0].starts_with(file.path + ":2: delivery.recipients_file: \"not an address\": "), lines[0]);
  BOOST_TEST(lines[1].starts_with(file.path + ":3: delivery.recipients_file: \"@t.test\": "), lines[1]);
  BOOST_TEST(errorsOf(loadPolicy("target = \"file\"\npath = \"out\"\nrecipients = \"list\"\n"
                                 "recipients_file = \"/nonexistent/recipients\"\n")) ==
                 (Lines{"a.toml:7: delivery.recipients_file: \"/nonexistent/recipients\": cannot read file: No such "
                        "file or directory"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bounce_relay) {
  LoadResult result = loadFromText("node.toml", "", {});
  BOOST_TEST_REQUIRE(result.errors.empty());
  BOOST_TEST(result.config->bounces.host.empty());
  result = loadFromText("node.toml", "[bounces]\nhost = \"smarthost.example.net\"\nport = 587\ntls = \"verify\"\n", {});
  BOOST_TEST_REQUIRE(result.errors.empty());
  const DeliveryTarget& relay = result.config->bounces;
  BOOST_TEST((relay.kind == DeliveryKind::Smtp));
  BOOST_TEST(relay.host == "smarthost.example.net");
  BOOST_TEST(relay.port == 587);
  BOOST_TEST((relay.tls == ClientTls::Verify));
  BOOST_TEST(relay.max_connections == 2u);
  BOOST_TEST(errorsOf(loadFromText("node.toml", "[bounces]\nhost = \"192.0.2.25\"\ntls = \"verify\"\n", {})) ==
                 (Lines{"node.toml:3: bounces.tls: \"verify\" checks the relay's certificate against its host name, "
                        "and bounces.host is an IP address"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
