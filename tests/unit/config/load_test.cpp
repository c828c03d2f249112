// Unit tests for loading valid configurations: the shipped conf/mxgate.toml and policies/,
// defaults for missing keys (they must equal the defaults in config.h), unit conversion,
// several tenants with file and smtp delivery, domain lookup, and load() reading a
// policies directory.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mxgate/config/config.h"
#include "temp_dir.h"

using namespace mxgate::config;
using mxgate::config::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Runs a test body from another working directory and goes back afterwards.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const fs::path& dir) : previous_(fs::current_path()) { fs::current_path(dir); }
  ~WorkingDirectory() { fs::current_path(previous_); }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  fs::path previous_;
};

std::string errorText(const LoadResult& result) {
  std::string out;
  for (const ConfigError& error : result.errors) {
    out += error.str() + "\n";
  }
  return out;
}

const Config& loaded(const LoadResult& result) {
  BOOST_TEST_REQUIRE(result.errors.empty(), errorText(result));
  BOOST_TEST_REQUIRE(result.config != nullptr);
  return *result.config;
}

std::string machineHostname() {
  char host[HOST_NAME_MAX + 1] = {};
  BOOST_TEST_REQUIRE(gethostname(host, sizeof host - 1) == 0);
  return host;
}

const char* kFilePolicy = R"(tenant = "example"
domains = ["example.test"]
[delivery]
target = "file"
path = "queue/inbox"
)";

// Every setting outside node.hostname and node.postmaster.
void expectSameSettings(const Config& a, const Config& b) {
  BOOST_TEST(a.node.id == b.node.id);
  BOOST_TEST(a.node.workers == b.node.workers);
  BOOST_TEST(a.node.policies_dir == b.node.policies_dir);
  BOOST_TEST((a.log.level == b.log.level));
  BOOST_TEST((a.log.format == b.log.format));
  BOOST_TEST(a.log.file == b.log.file);
  BOOST_TEST_REQUIRE(a.listeners.size() == b.listeners.size());
  for (size_t i = 0; i < a.listeners.size(); ++i) {
    BOOST_TEST(a.listeners[i].name == b.listeners[i].name);
    BOOST_TEST((a.listeners[i].role == b.listeners[i].role));
    BOOST_TEST(a.listeners[i].address == b.listeners[i].address);
    BOOST_TEST(a.listeners[i].port == b.listeners[i].port);
    BOOST_TEST((a.listeners[i].tls == b.listeners[i].tls));
  }
  BOOST_TEST(a.tls.cert_file == b.tls.cert_file);
  BOOST_TEST(a.tls.key_file == b.tls.key_file);
  BOOST_TEST(a.tls.min_version == b.tls.min_version);
  BOOST_TEST(a.smtp.max_connections == b.smtp.max_connections);
  BOOST_TEST(a.smtp.max_connections_per_ip == b.smtp.max_connections_per_ip);
  BOOST_TEST(a.smtp.max_line_length == b.smtp.max_line_length);
  BOOST_TEST(a.smtp.max_message_size == b.smtp.max_message_size);
  BOOST_TEST(a.smtp.max_header_size == b.smtp.max_header_size);
  BOOST_TEST(a.smtp.max_recipients == b.smtp.max_recipients);
  BOOST_TEST(a.smtp.max_errors == b.smtp.max_errors);
  BOOST_TEST(a.smtp.max_junk_commands == b.smtp.max_junk_commands);
  BOOST_TEST(a.smtp.max_received_headers == b.smtp.max_received_headers);
  BOOST_TEST(a.smtp.max_messages_per_connection == b.smtp.max_messages_per_connection);
  BOOST_TEST((a.smtp.bare_newline == b.smtp.bare_newline));
  BOOST_TEST(a.smtp.reject_nul == b.smtp.reject_nul);
  BOOST_TEST(a.smtp.command_timeout.count() == b.smtp.command_timeout.count());
  BOOST_TEST(a.smtp.data_timeout.count() == b.smtp.data_timeout.count());
  BOOST_TEST(a.smtp.tls_handshake_timeout.count() == b.smtp.tls_handshake_timeout.count());
  BOOST_TEST(a.smtp.max_pending_output == b.smtp.max_pending_output);
  BOOST_TEST(a.spool.path == b.spool.path);
  BOOST_TEST(a.spool.commit_max_batch == b.spool.commit_max_batch);
  BOOST_TEST(a.spool.commit_max_wait.count() == b.spool.commit_max_wait.count());
  BOOST_TEST(a.spool.chunk_size == b.spool.chunk_size);
  BOOST_TEST(a.spool.max_queued_messages == b.spool.max_queued_messages);
  BOOST_TEST(a.spool.max_queued_bytes == b.spool.max_queued_bytes);
  BOOST_TEST(a.spool.min_free_bytes == b.spool.min_free_bytes);
  BOOST_TEST(a.spool.resume_percent == b.spool.resume_percent);
  BOOST_TEST(a.spool.max_inflight_bytes == b.spool.max_inflight_bytes);
  BOOST_TEST(a.spool.write_buffer_size == b.spool.write_buffer_size);
  BOOST_TEST(a.queue.retry_initial.count() == b.queue.retry_initial.count());
  BOOST_TEST(a.queue.retry_max.count() == b.queue.retry_max.count());
  BOOST_TEST(a.queue.max_age.count() == b.queue.max_age.count());
  BOOST_TEST(a.queue.retry_jitter_percent == b.queue.retry_jitter_percent);
  BOOST_TEST(a.queue.max_active == b.queue.max_active);
  BOOST_TEST(a.queue.hot_cache_bytes == b.queue.hot_cache_bytes);
  BOOST_TEST(a.queue.read_threads == b.queue.read_threads);
  BOOST_TEST(a.queue.file_threads == b.queue.file_threads);
  BOOST_TEST(a.queue.dead_letter_retention.count() == b.queue.dead_letter_retention.count());
  BOOST_TEST(a.queue.audit_retention.count() == b.queue.audit_retention.count());
  BOOST_TEST(a.queue.purge_interval.count() == b.queue.purge_interval.count());
  BOOST_TEST(a.smtp_client.connect_timeout.count() == b.smtp_client.connect_timeout.count());
  BOOST_TEST(a.smtp_client.command_timeout.count() == b.smtp_client.command_timeout.count());
  BOOST_TEST(a.smtp_client.data_timeout.count() == b.smtp_client.data_timeout.count());
  BOOST_TEST(a.smtp_client.idle_timeout.count() == b.smtp_client.idle_timeout.count());
  BOOST_TEST(a.smtp_client.max_messages_per_connection == b.smtp_client.max_messages_per_connection);
  BOOST_TEST(a.admin.address == b.admin.address);
  BOOST_TEST(a.admin.port == b.admin.port);
  BOOST_TEST(a.admin.token_file == b.admin.token_file);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_load)

