// A running mxgate node: wires the spool, the scheduler, the delivery targets, the SMTP
// listeners and the admin API together, and owns the threads (worker loops, the control
// loop, the lanes, the spool writer). run() is called on the main thread, which then only
// waits for signals: SIGHUP reloads the configuration atomically, SIGTERM/SIGINT shut down.
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
