// The mx delivery target (see include/mxgate/delivery/mx_target.h; RFC 5321 §5). A job lives
// on one worker loop: its parts (one per recipient domain) are resolved on the resolver's
// thread, then delivered and merged on that loop.
#include "mxgate/delivery/mx_target.h"

#include <algorithm>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "smtp_client.h"

namespace mxgate::delivery {

// The client pools of one worker loop, by exchanger name and address.
struct MxTarget::LoopPools {
  io::Loop* loop = nullptr;
  std::shared_ptr<const MxTlsPolicies> tls;
  std::map<std::string, std::unique_ptr<ClientPool>> by_hop;  // by exchanger, address and TLS policy
  bool shutting_down = false;
};

// One job under way: its recipients split by domain into parts, the merged result.
struct MxTarget::Delivery {
  struct Part {
    std::shared_ptr<const Job> job;  // the part's recipients only
    std::vector<size_t> indexes;     // their positions in the whole job
    std::shared_ptr<shaping::Site> site = {};  // the destination site, once the route is known
  };
  std::shared_ptr<const Job> job;
  std::function<void(Result)> done;
  size_t loop = 0;
  std::vector<Part> parts;
  size_t outstanding = 0;
  Result result;

  void finishPart(size_t part, const Result& outcome) {
    const Part& finished = parts[part];
    for (size_t i = 0; i < finished.indexes.size() && i < outcome.recipients.size(); ++i) {
      result.recipients[finished.indexes[i]] = outcome.recipients[i];
    }
    if (!outcome.remote.empty()) {
      result.remote = result.remote.empty() ? outcome.remote : result.remote + "," + outcome.remote;
    }
    result.sender_refused = result.sender_refused || outcome.sender_refused;
    result.retry_after_s = std::max(result.retry_after_s, outcome.retry_after_s);
    if (--outstanding == 0) {
      done(std::move(result));
    }
  }
};

MxTarget::MxTarget(dns::Resolver& resolver, const config::MxSettings& mx, uint32_t max_connections,
                   const config::SmtpClientSettings& settings, std::string helo_name, std::vector<io::Loop*> loops,
                   std::shared_ptr<const MxTlsPolicies> tls, shaping::DestinationLimits& shaping)
    : mx_(mx),
      dns_(resolver),
      resolver_(resolver, mx),
      shaping_(shaping),
      max_connections_(max_connections),
      settings_(settings),
      helo_name_(std::move(helo_name)),
      loops_(std::move(loops)) {
  for (io::Loop* loop : loops_) {
    auto pools = std::make_unique<LoopPools>();
    pools->loop = loop;
    pools->tls = tls;
    pools_.push_back(std::move(pools));
  }
}

MxTarget::~MxTarget() = default;

void MxTarget::deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) {
  auto delivery = std::make_shared<Delivery>();
  delivery->loop = next_.fetch_add(1, std::memory_order_relaxed) % loops_.size();
  delivery->result.recipients.assign(job->recipients.size(), RecipientResult{Outcome::TempFail, ""});
  delivery->done = std::move(done);
  // Recipients by domain, in the order domains first appear.
  std::vector<std::string> domains;
  std::vector<std::vector<size_t>> indexes;
  for (size_t i = 0; i < job->recipients.size(); ++i) {
    const std::string& address = job->recipients[i];
    const size_t at = address.rfind('@');
    const std::string domain = ascii::toLowerCopy(at == std::string::npos ? "" : address.substr(at + 1));
    auto found = std::find(domains.begin(), domains.end(), domain);
    if (found == domains.end()) {
      domains.push_back(domain);
      indexes.emplace_back();
      found = domains.end() - 1;
    }
    indexes[static_cast<size_t>(found - domains.begin())].push_back(i);
  }
  for (size_t d = 0; d < domains.size(); ++d) {
    auto part = std::make_shared<Job>(*job);
    part->recipients.clear();
    for (size_t i : indexes[d]) {
      part->recipients.push_back(job->recipients[i]);
    }
    delivery->parts.push_back(Delivery::Part{std::move(part), std::move(indexes[d])});
  }
  delivery->job = std::move(job);
  delivery->outstanding = domains.size();
  if (domains.empty()) {
    delivery->done(std::move(delivery->result));
    return;
  }
  io::Loop* loop = loops_[delivery->loop];
  for (size_t d = 0; d < domains.size(); ++d) {
    resolver_.resolve(domains[d], [this, loop, delivery, d](MxRoute route) {
      loop->post([this, delivery, d, route = std::move(route)]() mutable {
        deliverDomain(delivery, d, std::move(route));
      });
    });
  }
}

