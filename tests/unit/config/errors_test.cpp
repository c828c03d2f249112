// Unit tests for configuration errors: every kind of problem is reported with its exact
// file, line, key and message, all problems are reported together, and hostile input
// (deep nesting, control bytes) is refused cleanly.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "mxgate/config/config.h"

using namespace mxgate::config;
using Lines = std::vector<std::string>;

namespace {

const PolicySource kExamplePolicy{"example.toml", R"(tenant = "example"
domains = ["example.test"]
[delivery]
target = "file"
path = "queue/inbox"
)"};

Lines errorsOf(const std::string& node_text, const std::vector<PolicySource>& policies = {kExamplePolicy}) {
  const LoadResult result = loadFromText("node.toml", node_text, policies);
  BOOST_TEST((result.config == nullptr) == !result.errors.empty());
  Lines lines;
  for (const ConfigError& error : result.errors) {
    lines.push_back(error.str());
  }
  return lines;
}

Lines policyErrors(const std::string& policy_text) { return errorsOf("", {{"a.toml", policy_text}}); }

}  // namespace

BOOST_AUTO_TEST_SUITE(config_errors)

BOOST_AUTO_TEST_CASE(error_string_format) {
  BOOST_TEST((ConfigError{"conf/mxgate.toml", 12, "smtp.max_recipients", "out of range"}.str()) ==
             "conf/mxgate.toml:12: smtp.max_recipients: out of range");
  BOOST_TEST((ConfigError{"conf/mxgate.toml", 0, "node.policies", "missing"}.str()) ==
             "conf/mxgate.toml: node.policies: missing");
  BOOST_TEST((ConfigError{"a.toml", 3, "", "TOML syntax error: x"}.str()) == "a.toml:3: TOML syntax error: x");
}

BOOST_AUTO_TEST_CASE(toml_syntax_errors_carry_the_line) {
  const Lines invalid_value = errorsOf("[smtp]\nmax_errors = 5\n\nmax_recipients = = 3\n");
  BOOST_TEST_REQUIRE(invalid_value.size() == 1u);
  BOOST_TEST(invalid_value[0].starts_with("node.toml:4: TOML syntax error: "), invalid_value[0]);

  BOOST_TEST(errorsOf("[smtp]\nmax_errors = 5\nmax_errors = 6\n") ==
                 Lines{"node.toml:3: TOML syntax error: value (\"max_errors\") already exists."},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[smtp]\nmax_errors = 5\n[smtp]\n") ==
                 Lines{"node.toml:3: TOML syntax error: table (\"smtp\") already exists."},
             boost::test_tools::per_element());
  const Lines unterminated = errorsOf("[node]\nhostname = \"mx.example.test\n");
  BOOST_TEST_REQUIRE(unterminated.size() == 1u);
  BOOST_TEST(unterminated[0].starts_with("node.toml:2: TOML syntax error: "), unterminated[0]);
}

BOOST_AUTO_TEST_CASE(syntax_error_in_one_policy_does_not_hide_other_errors) {
  const Lines errors = errorsOf("[smtp]\nmax_errors = 0\n", {{"bad.toml", "tenant = \"bad\"\ndomains = [\n"},
                                                            {"good.toml", "tenant = \"Good\"\n"}});
  BOOST_TEST_REQUIRE(errors.size() == 5u);
  BOOST_TEST(errors[0] == "node.toml:2: smtp.max_errors: out of range: must be between 1 and 1000");
  BOOST_TEST(errors[1].starts_with("bad.toml:3: TOML syntax error: "), errors[1]);
  BOOST_TEST(errors[2] == "good.toml: delivery.target: missing required key");
  BOOST_TEST(errors[3] == "good.toml: domains: missing required key");
  BOOST_TEST(errors[4] ==
             "good.toml:1: tenant: invalid value \"Good\": invalid character 'G' (only a-z, 0-9, '_' and '-')");
}

