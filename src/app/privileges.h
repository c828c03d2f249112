// Giving up root at start-up (node.user): every listening port is bound first, then the process
// becomes the user (initgroups(3), setgid(2), setuid(2), POSIX.1-2017), so the spool, key files
// and log file it then opens and creates belong to that user. Main thread, before any other
// thread is started (setuid applies to the whole process, but threads started later need not
// be signalled).
#pragma once

#include <string>

#include "mxgate/config/config.h"

namespace mxgate::app {

// Run as root with node.user set: reserves every listening socket the configuration names
// (io::reserveSocket), then becomes node.user and checks that root cannot be regained. Already
// running as node.user, or node.user = "": nothing to do. Returns false with error (naming
// config_path and the key) when the user is unknown, when running as another non-root user,
// or when a step fails.
bool becomeNodeUser(const std::string& config_path, const config::Config& config, std::string& error);

// Logs a warning when the process runs as root: without node.user, or started by root on
// purpose, everything it creates belongs to root.
void warnIfRoot(const config::Config& config);

}  // namespace mxgate::app