void MxTarget::deliverDomain(std::shared_ptr<Delivery> delivery, size_t part, MxRoute route) {
  if (route.status != MxRoute::Status::Ok) {
    log::warn(delivery->job->id.str(), "mx_route_failed").kv("domain", route.domain).kv("error", route.detail);
    delivery->finishPart(part, uniformResult(*delivery->parts[part].job, route.outcome(), route.reply()));
    return;
  }
  std::vector<std::string> exchangers;
  for (const MxHop& hop : route.hops) {
    exchangers.push_back(hop.host);
  }
  const uint64_t now = nowMicros();
  std::shared_ptr<shaping::Site> site = shaping_.siteFor(route.domain, exchangers, now);
  if (const shaping::Hold hold = site->admitMessage(now); hold.held) {
    delivery->finishPart(part, heldResult(*delivery->parts[part].job, hold.limit, hold.until_us));
    return;
  }
  delivery->parts[part].site = std::move(site);
  const LoopPools& pools = *pools_[delivery->loop];
  ClientTlsPolicy tls = pools.tls->forDestination(delivery->job->tenant, route.domain);
  auto resolved = std::make_shared<const MxRoute>(std::move(route));
  MtaStsPolicies* mta_sts = pools.tls->mtaSts();
  if (mta_sts == nullptr) {
    tryHop(delivery, part, std::move(resolved), 0, std::move(tls));
    return;
  }
  io::Loop* loop = pools.loop;
  mta_sts->lookup(resolved->domain, [this, loop, delivery, part, resolved, tls](StsPolicyPtr policy) {
    loop->post([this, delivery, part, resolved, tls, policy] { applyMtaSts(delivery, part, resolved, tls, policy); });
  });
}

void MxTarget::applyMtaSts(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route,
                           ClientTlsPolicy tls, StsPolicyPtr sts) {
  if (sts == nullptr || sts->policy.mode == mta_sts::Mode::None) {
    tryHop(std::move(delivery), part, std::move(route), 0, std::move(tls));
    return;
  }
  auto allowed = std::make_shared<MxRoute>(*route);
  const std::string refused = sts->dropUnlistedHops(*allowed);
  const bool enforce = sts->policy.mode == mta_sts::Mode::Enforce;
  log::info(delivery->job->id.str(), "mta_sts_policy")
      .kv("domain", route->domain)
      .kv("mode", mta_sts::name(sts->policy.mode))
      .kv("id", sts->id)
      .kv("mx_not_in_policy", refused);
  const MxTlsPolicies& policies = *pools_[delivery->loop]->tls;
  if (!enforce) {
    if (!refused.empty()) {
      tls.countFailure(TlsFailure::ValidationFailure);  // testing: enforce would have skipped them
    }
    tryHop(std::move(delivery), part, std::move(route), 0, policies.stsTesting(std::move(tls)));
    return;
  }
  if (allowed->hops.empty()) {
    Result failed = uniformResult(*delivery->parts[part].job, Outcome::TempFail,
                                  "4.7.0 MTA-STS policy of " + route->domain + " (enforce, id " + sts->id +
                                      ") names none of its mail exchangers (" + refused + "): not sent");
    delivery->finishPart(part, failed);
    return;
  }
  tryHop(std::move(delivery), part, std::move(allowed), 0, policies.stsEnforced(std::move(tls)));
}

void MxTarget::tryHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route,
                      size_t hop, ClientTlsPolicy tls) {
  LoopPools& pools = *pools_[delivery->loop];
  if (pools.shutting_down) {
    delivery->finishPart(part, uniformResult(*delivery->parts[part].job, Outcome::TempFail, "shutting down"));
    return;
  }
  const MxHop& next = route->hops[hop];
  if (!tls.dane_wanted || !next.secure || next.host.empty()) {
    sendToHop(std::move(delivery), part, std::move(route), hop, tls, tls);
    return;
  }
  // RFC 7672 §2.2: the TLSA records of the exchanger's name, validated, decide its TLS.
  io::Loop* loop = pools.loop;
  const std::string owner = "_25._tcp." + next.host;
  dns_.query(owner, dns::RrType::TLSA, [this, loop, delivery, part, route, hop, tls, owner](dns::AnswerPtr answer) {
    loop->post([this, delivery, part, route, hop, tls, owner, answer] {
      ClientTlsPolicy hop_tls = tls;
      hop_tls.peer_name = route->hops[hop].host;
      if (!hop_tls.applyTlsa(*answer, route->domain)) {
        tls.countFailure(TlsFailure::DnssecInvalid);
        Result failed = uniformResult(*delivery->parts[part].job, Outcome::TempFail,
                                      "4.7.5 TLSA lookup of " + owner + " failed (" +
                                          (answer->status == dns::Status::Timeout ? "timeout" : "SERVFAIL or bogus") +
                                          "): DANE cannot be checked, not sent");
        failed.unreached = true;
        afterHop(delivery, part, route, hop, tls, std::move(failed));
        return;
      }
      sendToHop(delivery, part, route, hop, tls, std::move(hop_tls));
    });
  });
}