BOOST_AUTO_TEST_CASE(unknown_keys_with_suggestions) {
  BOOST_TEST(errorsOf(R"(bogus = 1
[smtp]
max_recipent = 500
colour = "blue"
[smpt]
max_errors = 3
[[listener]]
name = "in"
port = 25
adress = "::1"
[node.extra]
x = 1
)") == (Lines{
                 "node.toml:1: bogus: unknown key",
                 "node.toml:3: smtp.max_recipent: unknown key (did you mean \"smtp.max_recipients\"?)",
                 "node.toml:4: smtp.colour: unknown key",
                 "node.toml:5: smpt: unknown key (did you mean \"smtp\"?)",
                 "node.toml:10: listener.adress: unknown key (did you mean \"listener.address\"?)",
                 "node.toml:11: node.extra: unknown key",
             }),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(R"(tenant = "a"
domain = ["a.test"]
[delivery]
target = "file"
path = "out"
pth = "out"
)") == (Lines{
             "a.toml: domains: missing required key",
             "a.toml:2: domain: unknown key (did you mean \"domains\"?)",
             "a.toml:6: delivery.pth: unknown key (did you mean \"delivery.path\"?)",
         }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_types) {
  BOOST_TEST(errorsOf(R"([node]
id = "7"
[smtp]
reject_nul = 1
max_errors = 2.5
bare_newline = true
data_timeout = 1.5
max_message_size = 1979-05-27
[log]
file = 5
[tls]
min_version = 1.3
)") == (Lines{
                 "node.toml:2: node.id: wrong type: expected an integer, got a string",
                 "node.toml:4: smtp.reject_nul: wrong type: expected a boolean (true or false), got an integer",
                 "node.toml:5: smtp.max_errors: wrong type: expected an integer, got a float",
                 "node.toml:6: smtp.bare_newline: wrong type: expected a string, one of \"reject\", \"normalize\", "
                 "got a boolean",
                 "node.toml:7: smtp.data_timeout: wrong type: expected a duration string such as \"30s\", got a float",
                 "node.toml:8: smtp.max_message_size: wrong type: expected a byte count or a size string such as "
                 "\"64KiB\", got a date",
                 "node.toml:10: log.file: wrong type: expected a string, got an integer",
                 "node.toml:12: tls.min_version: wrong type: expected a string, one of \"1.2\", \"1.3\", got a float",
             }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("tls = \"yes\"\nlistener = { name = \"a\", port = 1 }\n") ==
                 (Lines{
                     "node.toml:1: tls: wrong type: expected a table, got a string",
                     "node.toml:2: listener: wrong type: expected an array of tables ([[listener]]), got a table",
                 }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("listener = [1]\n") ==
                 Lines{"node.toml:1: listener: wrong type: expected an array of tables ([[listener]]), got an integer"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(out_of_range_values_state_the_range) {
  BOOST_TEST(errorsOf(R"([smtp]
max_recipients = 99
max_message_size = "3GiB"
command_timeout = "2h"
max_connections = -1
max_line_length = 511
[spool]
commit_max_wait = "101ms"
max_queued_bytes = "17TiB"
[queue]
retry_initial = "0s"
max_age = "99999999999999999999d"
[node]
id = 65536
workers = 99999999999999999999999
)") == (Lines{
                 "node.toml:2: smtp.max_recipients: out of range: must be between 100 and 100000",
                 "node.toml:3: smtp.max_message_size: out of range: must be between 1KiB and 2GiB",
                 "node.toml:4: smtp.command_timeout: out of range: must be between 1s and 1h",
                 "node.toml:5: smtp.max_connections: out of range: must be between 1 and 1000000",
                 "node.toml:6: smtp.max_line_length: out of range: must be between 512B and 64KiB",
                 "node.toml:8: spool.commit_max_wait: out of range: must be between 0s and 100ms",
                 "node.toml:9: spool.max_queued_bytes: out of range: must be between 1MiB and 16TiB",
                 "node.toml:11: queue.retry_initial: out of range: must be between 1s and 1d",
                 "node.toml:12: queue.max_age: out of range: must be between 1m and 60d",
                 "node.toml:14: node.id: out of range: must be between 0 and 65535",
                 "node.toml:15: node.workers: out of range: must be between 0 and 64",
             }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bounds_are_inclusive) {
  BOOST_TEST(errorsOf(R"([smtp]
max_recipients = 100
max_message_size = "2GiB"
command_timeout = "1h"
max_line_length = "512B"
[spool]
commit_max_wait = "100ms"
[queue]
retry_initial = "1d"
retry_max = "1d"
)")
                 .empty());
}

BOOST_AUTO_TEST_CASE(bad_enum_values_list_the_choices) {
  BOOST_TEST(errorsOf(R"([log]
level = "verbose"
[smtp]
bare_newline = "Reject"
[[listener]]
name = "out"
role = "outbound"
port = 25
tls = "ssl"
)") == (Lines{
                 "node.toml:2: log.level: invalid value \"verbose\": must be one of \"debug\", \"info\", \"warn\", \"error\"",
                 "node.toml:4: smtp.bare_newline: invalid value \"Reject\": must be one of \"reject\", \"normalize\"",
                 "node.toml:7: listener.role: invalid value \"outbound\": must be one of \"inbound\", \"submission\"",
                 "node.toml:9: listener.tls: invalid value \"ssl\": must be one of \"none\", \"starttls\", \"implicit\"",
             }),
             boost::test_tools::per_element());
}

// The send API off loopback only when allow_remote says so; its port is not a listener's; its
// limits have bounds.
BOOST_AUTO_TEST_CASE(api_listener_keys) {
  BOOST_TEST(errorsOf(R"([api]
address = "192.0.2.10"
port = 2525
max_request_size = 100
idempotency_window = "10s"
[[listener]]
name = "mx"
address = "192.0.2.10"
port = 2525
)") == (Lines{
                 "node.toml:2: api.address: \"192.0.2.10\" is not a loopback address: the send API faces the network "
                 "only with api.allow_remote = true",
                 "node.toml:3: api.port: 192.0.2.10:2525 is already used by listener \"mx\"",
                 "node.toml:4: api.max_request_size: out of range: must be between 1KiB and 512MiB",
                 "node.toml:5: api.idempotency_window: out of range: must be between 1m and 7d",
             }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf(R"([api]
address = "192.0.2.10"
allow_remote = true
)")
                 .empty());
}