BOOST_AUTO_TEST_CASE(shipped_configuration_loads_from_the_repository_root) {
  WorkingDirectory cwd(MXGATE_SOURCE_DIR);
  const LoadResult result = load("conf/mxgate.toml");
  const Config& c = loaded(result);
  BOOST_TEST(c.source_file == "conf/mxgate.toml");
  BOOST_TEST(c.node.hostname == "mx.example.test");
  BOOST_TEST(c.node.postmaster == "postmaster@example.test");
  BOOST_TEST(c.node.policies_dir == "policies");
  BOOST_TEST(c.spool.path == "queue");
  BOOST_TEST(c.admin.address == "127.0.0.1");
  BOOST_TEST(c.admin.port == 8025);
  BOOST_TEST_REQUIRE(c.listeners.size() == 2u);
  BOOST_TEST(c.listeners[0].name == "inbound");
  BOOST_TEST((c.listeners[0].role == ListenerRole::Inbound));
  BOOST_TEST(c.listeners[0].address == "127.0.0.1");
  BOOST_TEST(c.listeners[0].port == 2525);
  BOOST_TEST((c.listeners[0].tls == ListenerTls::StartTls));
  BOOST_TEST(c.listeners[1].name == "submission");
  BOOST_TEST((c.listeners[1].role == ListenerRole::Submission));
  BOOST_TEST(c.listeners[1].port == 2587);
  BOOST_TEST((c.listeners[1].tls == ListenerTls::StartTls));
  BOOST_TEST_REQUIRE(c.tenants.size() == 1u);
  const Tenant& example = c.tenants[0];
  BOOST_TEST(example.id == "example");
  BOOST_TEST(example.source_file == "policies/example.toml");
  BOOST_TEST(example.domains == std::vector<std::string>{"example.test"}, boost::test_tools::per_element());
  BOOST_TEST((example.delivery.kind == DeliveryKind::Webhook));
  BOOST_TEST(example.delivery.url == "http://127.0.0.1:8025/receiver/example");
  BOOST_TEST(example.delivery.secret_keys.size() == 1u);
  BOOST_TEST(example.delivery.secret_keys[0].size() == 32u);
  BOOST_TEST(example.delivery.allow_private);
  BOOST_TEST(c.tenantForDomain("Example.TEST") == &example);
  BOOST_TEST(c.tenantById("example") == &example);
}

