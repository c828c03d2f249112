// Delivery targets by tenant. update() (start-up and every reload) builds a target for each
// tenant's [delivery] policy, reusing the existing target when the settings are unchanged
// (an smtp target then takes the freshly built TLS contexts for its new connections);
// targets are kept until shutdown so deliveries under way are never cut off by a reload.
// Webhook targets are one per tenant (their secrets, links and thread settings are the
// tenant's); their HTTP clients run on the loop WebhookContext names (the control loop).
// Delivery status notifications are routed under delivery::kBounceRoute: to the [bounces]
// relay like a tenant's smtp next hop, or without one to the senders' mail exchangers (mx).
// A tenant's own authenticated mail goes to its [outbound] target: "mx", an mx target built
// from the [mx] settings with the budget mx.max_connections, shared by all tenants (the
// reports by mx have their own, bounces.max_connections). forTenant() is what the scheduler's
// resolver calls. The MTA-STS policies of recipient domains are fetched on the webhooks' loop
// and kept across reloads. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "mxgate/delivery/mta_sts_policies.h"
#include "mxgate/delivery/mx_target.h"
#include "mxgate/delivery/smtp_target.h"
#include "mxgate/delivery/target.h"
#include "mxgate/delivery/webhook_target.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"

namespace mxgate::delivery {

class Registry {
 public:
  // store: where MTA-STS policies are kept across restarts (null: in memory only).
  Registry(std::vector<io::Loop*> loops, io::Lane& file_lane, WebhookContext webhooks, dns::Resolver& resolver,
           spool::Store* store);
  ~Registry();

  // client_tls: built for this config (ClientTlsContexts::build succeeded).
  void update(const config::Config& config, const ClientTlsContexts& client_tls);
  // outbound: the tenant's [outbound] target (for its authenticated mail), else its [delivery] one.
  Target* forTenant(const std::string& tenant, bool outbound) const;
  // The tenant's SMTP next hop itself (under any link rewriting), for recipient probes;
  // nullptr when its target is not smtp.
  SmtpTarget* nextHopFor(const std::string& tenant) const;
  void shutdown();
  // TLS outcomes of MX delivery since start (mxgate_mx_tls_*_total).
  const TlsCounters& mxTlsCounters() const { return mx_tls_counters_; }
  // Mail to mail exchangers held back by traffic shaping, and back-offs (mxgate_mx_throttled_total).
  const shaping::ThrottleCounters& throttleCounters() const { return shaping_.counters(); }
  // Destination sites with open connections or a back-off in force; ending a back-off early.
  std::vector<shaping::SiteStatus> busySites(uint64_t now_us) { return shaping_.busySites(now_us); }
  bool endBackoff(std::string_view site, uint64_t now_us) { return shaping_.endBackoff(site, now_us); }

  struct WebhookEndpoint {
    std::string tenant;
    std::string url;  // redacted
    bool disabled = false;
  };
  // The current tenants' webhook endpoints.
  std::vector<WebhookEndpoint> webhookEndpoints() const;
  // Re-enables a tenant's endpoint disabled by a 410 (and persists it); false when the tenant
  // has none.
  bool enableWebhook(const std::string& tenant);

 private:
  // The mx target of the current [mx] settings with this budget, built on first use (mutex_ held).
  MxTarget* mxTarget(const config::Config& config, uint32_t max_connections,
                     const std::shared_ptr<const MxTlsPolicies>& tls);

  std::vector<io::Loop*> loops_;
  io::Lane& file_lane_;
  WebhookContext webhooks_;
  dns::Resolver& resolver_;
  shaping::DestinationLimits shaping_;  // of every mx target (mx.shaping_file); outlives targets_
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Target>> targets_;  // by settings key
  std::unordered_map<std::string, Target*> by_tenant_;
  std::unordered_map<std::string, Target*> outbound_by_tenant_;
  std::unordered_map<std::string, WebhookTarget*> webhooks_by_tenant_;
  std::unordered_map<std::string, SmtpTarget*> next_hops_by_tenant_;
  std::map<std::string, SmtpTarget*> smtp_targets_;  // by settings key, owned by targets_
  std::map<std::string, MxTarget*> mx_targets_;      // by settings key, owned by targets_
  TlsCounters mx_tls_counters_;
  MtaStsPolicies mta_sts_;  // on the webhooks' loop, shared by every mx target
};

}  // namespace mxgate::delivery