BOOST_AUTO_TEST_CASE(outbound_policy_keys) {
  BOOST_TEST(policyErrors(R"(tenant = "a"
domains = ["a.test"]
[delivery]
target = "file"
path = "queue/inbox"
[outbound]
target = "smtp"
dsn = "yes"
api_dsn = 1
relay = true
)") == (Lines{
                 "a.toml:7: outbound.target: invalid value \"smtp\": must be one of \"mx\"",
                 "a.toml:8: outbound.dsn: wrong type: expected a boolean (true or false), got a string",
                 "a.toml:9: outbound.api_dsn: wrong type: expected a boolean (true or false), got an integer",
                 "a.toml:10: outbound.relay: unknown key",
             }),
             boost::test_tools::per_element());
  const LoadResult loaded = loadFromText("node.toml", "", {{"a.toml", R"(tenant = "a"
domains = ["a.test"]
[delivery]
target = "file"
path = "queue/inbox"
[outbound]
dsn = false
api_dsn = true
)"}, kExamplePolicy});
  BOOST_REQUIRE(loaded.config);
  const Tenant* a = loaded.config->tenantById("a");
  BOOST_TEST((a->outbound.target == OutboundTarget::Mx));
  BOOST_TEST(!a->outbound.dsn);
  BOOST_TEST(a->outbound.api_dsn);
  const Tenant* example = loaded.config->tenantById("example");  // the defaults
  BOOST_TEST(example->outbound.dsn);
  BOOST_TEST(!example->outbound.api_dsn);
  BOOST_TEST(loaded.config->mx.max_connections == 100u);
}

BOOST_AUTO_TEST_CASE(bad_duration_and_size_syntax) {
  const std::string duration_units = " (us, ms, s, m, h, d)";
  const std::string size_units = " (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";
  BOOST_TEST(errorsOf(R"([smtp]
command_timeout = 300
data_timeout = "5 m"
tls_handshake_timeout = "1500500us"
max_message_size = "5M"
max_header_size = "1.5MiB"
max_pending_output = -4096
max_line_length = "1024"
[queue]
retry_max = "90500ms"
max_age = "5D"
retry_initial = "-5s"
)") == (Lines{
                 "node.toml:2: smtp.command_timeout: a duration needs a unit, e.g. \"30s\"" +
                     std::string(" (units: us, ms, s, m, h, d)"),
                 "node.toml:3: smtp.data_timeout: bad duration \"5 m\": expected an integer followed by a unit" +
                     duration_units,
                 "node.toml:4: smtp.tls_handshake_timeout: must be a whole number of milliseconds",
                 "node.toml:5: smtp.max_message_size: bad size \"5M\": expected a byte count or an integer followed "
                 "by a unit" + size_units,
                 "node.toml:6: smtp.max_header_size: bad size \"1.5MiB\": expected a byte count or an integer "
                 "followed by a unit" + size_units,
                 "node.toml:7: smtp.max_pending_output: out of range: must be between 4KiB and 16MiB",
                 "node.toml:8: smtp.max_line_length: bad size \"1024\": expected a byte count or an integer "
                 "followed by a unit" + size_units,
                 "node.toml:10: queue.retry_max: must be a whole number of seconds",
                 "node.toml:11: queue.max_age: bad duration \"5D\": expected an integer followed by a unit" +
                     duration_units,
                 "node.toml:12: queue.retry_initial: bad duration \"-5s\": expected an integer followed by a unit" +
                     duration_units,
             }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[spool]\nmax_queued_bytes = \"99999999999999999999B\"\nchunk_size = \"16777216TiB\"\n") ==
                 (Lines{
                     "node.toml:2: spool.max_queued_bytes: out of range: must be between 1MiB and 16TiB",
                     "node.toml:3: spool.chunk_size: out of range: must be between 4KiB and 16MiB",
                 }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(missing_required_keys) {
  BOOST_TEST(errorsOf("[[listener]]\nname = \"in\"\n\n[[listener]]\nport = 2525\n") ==
                 (Lines{
                     "node.toml:1: listener.port: missing required key",
                     "node.toml:4: listener.name: missing required key",
                 }),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("# no tenant\ndomains = [\"a.test\"]\n\n[delivery]\npath = \"x\"\n") ==
                 (Lines{
                     "a.toml: tenant: missing required key",
                     "a.toml:4: delivery.target: missing required key",
                 }),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("tenant = \"a\"\ndomains = [\"a.test\"]\n[delivery]\ntarget = \"file\"\n") ==
                 Lines{"a.toml:3: delivery.path: missing required key"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("tenant = \"a\"\ndomains = [\"a.test\"]\n[delivery]\ntarget = \"smtp\"\nport = 587\n") ==
                 Lines{"a.toml:3: delivery.host: missing required key"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("tenant = \"a\"\ndomains = [\"a.test\"]\ndelivery.target = \"file\"\n") ==
                 Lines{"a.toml:3: delivery.path: missing required key"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(outbound_tracking_needs_the_link_host) {
  // The error names the first tracking key that is on, where it is.
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "file"
path = "inbox"
[tracking]
clicks = false
opens = true
list_unsubscribe = true
)") == (Lines{"a.toml:8: tracking.opens: outbound tracking needs links.host in the node configuration"}),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("tenant = \"t\"\ndomains = [\"t.test\"]\n[delivery]\ntarget = \"file\"\npath = \"inbox\"\n"
                          "[tracking]\nclicks = false\n")
                 .empty());
}

BOOST_AUTO_TEST_CASE(webhook_target_links_and_ticket_pattern) {
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "webhook"
url = "ftp://user:pw@crm.test/in?token=t0k3n#frag"
secrets = ["whsec_c2hvcnQ=", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
host = "relay.test"
[links]
mode = "safe_links"
[thread]
ticket_pattern = "[TICKET-("
)") == (Lines{
             "a.toml:5: delivery.url: invalid value \"ftp://crm.test/in?[redacted]#[redacted]\": expected an "
             "http:// or https:// URL",
             "a.toml:6: delivery.secrets: invalid value (entry 1, not shown): expected \"whsec_\" followed by the "
             "base64 of 24 to 64 random bytes",
             "a.toml:6: delivery.secrets: invalid value (entry 2, not shown): expected \"whsec_\" "
             "followed by the base64 of 24 to 64 random bytes",
             "a.toml:7: delivery.host: key only valid for target smtp",
             "a.toml:9: links.mode: link rewriting needs links.host in the node configuration",
             "a.toml:11: thread.ticket_pattern: invalid value \"[TICKET-(\": invalid regular expression at char "
             "8: range out of order in character class",
         }),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "webhook"
)") == (Lines{
             "a.toml:3: delivery.secrets: missing required key",
             "a.toml:3: delivery.url: missing required key",
         }),
             boost::test_tools::per_element());
}

