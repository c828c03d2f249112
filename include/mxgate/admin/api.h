// The admin API served on the control loop (loopback HTTP, bearer token):
//   GET    /healthz                    liveness, no token
//   POST   /receiver/<tenant>          the local webhook receiver (local_receiver.h): signed, no token
//   GET    /metrics                    Prometheus text exposition, no token
//   GET    /v1/queue[?limit=N]         queued and dead-lettered messages (JSON)
//   GET    /v1/queue/<id>              one message with per-recipient state (JSON)
//   POST   /v1/queue/<id>/retry        deliver now / requeue a dead letter
//   DELETE /v1/queue/<id>              remove a message (and its quarantine entries)
//   GET    /v1/quarantine[?tenant=T&reason=R&limit=N]      quarantine entries (JSON)
//   GET    /v1/quarantine/<id>[?tenant=T]                  one entry, its message, headers, audit
//   POST   /v1/quarantine/<id>/release[?tenant=T&force=1]  re-scan, then deliver
//   POST   /v1/quarantine/<id>/hold|unhold[?tenant=T]      legal hold on / off
//   DELETE /v1/quarantine/<id>[?tenant=T]                  delete the quarantined copy
//   GET    /v1/audit[?limit=N]                             audit log, newest first
//   GET    /v1/config                      the node settings the daemon runs with (restart-only
//                                           keys keep their start-up values across reloads)
//   GET    /v1/webhooks                    webhook and event endpoints (disabled?, pending and
//                                           dead events) and dead-lettered messages
//   POST   /v1/webhooks/<id>/replay        re-enable the endpoints, requeue one dead letter
//   POST   /v1/webhooks/replay[?tenant=T]  the same for every dead letter and dead event (of a tenant)
//   GET    /v1/credentials[?tenant=T]      tenants' credentials (never a hash or secret)
//   POST   /v1/credentials?tenant=T&name=N[&kind=smtp|api]   create one: 201 {"username", "secret"},
//                                           the only time the secret is shown (auth/credentials.h)
//   POST   /v1/credentials/<username>/revoke                 revoke one
//   GET    /v1/suppressions?tenant=T[&after=A&limit=N]       a tenant's suppression list in address
//                                           order: {"suppressions": [...], "next": A or ""}
//   POST   /v1/suppressions?tenant=T       body {"addresses": [...], "detail": D, "import": bool}:
//                                           200 {"added", "already", "invalid": [{"address", "error"}]}
//   POST   /v1/suppressions/remove?tenant=T  body {"addresses": [...]}: 200 {"removed", "not_listed", "invalid"}
//   GET    /v1/shaping                     destination sites with open connections or a back-off in force
//   POST   /v1/shaping/resume?site=S       end a site's back-off now (logged with the actor)
//   GET    /v1/drain                       the node's drain: draining?, sessions, deliveries, queue
//   POST   /v1/drain[?until_empty=1&timeout=D]  stop taking mail, finish what is under way (and
//                                           with until_empty deliver the queue), then exit
// Without tenant=, a quarantine action applies to the message's only entry. The X-Mxgate-Actor
// header names who acts, for the audit log ("api" when absent).
// Credential and suppression changes are audited like quarantine actions.
// `mxgate queue|quarantine|audit|credentials|suppression ...` are clients of this API (RocksDB allows one writer process).
#pragma once

#include <functional>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "mxgate/admin/local_receiver.h"
#include "mxgate/auth/credentials.h"
#include "mxgate/config/config.h"
#include "mxgate/delivery/registry.h"
#include "mxgate/webhook/event_dispatcher.h"
#include "mxgate/http/server.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/spool/suppression.h"

namespace mxgate::admin {

// A node drain as the API asks for and reports it; the node drives it (src/app/drain.h).
struct DrainStatus {
  bool draining = false;
  bool until_empty = false;
  uint64_t sessions = 0;  // SMTP sessions and send API connections still open
  uint64_t active = 0;    // deliveries under way
  uint64_t queued = 0;    // messages in the queue
  std::optional<uint64_t> remaining_ms;  // until it stops anyway; nullopt: no limit
};
struct DrainControl {
  // timeout nullopt: node.shutdown_timeout, or no limit with until_empty.
  std::function<void(bool until_empty, std::optional<std::chrono::milliseconds> timeout, const std::string& actor)>
      request;
  std::function<DrainStatus()> status;
};

// The node settings in effect (config::Config::settings as applied), for GET /v1/config.
using RunningSettings = std::function<std::map<std::string, std::string>()>;

class Api {
 public:
  // loop: the control loop this API runs on; config: the configuration in effect (tenants).
  Api(io::Loop& loop, scheduler::Scheduler& scheduler, delivery::Registry& registry, webhook::EventDispatcher& events,
      LocalReceiver& receiver, auth::CredentialStore& credentials, spool::SuppressionList& suppressions,
      LocalReceiver::ConfigFn config, std::string token,
      std::function<std::string()> metrics, RunningSettings running_settings, DrainControl drain);
  // Runs on the control loop; respond is called there too.
  void handle(const http::Request& request, http::Respond respond);

 private:
  bool authorized(const http::Request& request) const;
  void handleQueue(const http::Request& request, http::Respond respond);
  void handleQuarantine(const http::Request& request, http::Respond respond);
  void handleAudit(const http::Request& request, http::Respond respond);
  void handleWebhooks(const http::Request& request, http::Respond respond);
  void handleCredentials(const http::Request& request, http::Respond respond);
  void addCredential(const http::Request& request, http::Respond respond);
  void handleSuppressions(const http::Request& request, http::Respond respond);
  void handleShaping(const http::Request& request, http::Respond respond);
  void handleDrain(const http::Request& request, http::Respond respond);

  io::Loop& loop_;
  scheduler::Scheduler& scheduler_;
  delivery::Registry& registry_;
  webhook::EventDispatcher& events_;
  LocalReceiver& receiver_;
  auth::CredentialStore& credentials_;
  spool::SuppressionList& suppressions_;
  LocalReceiver::ConfigFn config_;
  std::string token_;
  std::function<std::string()> metrics_;
  RunningSettings running_settings_;
  DrainControl drain_;
};

// admin.token_file, or <spool>/admin.token when it is not set.
std::string tokenPath(const config::Config& config);

// Reads the admin token from path, creating it (32 random bytes, hex, mode 0600) if missing.
bool ensureToken(const std::string& path, std::string& token, std::string& error);

// JSON for a spool record, as the API and `mxgate queue show --json` print it.
std::string messageJson(const spool::MessageRecord& record, bool active);

}  // namespace mxgate::admin
