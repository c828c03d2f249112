// What a new SMTP session needs from the running node: the configuration snapshot and the
// TLS server context, swapped atomically on reload (SIGHUP), plus the long-lived services.
// A session takes one Snapshot when it starts and keeps it for its whole life, so a reload
// never changes the rules in the middle of a transaction. current() and replace() are
// thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mxgate/base/ip_network.h"
#include "mxgate/config/config.h"
#include "mxgate/tls/tls.h"

namespace mxgate::spool {
class Store;
class Admission;
}  // namespace mxgate::spool
namespace mxgate::scheduler {
class Scheduler;
}
namespace mxgate::pipeline {
struct Services;
}
namespace mxgate::auth {
class Authenticator;
}

namespace mxgate::server {

class RecipientVerifier;

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<tls::Context> tls;  // null when no listener uses TLS
  std::vector<IpNetwork> xclient_networks;  // parsed smtp.xclient_networks
  // Authentication-Results claiming any of these are removed on arrival: ours first (what we
  // write: auth.authserv_id, or node.hostname), then auth.remove_authres_ids.
  std::vector<std::string> authserv_ids;
};

// A snapshot with the derived data filled in from the configuration.
Snapshot makeSnapshot(std::shared_ptr<const config::Config> config, std::shared_ptr<tls::Context> tls);

class Runtime {
 public:
  // inbound: the pipeline stages' shared services; nullptr runs no inbound checks (unit tests).
  // verifier: probes next hops for tenants with delivery.recipients = "verify".
  // authenticator: checks AUTH credentials on submission listeners.
  Runtime(Snapshot snapshot, spool::Store& store, spool::Admission& admission, scheduler::Scheduler& scheduler,
          pipeline::Services* inbound, RecipientVerifier& verifier, auth::Authenticator& authenticator)
      : snapshot_(std::move(snapshot)),
        store_(store),
        admission_(admission),
        scheduler_(scheduler),
        inbound_(inbound),
        verifier_(verifier),
        authenticator_(authenticator) {}

  Snapshot current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshot_;
  }
  void replace(Snapshot snapshot) {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot_ = std::move(snapshot);
  }

  spool::Store& store() { return store_; }
  spool::Admission& admission() { return admission_; }
  scheduler::Scheduler& scheduler() { return scheduler_; }
  pipeline::Services* inbound() { return inbound_; }
  RecipientVerifier& verifier() { return verifier_; }
  auth::Authenticator& authenticator() { return authenticator_; }

 private:
  mutable std::mutex mutex_;
  Snapshot snapshot_;
  spool::Store& store_;
  spool::Admission& admission_;
  scheduler::Scheduler& scheduler_;
  pipeline::Services* inbound_;
  RecipientVerifier& verifier_;
  auth::Authenticator& authenticator_;
};

}  // namespace mxgate::server
