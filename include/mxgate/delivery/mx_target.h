// The `mx` delivery target: each recipient domain's mail goes to that domain's mail exchangers
// (RFC 5321 §5; the route from mx_route.h). The recipients of a job are grouped by domain, one
// transaction per domain; each domain's addresses are tried in order while a peer cannot be
// reached for a transaction (connection, greeting, EHLO or TLS failure, 421 before the first
// transaction), so a dead or busy primary exchanger falls through to the next one in the same
// attempt. Per-recipient outcomes come back in the job's order. Connections are pooled per
// worker loop and per exchanger address (reused like the smtp target's, at most
// connections_per_host per address across the loops); pools left without connections are
// dropped once more than kMaxIdlePools exist on a loop. The TLS level of each part comes from
// MxTlsPolicies (the job's tenant and the recipient domain); the exchanger's name is the SNI
// and, under verify, the name its certificate must carry. A TLS failure under encrypt or
// verify makes the exchanger unreached (the next one is tried) and never falls back to
// plaintext; when every exchanger fails that way the part is deferred with a 4.7.x text.
// Under dane (RFC 7672) an exchanger reached through validated DNS answers first has its
// TLSA records looked up (_25._tcp.<exchanger>, through the shared resolver): usable ones
// authenticate it, and a lookup that fails or does not validate makes it unreached (4.7.5,
// counted as dnssec-invalid), never "no TLSA". With mx.mta_sts the domain's MTA-STS policy
// (RFC 8461, mta_sts_policies.h) applies first: under enforce only the exchangers it names are
// tried, each requiring STARTTLS and a PKIX certificate for its name (DANE still wins), and a
// domain none of whose exchangers it names is deferred (4.7.0); testing delivers as the TLS
// level says and counts what enforce would have refused (exchangers it does not name as
// validation-failure, certificates that do not verify for the exchanger by their result type).
// Traffic shaping (shaping/destination_limits.h) applies per destination site: a part whose
// site's message rate is spent, or whose site is suspended, is held back before any connection
// (not attempted: RecipientResult::held_until_us), the site's connection limit and rate gate
// every new connection of its pools, its messages per connection end a connection with QUIT,
// and a temporary reply matching a back-off rule tightens the site's limits for a while.
//
// deliver() and setTls() are thread-safe: a job runs on one worker loop (round robin), its
// route is resolved on the resolver's thread and handed back to that loop.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "mxgate/delivery/mta_sts_policies.h"
#include "mxgate/delivery/mx_route.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/loop.h"
#include "mxgate/shaping/destination_limits.h"

namespace mxgate::delivery {

class ClientPool;

class MxTarget : public Target {
 public:
  static constexpr size_t kMaxIdlePools = 64;

  // max_connections: jobs under way at once (the scheduler's budget for this target).
  // shaping: the destination sites' limits, shared by every mx target (outlives this one).
  MxTarget(dns::Resolver& resolver, const config::MxSettings& mx, uint32_t max_connections,
           const config::SmtpClientSettings& settings, std::string helo_name, std::vector<io::Loop*> loops,
           std::shared_ptr<const MxTlsPolicies> tls, shaping::DestinationLimits& shaping);
  ~MxTarget() override;

  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  uint32_t concurrency() const override { return max_connections_; }
  void shutdown() override;
  std::string describe() const override { return "mx"; }
  // Parts started from now on use these policies (a reload rebuilt them).
  void setTls(std::shared_ptr<const MxTlsPolicies> tls);

 private:
  struct Delivery;
  struct LoopPools;

  void deliverDomain(std::shared_ptr<Delivery> delivery, size_t part, MxRoute route);
  // Applies the domain's MTA-STS policy (nullptr: none) to its route and TLS, then tries the hops.
  void applyMtaSts(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route,
                   ClientTlsPolicy tls, StsPolicyPtr sts);
  void tryHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route, size_t hop,
              ClientTlsPolicy tls);
  // Delivers the part to the hop with the hop's own TLS policy (after its TLSA lookup).
  void sendToHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route, size_t hop,
                 ClientTlsPolicy tls, ClientTlsPolicy hop_tls);
  // After a hop's outcome: the next hop when this one was unreached, else the part's result.
  void afterHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route, size_t hop,
                ClientTlsPolicy tls, Result result);
  ClientPool& poolFor(LoopPools& pools, const MxHop& hop, const ClientTlsPolicy& tls,
                      const std::shared_ptr<shaping::Site>& site);

  config::MxSettings mx_;
  dns::Resolver& dns_;
  MxResolver resolver_;
  shaping::DestinationLimits& shaping_;
  uint32_t max_connections_;
  config::SmtpClientSettings settings_;
  std::string helo_name_;
  std::vector<io::Loop*> loops_;
  std::vector<std::unique_ptr<LoopPools>> pools_;  // pools_[i]: loops_[i]'s, touched on that loop only
  std::atomic<size_t> next_{0};
};

}  // namespace mxgate::delivery