BOOST_AUTO_TEST_CASE(reference_file_holds_the_defaults) {
  WorkingDirectory cwd(MXGATE_SOURCE_DIR);
  const LoadResult reference = load("conf/mxgate.toml");
  const LoadResult empty = loadFromText("empty.toml", "", {});
  expectSameSettings(loaded(reference), loaded(empty));
}

BOOST_AUTO_TEST_CASE(defaults_apply_when_keys_are_missing) {
  const LoadResult result = loadFromText("empty.toml", "# nothing set\n", {});
  const Config& c = loaded(result);
  BOOST_TEST(c.source_file == "empty.toml");
  BOOST_TEST(c.node.hostname == machineHostname());
  BOOST_TEST(c.node.workers == std::max(1u, std::thread::hardware_concurrency() - 1));
  BOOST_TEST(c.node.policies_dir == "policies");
  BOOST_TEST(c.node.postmaster == "");
  BOOST_TEST(c.spool.path == "queue");
  BOOST_TEST(c.admin.address == "127.0.0.1");
  BOOST_TEST(c.tenants.empty());
  BOOST_TEST(c.domain_index.empty());

  // Every other default is the one declared in config.h.
  Config expected;
  expected.node.workers = c.node.workers;
  expected.node.policies_dir = "policies";
  expected.spool.path = "queue";
  expected.admin.address = "127.0.0.1";
  expected.listeners = {
      Listener{"inbound", ListenerRole::Inbound, "127.0.0.1", 2525, ListenerTls::StartTls},
      Listener{"submission", ListenerRole::Submission, "127.0.0.1", 2587, ListenerTls::StartTls},
  };
  expectSameSettings(c, expected);
  // And the header's values are the ones the brief fixes.
  BOOST_TEST(c.smtp.max_message_size == 26214400u);
  BOOST_TEST(c.smtp.command_timeout.count() == 300000);
  BOOST_TEST(c.spool.commit_max_wait.count() == 100);
  BOOST_TEST(c.queue.max_age.count() == 432000);
  BOOST_TEST(c.admin.port == 8025);
}

BOOST_AUTO_TEST_CASE(changed_settings_name_the_keys_a_reload_cannot_apply) {
  const std::string base = R"([node]
workers = 2
[queue]
max_active = 2000
read_threads = 2
[[listener]]
name = "inbound"
port = 2525
)";
  const LoadResult running_result = loadFromText("node.toml", base, {});
  const Config& running = loaded(running_result);
  BOOST_TEST(running.settings.at("queue.max_active") == "2000");
  BOOST_TEST(running.settings.at("queue.retry_initial") == "5m");  // defaults are there too
  BOOST_TEST(running.settings.at("listener[inbound].port") == "2525");
  BOOST_TEST(changedSettings(running.settings, running.settings).empty());

  // The same values written another way are no change; real changes are sorted by key.
  std::string text = base;
  text.replace(text.find("max_active = 2000"), 17, "max_active = 10\nretry_initial = \"300s\"");
  text.replace(text.find("read_threads = 2"), 16, "read_threads = 4");
  text.replace(text.find("port = 2525"), 11, "port = 2526\n[[listener]]\nname = \"second\"\nport = 2600");
  const LoadResult next_result = loadFromText("node.toml", text, {});
  const Config& next = loaded(next_result);
  const std::vector<SettingChange> changes = changedSettings(running.settings, next.settings);
  std::vector<std::string> described;
  for (const SettingChange& change : changes) {
    described.push_back(change.key + " " + change.running.value_or("-") + " " + change.next.value_or("-") + " " +
                        (change.needs_restart ? "restart" : "reload"));
  }
  BOOST_TEST(described == (std::vector<std::string>{"listener[inbound].port 2525 2526 restart",
                                                    "listener[second].address - 127.0.0.1 restart",
                                                    "listener[second].auth_checks - true restart",
                                                    "listener[second].auth_plaintext - false restart",
                                                    "listener[second].name - second restart",
                                                    "listener[second].port - 2600 restart",
                                                    "listener[second].role - inbound restart",
                                                    "listener[second].scan_before_accept - false restart",
                                                    "listener[second].tls - starttls restart",
                                                    "queue.max_active 2000 10 reload",
                                                    "queue.read_threads 2 4 restart"}),
             boost::test_tools::per_element());

  // Back to the built-in listeners: the explicit ones go, which takes a restart.
  const LoadResult defaults_result = loadFromText("node.toml", "[node]\nworkers = 2\n", {});
  const Config& defaults = loaded(defaults_result);
  const std::vector<SettingChange> to_defaults = changedSettings(running.settings, defaults.settings);
  BOOST_TEST(std::all_of(to_defaults.begin(), to_defaults.end(), [](const SettingChange& change) {
    return change.needs_restart && (change.key == "listener" || change.key.starts_with("listener[inbound]") ||
                                    change.key.starts_with("queue."));
  }));
  BOOST_TEST(!std::any_of(to_defaults.begin(), to_defaults.end(),
                          [](const SettingChange& change) { return change.key.starts_with("queue."); }));
}

