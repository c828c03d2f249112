// `mxgate queue ls|show|retry|delete` — a thin client of the running daemon's admin API.
// It reads the node config for the admin address and the token file, makes one blocking
// HTTP request on loopback, and prints a table (or the JSON with --json). Runs in the CLI
// process, never inside the daemon.
#pragma once

#include <string>
#include <vector>

#include "mxgate/config/config.h"

namespace mxgate::admin {

// args: what follows "queue" on the command line. Returns the process exit status:
// 0 ok, 1 the daemon said no (not found, conflict), 2 usage error, 3 cannot reach the daemon.
int runQueueCommand(const config::Config& config, const std::vector<std::string>& args, bool json);

}  // namespace mxgate::admin
