// Runtime snapshots (see include/mxgate/server/runtime.h). Any thread.
#include "mxgate/server/runtime.h"

namespace mxgate::server {

Snapshot makeSnapshot(std::shared_ptr<const config::Config> config, std::shared_ptr<tls::Context> tls) {
  Snapshot snapshot{std::move(config), std::move(tls), {}};
  for (const std::string& network : snapshot.config->smtp.xclient_networks) {
    if (auto parsed = IpNetwork::parse(network)) {  // the config loader validated them
      snapshot.xclient_networks.push_back(*parsed);
    }
  }
  return snapshot;
}

}  // namespace mxgate::server