BOOST_AUTO_TEST_CASE(values_are_converted_to_their_fields) {
  const LoadResult result = loadFromText("node.toml", R"(
[node]
id = 65535
workers = 3
[log]
level = "debug"
format = "json"
[[listener]]
name = "mx6"
address = "::"
port = 25
[[listener]]
name = "smtps"
role = "submission"
port = 0
tls = "implicit"
[tls]
cert = "c.pem"
key = "k.pem"
min_version = "1.3"
[smtp]
max_line_length = 512
max_message_size = "10MB"
max_header_size = 1048576
bare_newline = "normalize"
reject_nul = false
command_timeout = "90s"
data_timeout = "1500ms"
tls_handshake_timeout = "10m"
[spool]
commit_max_wait = "250us"
min_free_bytes = 0
max_queued_bytes = "16TiB"
[queue]
retry_initial = "1s"
retry_max = "7d"
max_age = "60d"
[smtp_client]
idle_timeout = "0s"
[admin]
address = "::1"
port = 0
)",
                                         {});
  const Config& c = loaded(result);
  BOOST_TEST(c.node.id == 65535);
  BOOST_TEST(c.node.workers == 3u);
  BOOST_TEST((c.log.level == mxgate::log::Level::Debug));
  BOOST_TEST((c.log.format == mxgate::log::Format::Json));
  BOOST_TEST_REQUIRE(c.listeners.size() == 2u);
  BOOST_TEST(c.listeners[0].address == "::");
  BOOST_TEST((c.listeners[0].role == ListenerRole::Inbound));
  BOOST_TEST((c.listeners[0].tls == ListenerTls::StartTls));
  BOOST_TEST(c.listeners[1].address == "127.0.0.1");
  BOOST_TEST(c.listeners[1].port == 0);
  BOOST_TEST((c.listeners[1].role == ListenerRole::Submission));
  BOOST_TEST((c.listeners[1].tls == ListenerTls::Implicit));
  BOOST_TEST(c.tls.cert_file == "c.pem");
  BOOST_TEST(c.tls.key_file == "k.pem");
  BOOST_TEST(c.tls.min_version == 13);
  BOOST_TEST(c.smtp.max_line_length == 512u);
  BOOST_TEST(c.smtp.max_message_size == 10000000u);
  BOOST_TEST(c.smtp.max_header_size == 1048576u);
  BOOST_TEST((c.smtp.bare_newline == BareNewline::Normalize));
  BOOST_TEST(!c.smtp.reject_nul);
  BOOST_TEST(c.smtp.command_timeout.count() == 90000);
  BOOST_TEST(c.smtp.data_timeout.count() == 1500);
  BOOST_TEST(c.smtp.tls_handshake_timeout.count() == 600000);
  BOOST_TEST(c.spool.commit_max_wait.count() == 250);
  BOOST_TEST(c.spool.min_free_bytes == 0u);
  BOOST_TEST(c.spool.max_queued_bytes == 17592186044416u);
  BOOST_TEST(c.queue.retry_initial.count() == 1);
  BOOST_TEST(c.queue.retry_max.count() == 604800);
  BOOST_TEST(c.queue.max_age.count() == 5184000);
  BOOST_TEST(c.smtp_client.idle_timeout.count() == 0);
  BOOST_TEST(c.admin.address == "::1");
  BOOST_TEST(c.admin.port == 0);
}