void MxTarget::sendToHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route,
                         size_t hop, ClientTlsPolicy tls, ClientTlsPolicy hop_tls) {
  ClientPool& pool = poolFor(*pools_[delivery->loop], route->hops[hop], hop_tls, delivery->parts[part].site);
  pool.submit(PendingDelivery{delivery->parts[part].job, [this, delivery, part, route, hop, tls](Result result) {
                                afterHop(delivery, part, route, hop, tls, std::move(result));
                              }});
}

void MxTarget::afterHop(std::shared_ptr<Delivery> delivery, size_t part, std::shared_ptr<const MxRoute> route,
                        size_t hop, ClientTlsPolicy tls, Result result) {
  // A throttling reply of the site's exchanger: its back-off rules decide (once per outcome).
  const auto temporary = std::find_if(result.recipients.begin(), result.recipients.end(), [](const RecipientResult& r) {
    return r.outcome == Outcome::TempFail && r.held_until_us == 0;
  });
  if (temporary != result.recipients.end()) {
    const std::shared_ptr<shaping::Site>& site = delivery->parts[part].site;
    if (const config::BackoffRule* rule = site->noteTemporaryReply(temporary->reply, nowMicros())) {
      log::warn(delivery->job->id.str(), "shaping_backoff")
          .kv("site", site->key())
          .kv("rule_line", rule->line)
          .kv("action", rule->suspend ? "suspend" : "slow down")
          .kv("duration_s", rule->duration_us / 1000000)
          .kv("reply", temporary->reply);
    }
  }
  if (result.unreached && hop + 1 < route->hops.size()) {
    log::info(delivery->job->id.str(), "mx_next_address")
        .kv("domain", route->domain)
        .kv("skipped", route->hops[hop].address)
        .kv("error", result.recipients.empty() ? "" : result.recipients[0].reply);
    tryHop(delivery, part, route, hop + 1, std::move(tls));
    return;
  }
  delivery->finishPart(part, result);
}

ClientPool& MxTarget::poolFor(LoopPools& pools, const MxHop& hop, const ClientTlsPolicy& tls,
                              const std::shared_ptr<shaping::Site>& site) {
  // A connection is shared only by parts of one site with the same level and trust anchors (for
  // DANE: the same TLSA records).
  std::string key = site->key() + "\n" + hop.host + "\n" + hop.address + "\n" + tls.levelName() + "\n" +
                    std::to_string(reinterpret_cast<uintptr_t>(tls.context.get()));
  if (tls.dane != nullptr) {
    for (const tls::TlsaRecord& record : tls.dane->records) {
      key += "\n" + std::to_string(record.usage) + std::to_string(record.selector) +
             std::to_string(record.matching_type) + record.data;
    }
  }
  if (auto found = pools.by_hop.find(key); found != pools.by_hop.end()) {
    return *found->second;
  }
  if (pools.by_hop.size() >= kMaxIdlePools) {
    std::erase_if(pools.by_hop, [](const auto& entry) { return entry.second->unused(); });
  }
  config::DeliveryTarget target;
  target.kind = config::DeliveryKind::Smtp;
  target.host = hop.address;
  target.port = mx_.port;
  ClientTlsPolicy named = tls;
  named.peer_name = hop.host;
  const auto per_loop = static_cast<uint32_t>((mx_.connections_per_host + loops_.size() - 1) / loops_.size());
  auto pool = std::make_unique<ClientPool>(*pools.loop, target, settings_, helo_name_, std::move(named), per_loop);
  pool->shapeBy(site);
  return *pools.by_hop.emplace(key, std::move(pool)).first->second;
}

void MxTarget::shutdown() {
  for (auto& pools : pools_) {
    LoopPools* raw = pools.get();
    raw->loop->post([raw] {
      raw->shutting_down = true;
      for (auto& [key, pool] : raw->by_hop) {
        pool->shutdown();
      }
    });
  }
}

void MxTarget::setTls(std::shared_ptr<const MxTlsPolicies> tls) {
  for (auto& pools : pools_) {
    LoopPools* raw = pools.get();
    raw->loop->post([raw, tls] {
      raw->tls = tls;
      // Pools of the old policies are no longer chosen: empty ones go now, the others once their
      // connections have closed (idle timeout) and more than kMaxIdlePools exist.
      std::erase_if(raw->by_hop, [](const auto& entry) { return entry.second->unused(); });
    });
  }
}

}  // namespace mxgate::delivery
