// mxgate command line: `run`, `check`, `queue ...`, `quarantine ...`, `audit`, `dkim keygen`
// (see README.md).
// Main thread.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "mxgate/admin/cli.h"
#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "dkim_command.h"
#include "mxgate/tls/tls.h"
#include "node.h"

namespace {

constexpr const char* kDefaultConfig = "conf/mxgate.toml";

int usage(std::ostream& out, int status) {
  out << "usage:\n"
         "  mxgate run   [--config PATH]    start the gateway (default config: conf/mxgate.toml)\n"
         "  mxgate check [--config PATH]    validate the node config and every policy (and compare\n"
         "                                 it with the running daemon's settings), then exit\n"
         "  mxgate queue ls [--limit N] | show ID | retry ID | delete ID  [--json] [--config PATH]\n"
         "  mxgate quarantine ls [--tenant T] [--reason R] [--limit N]  [--json] [--config PATH]\n"
         "  mxgate quarantine show|release|delete|hold|unhold ID [--tenant T] [--force]  [--json]\n"
         "  mxgate audit [--limit N]  [--json] [--config PATH]\n"
         "  mxgate webhooks ls | replay ID | replay --all [--tenant T]  [--json] [--config PATH]\n"
         "  mxgate credentials add --tenant T --name N [--kind smtp|api]  [--json] [--config PATH]\n"
         "  mxgate credentials ls [--tenant T] | revoke USERNAME  [--json] [--config PATH]\n"
         "  mxgate suppression ls --tenant T [--limit N]  [--json] [--config PATH]\n"
         "  mxgate suppression add|remove ADDRESS... --tenant T [--detail TEXT]  [--json] [--config PATH]\n"
         "  mxgate suppression import FILE --tenant T  (one address a line, # comments)  [--json] [--config PATH]\n"
         "  mxgate shaping ls | resume SITE  (destination sites busy or backed off)  [--json] [--config PATH]\n"
         "  mxgate drain [--until-empty] [--timeout SECONDS] [--no-wait]  stop taking mail, finish what is\n"
         "                                 under way (--until-empty: deliver the queue too), then exit\n"
         "  mxgate dkim keygen --domain D --selector S --algorithm rsa|ed25519 [--bits N] [--out PATH]\n"
         "  mxgate version\n";
  return status;
}

// Loads the configuration and prints every error as "file:line: key: message".
std::shared_ptr<const mxgate::config::Config> loadOrReport(const std::string& path) {
  mxgate::config::LoadResult result = mxgate::config::load(path);
  for (const auto& error : result.errors) {
    std::cerr << error.str() << "\n";
  }
  return result.config;
}

// `check` also proves that a configured certificate and key load and match, and that the
// CA files of the tenants' verify TLS level load; with a daemon running on the file's spool,
// it names the settings that differ from the running ones.
int check(const std::string& path) {
  auto config = loadOrReport(path);
  if (!config) {
    return 1;
  }
  if (!config->tls.cert_file.empty()) {
    std::string error;
    if (!mxgate::tls::Context::server(config->tls.cert_file, config->tls.key_file, config->tls.min_version, error)) {
      std::cerr << path << ": tls.cert: " << error << "\n";
      return 1;
    }
  }
  std::string error;
  if (mxgate::delivery::ClientTlsContexts client_tls; !client_tls.build(*config, error)) {
    std::cerr << error << "\n";
    return 1;
  }
  std::cout << path << ": ok (" << config->listeners.size() << " listeners, " << config->tenants.size()
            << " tenants)\n";
  mxgate::admin::compareWithRunning(*config, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_path = kDefaultConfig;
  bool json = false;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "-h" || args[i] == "--help") {
      return usage(std::cout, 0);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (rest.empty()) {
    return usage(std::cerr, 2);
  }
  const std::string command = rest.front();
  rest.erase(rest.begin());
  if (command == "version") {
    std::cout << "mxgate 0.1.0\n";
    return 0;
  }
  if (command == "check") {
    return check(config_path);
  }
  if (command == "run") {
    auto config = loadOrReport(config_path);
    if (!config) {
      return 1;
    }
    mxgate::app::Node node(config_path, config);
    return node.run();
  }
  if (command == "dkim") {
    return mxgate::app::runDkimCommand(rest, std::cout, std::cerr);
  }
  if (command == "queue" || command == "quarantine" || command == "audit" || command == "webhooks" || command == "shaping" || command == "drain" ||
      command == "credentials" || command == "suppression") {
    auto config = loadOrReport(config_path);
    if (!config) {
      return 1;
    }
    return mxgate::admin::runAdminCommand(*config, command, rest, json);
  }
  return usage(std::cerr, 2);
}