BOOST_AUTO_TEST_CASE(explicit_empty_listener_array_means_no_listeners) {
  const LoadResult result = loadFromText("node.toml", "listener = []\n", {});
  BOOST_TEST(loaded(result).listeners.empty());
}

BOOST_AUTO_TEST_CASE(several_policies_from_text) {
  const std::vector<PolicySource> policies{
      {"p/acme.toml", R"(tenant = "acme"
domains = ["Acme.Test", "MAIL.acme.test"]
[delivery]
target = "smtp"
host = "relay.acme.test"
)"},
      {"p/beta.toml", R"(tenant = "beta"
domains = ["beta.test"]
[delivery]
target = "smtp"
host = "2001:db8::25"
port = 2525
max_connections = 3
tls = "verify"
tls_verify_name = "mx.beta.test"
)"},
      {"p/example.toml", kFilePolicy},
  };
  const LoadResult result =
      loadFromText("node.toml", "[node]\npostmaster = \"Postmaster@Mail.Acme.Test\"\n", policies);
  const Config& c = loaded(result);
  BOOST_TEST_REQUIRE(c.tenants.size() == 3u);
  const Tenant& acme = c.tenants[0];
  BOOST_TEST(acme.id == "acme");
  BOOST_TEST(acme.source_file == "p/acme.toml");
  BOOST_TEST(acme.domains == (std::vector<std::string>{"acme.test", "mail.acme.test"}),
             boost::test_tools::per_element());
  BOOST_TEST((acme.delivery.kind == DeliveryKind::Smtp));
  BOOST_TEST(acme.delivery.host == "relay.acme.test");
  BOOST_TEST(acme.delivery.port == 25);
  BOOST_TEST(acme.delivery.max_connections == 10u);
  BOOST_TEST((acme.delivery.tls == ClientTls::May));
  BOOST_TEST(acme.delivery.tls_ca_file.empty());
  BOOST_TEST(acme.delivery.tls_verify_name.empty());
  const Tenant& beta = c.tenants[1];
  BOOST_TEST(beta.delivery.host == "2001:db8::25");
  BOOST_TEST(beta.delivery.port == 2525);
  BOOST_TEST(beta.delivery.max_connections == 3u);
  BOOST_TEST((beta.delivery.tls == ClientTls::Verify));
  BOOST_TEST(beta.delivery.tls_verify_name == "mx.beta.test");
  const Tenant& example = c.tenants[2];
  BOOST_TEST((example.delivery.kind == DeliveryKind::File));
  BOOST_TEST(example.delivery.path == "queue/inbox");

  BOOST_TEST(c.domain_index.size() == 4u);
  BOOST_TEST(c.tenantForDomain("acme.test") == &acme);
  BOOST_TEST(c.tenantForDomain("ACME.TEST") == &acme);
  BOOST_TEST(c.tenantForDomain("mail.ACME.test") == &acme);
  BOOST_TEST(c.tenantForDomain("Beta.Test") == &beta);
  BOOST_TEST(c.tenantForDomain("example.test") == &example);
  BOOST_TEST(c.tenantForDomain("sub.example.test") == nullptr);
  BOOST_TEST(c.tenantForDomain("example.test.") == nullptr);
  BOOST_TEST(c.tenantForDomain("") == nullptr);
  BOOST_TEST(c.tenantById("beta") == &beta);
  BOOST_TEST(c.tenantById("BETA") == nullptr);
  BOOST_TEST(c.tenantById("gamma") == nullptr);
  BOOST_TEST(c.node.postmaster == "Postmaster@Mail.Acme.Test");
}