// Secrets and the tokens URLs carry never appear in an error (issue 9, item 15).
BOOST_AUTO_TEST_CASE(secrets_and_url_tokens_are_not_repeated) {
  const Lines errors = policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "webhook"
url = "https://crm.test/in?token=t0k3n"
secrets = ["whsec_t0k3nSECRET!!"]
[events]
url = "https://user:t0k3n@crm.test/events"
secrets = ["whsec_t0k3nSECRET!!"]
)");
  BOOST_TEST(errors == (Lines{
                           "a.toml:6: delivery.secrets: invalid value (entry 1, not shown): expected \"whsec_\" "
                           "followed by the base64 of 24 to 64 random bytes",
                           "a.toml:8: events.url: invalid value \"https://crm.test/events\": expected a host (and "
                           "no user information) after the scheme",
                           "a.toml:9: events.secrets: invalid value (entry 1, not shown): expected \"whsec_\" "
                           "followed by the base64 of 24 to 64 random bytes",
                       }),
             boost::test_tools::per_element());
  for (const std::string& error : errors) {
    BOOST_TEST(error.find("t0k3n") == std::string::npos, error);
  }
}

BOOST_AUTO_TEST_CASE(keys_of_the_other_delivery_target) {
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "file"
path = "out"
host = "relay.test"
port = 2525
tls = "encrypt"
)") == (Lines{
             "a.toml:6: delivery.host: key only valid for target smtp",
             "a.toml:7: delivery.port: key only valid for target smtp",
             "a.toml:8: delivery.tls: key only valid for target smtp",
         }),
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "smtp"
host = "relay_1.test"
path = "out"
max_connections = 0
)") == (Lines{
             "a.toml:5: delivery.host: invalid value \"relay_1.test\": invalid character '_' (only letters, digits "
             "and '-')",
             "a.toml:6: delivery.path: key only valid for target file",
             "a.toml:7: delivery.max_connections: out of range: must be between 1 and 10000",
         }),
             boost::test_tools::per_element());
  // With an invalid target every key present is still checked on its own.
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["t.test"]
[delivery]
target = "http"
port = "x"
)") == (Lines{
             "a.toml:4: delivery.target: invalid value \"http\": must be one of \"file\", \"smtp\", \"webhook\"",
             "a.toml:5: delivery.port: wrong type: expected an integer, got a string",
         }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(duplicate_tenant_ids) {
  const std::vector<PolicySource> policies{
      {"a.toml", "tenant = \"acme\"\ndomains = [\"acme.test\"]\n[delivery]\ntarget = \"file\"\npath = \"a\"\n"},
      {"b.toml", "\ntenant = \"acme\"\ndomains = [\"b.test\"]\n[delivery]\ntarget = \"file\"\npath = \"b\"\n"},
  };
  BOOST_TEST(errorsOf("", policies) == Lines{"b.toml:2: tenant: duplicate tenant id \"acme\" (also in a.toml)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(domain_owned_by_two_tenants_names_both_files) {
  const std::vector<PolicySource> policies{
      {"policies/a.toml",
       "tenant = \"a\"\ndomains = [\"a.test\", \"shared.test\"]\n[delivery]\ntarget = \"file\"\npath = \"a\"\n"},
      {"policies/b.toml", R"(tenant = "b"
domains = [
  "b.test",
  "SHARED.test",
  "b.test",
]
[delivery]
target = "file"
path = "b"
)"},
  };
  BOOST_TEST(errorsOf("", policies) ==
                 (Lines{
                     "policies/b.toml:4: domains: domain \"shared.test\" is already owned by tenant \"a\" in "
                     "policies/a.toml",
                     "policies/b.toml:5: domains: domain \"b.test\" is listed twice",
                 }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tenant_without_domains) {
  BOOST_TEST(policyErrors("tenant = \"a\"\ndomains = []\n[delivery]\ntarget = \"file\"\npath = \"x\"\n") ==
                 Lines{"a.toml:2: domains: must not be empty"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors("tenant = \"a\"\ndomains = \"a.test\"\n[delivery]\ntarget = \"file\"\npath = \"x\"\n") ==
                 Lines{"a.toml:2: domains: wrong type: expected an array of strings, got a string"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(invalid_domain_names) {
  BOOST_TEST(policyErrors(R"(tenant = "t"
domains = ["Good.Test", "exa_mple.test", "b)"
                          "\xc3\xbc"
                          R"(cher.example", "192.0.2.1",
  "a..b", 7, "-x.test"]
[delivery]
target = "file"
path = "x"
)") == (Lines{
             "a.toml:2: domains: invalid value \"exa_mple.test\": invalid character '_' (only letters, digits and "
             "'-')",
             "a.toml:2: domains: invalid value \"b\xc3\xbc"
             "cher.example\": non-ASCII domain name: write it in A-label (punycode) form, e.g. "
             "xn--bcher-kva.example",
             "a.toml:2: domains: invalid value \"192.0.2.1\": the last label must not be all-numeric",
             "a.toml:3: domains: invalid value \"a..b\": empty label in domain name",
             "a.toml:3: domains: wrong type: expected a string, got an integer",
             "a.toml:3: domains: invalid value \"-x.test\": a label must not start or end with '-'",
         }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(listener_addresses_and_endpoints) {
  BOOST_TEST(errorsOf(R"([[listener]]
name = "a"
address = "localhost"
port = 25
[[listener]]
name = "b"
address = "::1"
port = 2525
[[listener]]
name = "c"
address = "0:0::1"
port = 2525
[[listener]]
name = "b"
port = 0
[[listener]]
name = "d"
port = 0
[admin]
address = "::1"
port = 2525
)") == (Lines{
                 "node.toml:3: listener.address: invalid value \"localhost\": not a numeric IPv4 or IPv6 address",
                 "node.toml:12: listener.port: [0:0::1]:2525 is already used by listener \"b\"",
                 "node.toml:14: listener.name: duplicate listener name \"b\" (first on line 6)",
                 "node.toml:21: admin.port: [::1]:2525 is already used by listener \"b\"",
             }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[admin]\naddress = \"[::1]\"\n[[listener]]\nname = \"x\"\naddress = \"127.0.0.1\"\nport = "
                      "8025\n") ==
                 (Lines{
                     "node.toml:2: admin.address: invalid value \"[::1]\": not a numeric IPv4 or IPv6 address",
                 }),
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[[listener]]\nname = \"x\"\nport = 8025\n") ==
                 Lines{"node.toml: admin.port: 127.0.0.1:8025 is already used by listener \"x\""},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(node_user_is_a_user_name) {
  BOOST_TEST(errorsOf("[node]\nuser = \"mxgate\"\n").empty());
  BOOST_TEST(errorsOf("[node]\nuser = \"_mx-gate.1\"\n").empty());
  BOOST_TEST(errorsOf("[node]\nuser = \"\"\n").empty());
  const std::string why = "expected a user name (letters, digits, '_', '-', '.'; at most 32, not starting with a "
                          "digit, '-' or '.')";
  BOOST_TEST(errorsOf("[node]\nuser = \"-x\"\n") == Lines{"node.toml:2: node.user: invalid value \"-x\": " + why});
  BOOST_TEST(errorsOf("\n[node]\nuser = \"mx gate\"\n") ==
             Lines{"node.toml:3: node.user: invalid value \"mx gate\": " + why});
  BOOST_TEST(errorsOf("[node]\nuser = \"" + std::string(33, 'a') + "\"\n").size() == 1);
}

BOOST_AUTO_TEST_CASE(postmaster_must_be_in_a_tenant_domain) {
  BOOST_TEST(errorsOf("\n[node]\npostmaster = \"pm@other.test\"\n") ==
                 Lines{"node.toml:3: node.postmaster: \"pm@other.test\" is not an address in a tenant domain (no "
                       "policy lists its domain)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[node]\npostmaster = \"postmaster\"\n") ==
                 Lines{"node.toml:2: node.postmaster: invalid value \"postmaster\": not an address (local@domain, RFC 5321)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[node]\npostmaster = \"PM@Example.TEST\"\n").empty());
  BOOST_TEST(errorsOf("[node]\npostmaster = \"pm@example.test\"\n", {}) ==
                 Lines{"node.toml:2: node.postmaster: \"pm@example.test\" is not an address in a tenant domain (no "
                       "policy lists its domain)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cross_key_checks) {
  BOOST_TEST(errorsOf("[tls]\ncert = \"c.pem\"\n") ==
                 Lines{"node.toml:2: tls.cert: tls.cert and tls.key must be set together (tls.key is missing)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[tls]\n\nkey = \"k.pem\"\n") ==
                 Lines{"node.toml:3: tls.key: tls.cert and tls.key must be set together (tls.cert is missing)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[queue]\nretry_initial = \"2h\"\nretry_max = \"90m\"\n") ==
                 Lines{"node.toml:3: queue.retry_max: must not be less than queue.retry_initial (2h)"},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[queue]\nretry_initial = \"2h\"\n") ==
                 Lines{"node.toml:2: queue.retry_initial: must not be more than queue.retry_max (1h)"},
             boost::test_tools::per_element());
}

// delivery.tls took "none", "opportunistic" and "required" before the security levels; the
// old names are refused with the new ones named.
BOOST_AUTO_TEST_CASE(old_delivery_tls_values_name_the_new_levels) {
  const std::string head = "tenant = \"t\"\ndomains = [\"t.test\"]\n[delivery]\ntarget = \"smtp\"\nhost = \"relay.test\"\n";
  const std::string choices = "must be one of \"none\", \"may\", \"encrypt\", \"verify\"";
  BOOST_TEST(policyErrors(head + "tls = \"opportunistic\"\n") ==
                 Lines{"a.toml:6: delivery.tls: invalid value \"opportunistic\": " + choices +
                       " (\"opportunistic\" is now \"may\")"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(head + "tls = \"required\"\n") ==
                 Lines{"a.toml:6: delivery.tls: invalid value \"required\": " + choices +
                       " (\"required\" is now \"encrypt\" (TLS, certificate not checked) or \"verify\" "
                       "(certificate and host name checked))"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(head + "tls = \"dane\"\n") == Lines{"a.toml:6: delivery.tls: invalid value \"dane\": " + choices},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(verify_level_needs_a_name_and_a_readable_ca_file) {
  const std::string head = "tenant = \"t\"\ndomains = [\"t.test\"]\n[delivery]\ntarget = \"smtp\"\n";
  BOOST_TEST(policyErrors(head + "host = \"192.0.2.25\"\ntls = \"verify\"\n") ==
                 Lines{"a.toml:6: delivery.tls: \"verify\" checks the certificate against a host name, but "
                       "delivery.host \"192.0.2.25\" is an IP address: set delivery.tls_verify_name"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(head + "host = \"192.0.2.25\"\ntls = \"verify\"\ntls_verify_name = \"mx.t.test\"\n").empty());
  BOOST_TEST(policyErrors(head + "host = \"192.0.2.25\"\ntls = \"encrypt\"\n").empty());
  BOOST_TEST(policyErrors(head + "host = \"relay.test\"\ntls = \"verify\"\n\ntls_ca_file = \"/nonexistent/ca.pem\"\n") ==
                 Lines{"a.toml:8: delivery.tls_ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(head + "host = \"relay.test\"\ntls = \"verify\"\ntls_ca_file = \"/\"\n") ==
                 Lines{"a.toml:7: delivery.tls_ca_file: cannot read \"/\": is a directory"},
             boost::test_tools::per_element());
  BOOST_TEST(policyErrors(head + "host = \"relay.test\"\ntls_verify_name = \"mx_1.test\"\n") ==
                 Lines{"a.toml:6: delivery.tls_verify_name: invalid value \"mx_1.test\": invalid character '_' (only "
                       "letters, digits and '-')"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(string_checks) {
  BOOST_TEST(errorsOf(R"([node]
hostname = "mx_1.example"
policies = ""
[log]
file = "a\u0000b"
[spool]
path = "q\nx"
)") == (Lines{
                 "node.toml:2: node.hostname: invalid value \"mx_1.example\": invalid character '_' (only letters, "
                 "digits and '-')",
                 "node.toml:3: node.policies: must not be empty",
                 "node.toml:5: log.file: must not contain control characters",
                 "node.toml:7: spool.path: must not contain control characters",
             }),
             boost::test_tools::per_element());
  const std::string long_path(5000, 'p');
  BOOST_TEST(errorsOf("[spool]\npath = \"" + long_path + "\"\n") ==
                 Lines{"node.toml:2: spool.path: longer than 4096 bytes"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(all_errors_are_reported_in_file_and_line_order) {
  const std::vector<PolicySource> policies{
      {"z.toml", "tenant = \"z\"\ndomains = [\"z..test\"]\n[delivery]\ntarget = \"file\"\npath = \"z\"\n"},
      {"a.toml", "tenant = \"a\"\ndomains = [\"a.test\"]\n[delivery]\ntarget = \"ftp\"\n"},
  };
  BOOST_TEST(errorsOf("[smtp]\nmax_errors = 0\n[node]\nid = -1\n[log]\nlevel = 3\n", policies) ==
                 (Lines{
                     "node.toml:2: smtp.max_errors: out of range: must be between 1 and 1000",
                     "node.toml:4: node.id: out of range: must be between 0 and 65535",
                     "node.toml:6: log.level: wrong type: expected a string, one of \"debug\", \"info\", \"warn\", "
                     "\"error\", got an integer",
                     "z.toml:2: domains: invalid value \"z..test\": empty label in domain name",
                     "a.toml:4: delivery.target: invalid value \"ftp\": must be one of \"file\", \"smtp\", \"webhook\"",
                 }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_before_parsing) {
  const std::string message = ": arrays, inline tables or dotted keys nested deeper than 64 levels";
  BOOST_TEST(errorsOf("a = " + std::string(100000, '[')) == Lines{"node.toml:1" + message},
             boost::test_tools::per_element());
  std::string inline_tables = "# deep\nx = 1\na = ";
  for (int i = 0; i < 100000; ++i) {
    inline_tables += "{b = ";
  }
  BOOST_TEST(errorsOf(inline_tables) == Lines{"node.toml:3" + message}, boost::test_tools::per_element());
  std::string dotted;
  for (int i = 0; i < 100000; ++i) {
    dotted += "a.";
  }
  BOOST_TEST(errorsOf(dotted + "b = 1\n") == Lines{"node.toml:1" + message}, boost::test_tools::per_element());
  BOOST_TEST(errorsOf("\n[" + dotted + "b]\n") == Lines{"node.toml:2" + message}, boost::test_tools::per_element());
  BOOST_TEST(errorsOf("", {{"p.toml", "a = " + std::string(65, '[') + std::string(65, ']')}}) ==
                 Lines{"p.toml:1" + message},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(nesting_up_to_the_limit_reaches_the_parser) {
  BOOST_TEST(errorsOf("a = " + std::string(64, '[') + std::string(64, ']') + "\n") ==
                 Lines{"node.toml:1: a: unknown key"},
             boost::test_tools::per_element());
  std::string dotted = "a";
  for (int i = 0; i < 63; ++i) {
    dotted += ".a";
  }
  BOOST_TEST(errorsOf(dotted + " = 1\n") == Lines{"node.toml:1: a: unknown key"}, boost::test_tools::per_element());
  // Brackets inside strings and comments do not count.
  const std::string brackets(1000, '[');
  BOOST_TEST(errorsOf("# " + brackets + "\n[log]\nfile = \"" + brackets + "\"\n[tls]\ncert = '" + brackets +
                      "'\nkey = \"\"\"\n" + brackets + R"(\"""")" + "\n[node]\npostmaster = '''" + brackets +
                      "'''\n") ==
                 (Lines{
                     "node.toml:9: node.postmaster: invalid value \"" + std::string(100, '[') +
                         "...\": not an address (local@domain, RFC 5321)",
                 }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused_before_parsing) {
  // toml11 3.7.1 read out of bounds on invalid UTF-8 inside '...' and '''...''' strings
  // (found by the fuzzer); the whole document is checked first.
  const std::string message = ": not valid UTF-8 (a TOML file must be UTF-8)";
  BOOST_TEST(errorsOf("[log]\nfile = 'a\xff'\n") == Lines{"node.toml:2" + message}, boost::test_tools::per_element());
  BOOST_TEST(errorsOf("[log]\n\nfile = '''\n\xc3\x28'''\n") == Lines{"node.toml:4" + message},
             boost::test_tools::per_element());
  BOOST_TEST(errorsOf("# caf\xe9\n") == Lines{"node.toml:1" + message}, boost::test_tools::per_element());
  BOOST_TEST(errorsOf("", {{"p.toml", "tenant = \"t\"\ndomains = ['\xed\xa0\x80.test']\n"}}) ==
                 Lines{"p.toml:2" + message},
             boost::test_tools::per_element());
  // Valid UTF-8 is fine in comments and strings.
  BOOST_TEST(errorsOf("# caf\xc3\xa9\n[log]\nfile = 'journal-\xc3\xa9t\xc3\xa9.log'\n").empty());
}

BOOST_AUTO_TEST_CASE(control_bytes_in_keys_are_escaped) {
  BOOST_TEST(errorsOf("[smtp]\n\"max\\u0001errors\" = 1\n") ==
                 Lines{"node.toml:2: smtp.max\\x01errors: unknown key (did you mean \"smtp.max_errors\"?)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
