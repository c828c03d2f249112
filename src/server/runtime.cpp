// Runtime snapshots (see include/mxgate/server/runtime.h). Any thread.
#include "mxgate/server/runtime.h"

namespace mxgate::server {

Snapshot makeSnapshot(std::shared_ptr<const config::Config> config, std::shared_ptr<tls::Context> tls) {
  Snapshot snapshot{std::move(config), std::move(tls), {}, {}};
  snapshot.xclient_networks = parseNetworks(snapshot.config->smtp.xclient_networks);
  const config::AuthSettings& auth = snapshot.config->auth;
  snapshot.authserv_ids.push_back(auth.authserv_id.empty() ? snapshot.config->node.hostname : auth.authserv_id);
  snapshot.authserv_ids.insert(snapshot.authserv_ids.end(), auth.remove_authres_ids.begin(),
                               auth.remove_authres_ids.end());
  return snapshot;
}

}  // namespace mxgate::server
