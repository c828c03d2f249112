// A running mxgate node: wires the spool, the scheduler, the delivery targets, the SMTP
// listeners, the inbound checks (resolver, DKIM lane, scanner) and the admin API together, and
// owns the threads (worker loops, the control loop, the resolver loop, the lanes, the spool
// writer). run() is called on the main thread, which then only waits for signals: SIGHUP
// reloads the configuration atomically and the virus signatures, SIGTERM/SIGINT drain the node
// (src/app/drain.h) and then shut it down.
#pragma once

#include <memory>
#include <string>

#include "mxgate/config/config.h"

namespace mxgate::app {

class Node {
 public:
  Node(std::string config_path, std::shared_ptr<const config::Config> config);
  ~Node();
  // Returns the process exit status.
  int run();

 private:
  struct Parts;
  // The resolver, the auth lane, DKIM/DMARC libraries and the scanner.
  bool startInbound(Parts& parts, std::string& error);
  void reload();
  void shutdown();

  std::string config_path_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<Parts> parts_;
};

// Paths of the self-signed certificate generated when [tls] cert/key are not set.
std::string defaultCertPath(const config::Config& config);
std::string defaultKeyPath(const config::Config& config);

}  // namespace mxgate::app
