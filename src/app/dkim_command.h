// `mxgate dkim keygen`: creates a DKIM key pair, writes the private key and prints the DNS
// record to publish. Runs in the CLI process (main thread), never inside the daemon.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mxgate::app {

// args: what follows "dkim" on the command line. Prints the zone-file TXT line to out and
// messages to err; returns the exit status (0 ok, 1 the key could not be written, 2 usage).
int runDkimCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mxgate::app