BOOST_AUTO_TEST_CASE(load_reads_toml_files_of_the_policies_directory_in_name_order) {
  TempDir dir;
  fs::create_directory(dir.path() / "policies");
  fs::create_directory(dir.path() / "policies" / "nested.toml");
  dir.write("policies/b.toml", "tenant = \"b\"\ndomains = [\"b.test\"]\n[delivery]\ntarget = \"file\"\npath = \"out\"\n");
  dir.write("policies/a.toml", "tenant = \"a\"\ndomains = [\"a.test\"]\n[delivery]\ntarget = \"file\"\npath = \"out\"\n");
  dir.write("policies/notes.txt", "not toml at all [[[\n");
  dir.write("policies/b.toml.orig", "tenant = 5\n");
  dir.write("policies/.#a.toml", "tenant = 5\n");
  dir.write("node.toml", "[node]\nhostname = \"mx.a.test\"\n");
  WorkingDirectory cwd(dir.path());
  const LoadResult result = load("node.toml");
  const Config& c = loaded(result);
  BOOST_TEST_REQUIRE(c.tenants.size() == 2u);
  BOOST_TEST(c.tenants[0].id == "a");
  BOOST_TEST(c.tenants[0].source_file == "policies/a.toml");
  BOOST_TEST(c.tenants[1].id == "b");
  BOOST_TEST(c.tenants[1].source_file == "policies/b.toml");
}

BOOST_AUTO_TEST_CASE(load_reports_policy_errors_with_their_paths) {
  TempDir dir;
  fs::create_directory(dir.path() / "tenants");
  dir.write("tenants/a.toml", "tenant = \"a\"\ndomains = [\"a.test\"]\n[delivery]\ntarget = \"file\"\npath = \"out\"\n");
  dir.write("tenants/z.toml", "tenant = \"z\"\ndomains = [\"A.test\"]\n[delivery]\ntarget = \"file\"\npath = \"out\"\n");
  dir.write("node.toml", "[node]\npolicies = \"tenants\"\n[smtp]\nmax_recipients = 10\n");
  WorkingDirectory cwd(dir.path());
  const LoadResult result = load("node.toml");
  BOOST_TEST(result.config == nullptr);
  BOOST_TEST(errorText(result) ==
             "node.toml:4: smtp.max_recipients: out of range: must be between 100 and 100000\n"
             "tenants/z.toml:2: domains: domain \"a.test\" is already owned by tenant \"a\" in tenants/a.toml\n");
}

BOOST_AUTO_TEST_CASE(load_reports_a_missing_policies_directory) {
  TempDir dir;
  dir.write("node.toml", "# node\n[node]\npolicies = \"no-such-dir\"\npostmaster = \"pm@example.test\"\n");
  WorkingDirectory cwd(dir.path());
  const LoadResult result = load("node.toml");
  BOOST_TEST(result.config == nullptr);
  BOOST_TEST_REQUIRE(result.errors.size() == 1u, errorText(result));
  const ConfigError& error = result.errors[0];
  BOOST_TEST(error.file == "node.toml");
  BOOST_TEST(error.line == 3);
  BOOST_TEST(error.key == "node.policies");
  BOOST_TEST(error.message == "policies directory \"no-such-dir\" does not exist (relative paths are resolved "
                              "against the working directory \"" + fs::current_path().string() + "\")");
}

BOOST_AUTO_TEST_CASE(load_reports_a_default_policies_directory_that_is_missing) {
  TempDir dir;
  dir.write("node.toml", "");
  WorkingDirectory cwd(dir.path());
  const LoadResult result = load("node.toml");
  BOOST_TEST_REQUIRE(result.errors.size() == 1u, errorText(result));
  BOOST_TEST(result.errors[0].str().starts_with("node.toml: node.policies: policies directory \"policies\" does not exist"));
}

BOOST_AUTO_TEST_CASE(load_reports_a_policies_path_that_is_a_file) {
  TempDir dir;
  dir.write("node.toml", "[node]\npolicies = \"node.toml\"\n");
  WorkingDirectory cwd(dir.path());
  const LoadResult result = load("node.toml");
  BOOST_TEST_REQUIRE(result.errors.size() == 1u, errorText(result));
  BOOST_TEST(result.errors[0].str().starts_with("node.toml:2: node.policies: policies directory \"node.toml\" is not a directory"));
}

BOOST_AUTO_TEST_CASE(load_reports_a_missing_node_file) {
  TempDir dir;
  const std::string path = (dir.path() / "absent.toml").string();
  const LoadResult result = load(path);
  BOOST_TEST(result.config == nullptr);
  BOOST_TEST(errorText(result) == path + ": cannot read file: No such file or directory\n");
}

BOOST_AUTO_TEST_SUITE_END()
