// The event outbox poster (see include/mxgate/webhook/event_dispatcher.h). Control loop;
// outbox reads on the read lane.
#include "mxgate/webhook/event_dispatcher.h"

#include <algorithm>
#include <chrono>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/base/redact.h"
#include "mxgate/webhook/signing.h"

namespace mxgate::webhook {
namespace {

constexpr uint64_t kTickMs = 250;
constexpr uint64_t kFirstBackoffUs = 5000000;
constexpr uint64_t kMaxBackoffUs = 600000000;
// A census walks the whole outbox: every 5 s, or less often when a walk takes longer than
// 1/20 of that (at most every 5 min), so it costs the read lane at most about 5 %.
constexpr uint64_t kCensusMinIntervalUs = 5000000;
constexpr uint64_t kCensusMaxIntervalUs = 300000000;
constexpr uint64_t kCensusCostFactor = 20;
// Writes one census makes at most (dead marks, purges, drops, replays); the rest waits for the
// next one, which then comes at once.
constexpr size_t kMaxCensusChanges = 10000;

bool expired(uint64_t now, uint64_t since, std::chrono::seconds limit) {
  return now > since && now - since > static_cast<uint64_t>(limit.count()) * 1000000;
}

}  // namespace

// What a census found and changed, per tenant.
struct EventDispatcher::Census {
  struct Counts {
    uint64_t pending = 0;
    uint64_t dead = 0;
    uint64_t died = 0;     // marked dead now (past events.max_age)
    uint64_t purged = 0;   // dead events past events.dead_retention, deleted
    uint64_t dropped = 0;  // events of a tenant without an events.url, deleted
    uint64_t revived = 0;  // replayed dead events, live again
  };
  std::map<std::string, Counts> tenants;
  std::set<std::string> replayed;  // the replay requests it served
  bool complete = true;            // false when kMaxCensusChanges cut it short
  uint64_t micros = 0;             // how long the walk took
};

EventDispatcher::EventDispatcher(io::Loop& control, spool::Store& store, io::Lane& read_lane,
                                 DisabledEndpoints& endpoints, ConfigFn config)
    : control_(control),
      store_(store),
      read_lane_(read_lane),
      endpoints_(endpoints),
      config_(std::move(config)),
      random_state_(nowMicros() | 1) {}

EventDispatcher::~EventDispatcher() = default;

void EventDispatcher::start() {
  uv_timer_init(control_.uv(), &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, &EventDispatcher::onTimer, kTickMs, kTickMs);
  started_ = true;
}

void EventDispatcher::stop() {
  stopped_ = true;
  for (auto& [id, tenant] : tenants_) {
    if (tenant.client) {
      tenant.client->shutdown();
    }
  }
  if (started_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
}

void EventDispatcher::onTimer(uv_timer_t* timer) { static_cast<EventDispatcher*>(timer->data)->readNext(); }

void EventDispatcher::readNext() {
  if (reading_ || stopped_) {
    return;
  }
  if (census_due_ || nowMicros() >= next_census_us_) {
    takeCensus();
  } else {
    readHeads();
  }
}

bool EventDispatcher::ready(const std::string& tenant_id, const config::Tenant& policy, uint64_t now) const {
  const auto it = tenants_.find(tenant_id);
  if (it != tenants_.end() && (it->second.in_flight || it->second.next_try_us > now)) {
    return false;
  }
  return !endpoints_.disabled(spool::EndpointKind::Events, tenant_id, policy.events.url);
}

void EventDispatcher::readHeads() {
  const std::shared_ptr<const config::Config> config = config_();
  if (!config) {
    return;
  }
  const uint64_t now = nowMicros();
  auto wanted = std::make_shared<std::map<std::string, size_t, std::less<>>>();
  for (const config::Tenant& policy : config->tenants) {
    if (!policy.events.url.empty() && ready(policy.id, policy, now)) {
      wanted->emplace(policy.id, policy.events.batch_max);
    }
  }
  if (wanted->empty()) {
    return;
  }
  reading_ = true;
  auto found = std::make_shared<Found>();
  const bool submitted = read_lane_.submit([this, wanted, found] {
    store_.scanEventHeads(
        [&wanted](std::string_view tenant) {
          const auto it = wanted->find(tenant);
          return it == wanted->end() ? size_t{0} : it->second;
        },
        [&found](const std::string& key, spool::EventRecord& record) { found->emplace_back(key, std::move(record)); });
    control_.post([this, found] { dispatch(std::move(*found)); });
  });
  if (!submitted) {
    reading_ = false;
  }
}

void EventDispatcher::dispatch(Found found) {
  std::map<std::string, Found> heads;  // per tenant, in time order
  for (auto& [key, record] : found) {
    if (in_flight_keys_.count(key) == 0 && acknowledged_keys_.count(key) == 0) {
      heads[std::string(spool::eventKeyTenant(key))].emplace_back(std::move(key), std::move(record));
    }
  }
  readFinished();
  const std::shared_ptr<const config::Config> config = config_();
  if (stopped_ || !config) {
    return;
  }
  const uint64_t now = nowMicros();
  for (auto& [tenant_id, events] : heads) {
    const config::Tenant* policy = config->tenantById(tenant_id);
    if (policy == nullptr || policy->events.url.empty() || !ready(tenant_id, *policy, now)) {
      continue;
    }
    events.resize(std::min<size_t>(events.size(), policy->events.batch_max));
    post(tenant_id, *policy, std::move(events));
  }
  readAgainIfReleased();
}

void EventDispatcher::takeCensus() {
  reading_ = true;
  census_due_ = false;
  auto census = std::make_shared<Census>();
  census->replayed.swap(replay_);
  // Keys under way or just taken: a census leaves them alone. No post starts before the
  // census is done, so the set cannot grow meanwhile.
  auto excluded = std::make_shared<std::set<std::string>>(in_flight_keys_);
  excluded->insert(acknowledged_keys_.begin(), acknowledged_keys_.end());
  const std::shared_ptr<const config::Config> config = config_();
  const bool submitted = read_lane_.submit([this, census, excluded, config] {
    const auto started = std::chrono::steady_clock::now();
    const uint64_t now = nowMicros();
    const bool replay_all = census->replayed.count("") != 0;
    spool::Batch changes;
    size_t change_count = 0;
    store_.scanEvents("", [&](const std::string& key, spool::EventRecord& record) {
      const std::string tenant_id(spool::eventKeyTenant(key));
      Census::Counts& counts = census->tenants[tenant_id];
      const bool dead = spool::isDeadEventKey(key);
      if (excluded->count(key) != 0 || change_count >= kMaxCensusChanges) {
        census->complete = census->complete && change_count < kMaxCensusChanges;
        ++(dead ? counts.dead : counts.pending);
        return true;
      }
      const config::Tenant* policy = config ? config->tenantById(tenant_id) : nullptr;
      if (policy == nullptr || policy->events.url.empty()) {
        changes.deleteEvent(key);
        ++counts.dropped;
        ++change_count;
      } else if (dead && (replay_all || census->replayed.count(tenant_id) != 0)) {
        record.dead = false;
        record.dead_at_us = 0;
        record.at_us = now;  // the maximum age counts from the replay
        changes.deleteEvent(key);
        changes.putEvent(spool::liveEventKey(key), record);
        ++counts.revived;
        ++counts.pending;
        change_count += 2;
      } else if (dead && expired(now, record.dead_at_us != 0 ? record.dead_at_us : record.at_us,
                                 policy->events.dead_retention)) {
        changes.deleteEvent(key);
        ++counts.purged;
        ++change_count;
      } else if (!dead && expired(now, record.at_us, policy->events.max_age)) {
        record.dead = true;
        record.dead_at_us = now;
        changes.deleteEvent(key);
        changes.putEvent(spool::deadEventKey(key), record);
        ++counts.died;
        ++counts.dead;
        change_count += 2;
      } else {
        ++(dead ? counts.dead : counts.pending);
      }
      return true;
    });
    census->micros = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
    // The results count once the changes are applied: a read after them sees them.
    auto report = [this, census] { control_.post([this, census] { censusDone(*census); }); };
    if (changes.empty()) {
      report();
    } else {
      store_.submit(std::move(changes), false, [report](const spool::CommitStatus&) { report(); });
    }
  });
  if (!submitted) {
    reading_ = false;
    census_due_ = true;
    replay_.insert(census->replayed.begin(), census->replayed.end());
  }
}

void EventDispatcher::censusDone(const Census& census) {
  readFinished();
  if (stopped_) {
    return;
  }
  const std::shared_ptr<const config::Config> config = config_();
  for (auto& [id, tenant] : tenants_) {
    tenant.pending = 0;
    tenant.dead = 0;
  }
  stats_.outbox_pending = 0;
  stats_.outbox_dead = 0;
  for (const auto& [id, counts] : census.tenants) {
    stats_.outbox_pending += counts.pending;
    stats_.outbox_dead += counts.dead;
    if (counts.dropped > 0) {
      stats_.dropped += counts.dropped;
      log::info("-", "events_dropped").kv("tenant", id).kv("count", counts.dropped).kv("reason", "no events.url");
    }
    const config::Tenant* policy = config ? config->tenantById(id) : nullptr;
    if (policy == nullptr || policy->events.url.empty()) {
      continue;
    }
    Tenant& tenant = tenants_[id];
    tenant.url = redactUrl(policy->events.url);
    tenant.pending = counts.pending;
    tenant.dead = counts.dead;
    if (counts.died > 0) {
      stats_.dead += counts.died;
      log::warn("-", "events_dead")
          .kv("tenant", id)
          .kv("count", counts.died)
          .kv("max_age_s", static_cast<uint64_t>(policy->events.max_age.count()));
    }
    if (counts.purged > 0) {
      stats_.purged += counts.purged;
      log::info("-", "events_dead_purged")
          .kv("tenant", id)
          .kv("count", counts.purged)
          .kv("dead_retention_s", static_cast<uint64_t>(policy->events.dead_retention.count()));
    }
    if (counts.revived > 0) {
      log::info("-", "events_replayed").kv("tenant", id).kv("count", counts.revived);
    }
  }
  if (!census.complete) {
    replay_.insert(census.replayed.begin(), census.replayed.end());
    census_due_ = true;
  }
  next_census_us_ =
      nowMicros() + std::clamp(census.micros * kCensusCostFactor, kCensusMinIntervalUs, kCensusMaxIntervalUs);
  readAgainIfReleased();
}

void EventDispatcher::readFinished() {
  reading_ = false;
  read_again_ = read_again_ || !release_after_read_.empty();
  for (const std::string& key : release_after_read_) {
    acknowledged_keys_.erase(key);
  }
  release_after_read_.clear();
}

void EventDispatcher::readAgainIfReleased() {
  if (read_again_) {
    read_again_ = false;
    readNext();
  }
}

void EventDispatcher::post(const std::string& tenant_id, const config::Tenant& policy, Found events) {
  Tenant& tenant = tenants_[tenant_id];
  if (!tenant.client) {
    tenant.client = std::make_unique<Client>(control_, 1);
  }
  tenant.in_flight = true;
  tenant.url = redactUrl(policy.events.url);
  std::string body;
  std::string id;
  if (policy.events.batch_max == 1) {
    body = events.front().second.json;
    id = events.front().second.id;
  } else {
    body = "[";
    for (size_t i = 0; i < events.size(); ++i) {
      body += (i == 0 ? "" : ",") + events[i].second.json;
    }
    body += "]";
    id = "batch_" + events.front().second.id + "_" + std::to_string(events.size());
  }
  for (const auto& [key, record] : events) {
    in_flight_keys_.insert(key);
  }
  const uint64_t timestamp = nowMicros() / 1000000;
  Request request;
  request.url = policy.events.url;
  request.timeout = policy.events.timeout;
  request.connect_timeout = std::min(policy.events.timeout, std::chrono::milliseconds(10000));
  request.allow_private = policy.events.allow_private;
  request.headers = {"Content-Type: application/json; charset=utf-8", "webhook-id: " + id,
                     "webhook-timestamp: " + std::to_string(timestamp),
                     "webhook-signature: " + signatureHeader(id, timestamp, body, policy.events.secret_keys)};
  request.body = std::make_shared<const std::string>(std::move(body));
  tenant.client->post(std::move(request), [this, tenant_id, url = policy.events.url,
                                           events = std::move(events)](Response response) {
    if (response.status == 410) {
      endpoints_.disable(spool::EndpointKind::Events, tenant_id, url, "HTTP 410");
    }
    finish(tenant_id, events, response);
  });
}

void EventDispatcher::finish(const std::string& tenant_id, const Found& events, const Response& response) {
  Tenant& tenant = tenants_[tenant_id];
  tenant.in_flight = false;
  for (const auto& [key, record] : events) {
    in_flight_keys_.erase(key);
  }
  if (response.status >= 200 && response.status < 300) {
    spool::Batch batch;
    std::vector<std::string> keys;
    for (const auto& [key, record] : events) {
      batch.deleteEvent(key);
      keys.push_back(key);
      acknowledged_keys_.insert(key);
    }
    store_.submit(std::move(batch), false, [this, keys = std::move(keys)](const spool::CommitStatus& status) {
      if (status.ok) {
        control_.post([this, keys] { deleted(keys); });
      }  // else the keys stay excluded: they are never posted again by this process
    });
    stats_.posted += events.size();
    tenant.failures = 0;
    tenant.next_try_us = 0;
    tenant.last_error.clear();
    return;
  }
  ++stats_.failed;
  tenant.last_error = response.status != 0 ? "HTTP " + std::to_string(response.status) : response.error;
  if (response.status == 410) {
    log::warn("-", "event_endpoint_disabled").kv("tenant", tenant_id).kv("url", tenant.url);
    return;
  }
  tenant.failures = std::min<uint32_t>(tenant.failures + 1, 30);
  uint64_t backoff = std::min(kMaxBackoffUs, kFirstBackoffUs << std::min<uint32_t>(tenant.failures - 1, 20));
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  backoff = backoff * 4 / 5 + random_state_ % (backoff * 2 / 5 + 1);  // ±20 %
  backoff = std::max(backoff, std::min<uint64_t>(response.retry_after_s, 86400) * 1000000);  // RFC 9110 §10.2.3
  tenant.next_try_us = nowMicros() + backoff;
  log::warn("-", "event_post_failed")
      .kv("tenant", tenant_id)
      .kv("events", events.size())
      .kv("error", tenant.last_error)
      .kv("retry_in_ms", backoff / 1000);
}

void EventDispatcher::deleted(const std::vector<std::string>& keys) {
  if (reading_) {
    // The read under way may have seen them before the delete: they stay excluded until its
    // results are in.
    release_after_read_.insert(release_after_read_.end(), keys.begin(), keys.end());
    return;
  }
  for (const std::string& key : keys) {
    acknowledged_keys_.erase(key);
  }
  readNext();  // the tenant's next events need not wait for the next tick
}

std::vector<EventTenantStatus> EventDispatcher::status() const {
  const std::shared_ptr<const config::Config> config = config_();
  std::vector<EventTenantStatus> list;
  if (!config) {
    return list;
  }
  for (const config::Tenant& policy : config->tenants) {
    if (policy.events.url.empty()) {
      continue;
    }
    EventTenantStatus status;
    status.tenant = policy.id;
    status.url = redactUrl(policy.events.url);
    status.disabled = endpoints_.disabled(spool::EndpointKind::Events, policy.id, policy.events.url);
    if (const auto it = tenants_.find(policy.id); it != tenants_.end()) {
      status.pending = it->second.pending;
      status.dead = it->second.dead;
      status.last_error = it->second.last_error;
    }
    list.push_back(std::move(status));
  }
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.tenant < b.tenant; });
  return list;
}

void EventDispatcher::replay(const std::string& tenant_id) {
  endpoints_.enable(spool::EndpointKind::Events, tenant_id);
  for (auto& [id, tenant] : tenants_) {
    if (tenant_id.empty() || id == tenant_id) {
      tenant.failures = 0;
      tenant.next_try_us = 0;
    }
  }
  replay_.insert(tenant_id);
  census_due_ = true;
}

}  // namespace mxgate::webhook
