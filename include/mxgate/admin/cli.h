// `mxgate queue ls|show|retry|delete`, `mxgate quarantine ls|show|release|delete|hold|unhold`,
// `mxgate audit`, `mxgate webhooks ls|replay`, `mxgate credentials add|ls|revoke` and `mxgate drain` — thin clients of the running daemon's admin API. They read the node
// config for the admin address and the token file, make one blocking HTTP request on loopback
// (naming the user as the actor for the audit log), and print a table (or the JSON with
// --json). `mxgate check` asks the same API for the settings the daemon runs with. Runs in the
// CLI process, never inside the daemon.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "mxgate/config/config.h"

namespace mxgate::admin {

// group: "queue", "quarantine", "audit", "webhooks" or "credentials"; args: what follows it on the command line.
// Returns the process exit status: 0 ok, 1 the daemon said no (not found, refused, conflict),
// 2 usage error, 3 cannot reach the daemon.
int runAdminCommand(const config::Config& config, const std::string& group, const std::vector<std::string>& args,
                    bool json);

// For `mxgate check`: when a daemon runs on this configuration's spool, prints to out every
// node key whose value in config differs from the one the daemon runs with, and whether a
// reload (SIGHUP) applies it or it takes a restart. Prints nothing when no daemon ever ran on
// the spool (no admin token), and one line when the daemon cannot be asked.
void compareWithRunning(const config::Config& config, std::ostream& out);

}  // namespace mxgate::admin
