// The event outbox poster (see include/mxgate/webhook/event_dispatcher.h). Control loop;
// outbox scans on the read lane.
#include "mxgate/webhook/event_dispatcher.h"

#include <algorithm>
#include <chrono>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/webhook/signing.h"

namespace mxgate::webhook {
namespace {

constexpr uint64_t kScanIntervalMs = 250;
constexpr size_t kScanLimit = 5000;  // events looked at per scan
// Dead events move under this prefix: they sort after every live one, so a scan reaches the
// live events first however many dead ones are kept.
constexpr std::string_view kDeadPrefix = "\xff";
constexpr uint64_t kFirstBackoffUs = 5000000;
constexpr uint64_t kMaxBackoffUs = 600000000;

}  // namespace

EventDispatcher::EventDispatcher(io::Loop& control, spool::Store& store, io::Lane& read_lane, ConfigFn config)
    : control_(control),
      store_(store),
      read_lane_(read_lane),
      config_(std::move(config)),
      random_state_(nowMicros() | 1) {}

EventDispatcher::~EventDispatcher() = default;

void EventDispatcher::start() {
  uv_timer_init(control_.uv(), &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, &EventDispatcher::onTimer, kScanIntervalMs, kScanIntervalMs);
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

void EventDispatcher::onTimer(uv_timer_t* timer) { static_cast<EventDispatcher*>(timer->data)->scan(); }

void EventDispatcher::scan() {
  if (scanning_ || stopped_) {
    return;
  }
  scanning_ = true;
  auto found = std::make_shared<Found>();
  const bool submitted = read_lane_.submit([this, found] {
    store_.scanEvents("", [&found](const std::string& key, spool::EventRecord& record) {
      found->emplace_back(key, std::move(record));
      return found->size() < kScanLimit;
    });
    control_.post([this, found] { dispatch(std::move(*found)); });
  });
  if (!submitted) {
    scanning_ = false;
  }
}

void EventDispatcher::dispatch(Found found) {
  scanning_ = false;
  if (stopped_) {
    return;
  }
  const std::shared_ptr<const config::Config> config = config_();
  const uint64_t now = nowMicros();
  spool::Batch batch;
  std::map<std::string, Found> ready;  // per tenant, pending events in time order
  for (auto& [id, tenant] : tenants_) {
    tenant.pending = 0;
    tenant.dead = 0;
  }
  for (auto& [key, record] : found) {
    if (in_flight_keys_.count(key) != 0) {
      continue;
    }
    const config::Tenant* policy = config ? config->tenantById(record.tenant) : nullptr;
    if (policy == nullptr || policy->events.url.empty()) {
      batch.deleteEvent(key);
      ++stats_.dropped;
      continue;
    }
    Tenant& tenant = tenants_[record.tenant];
    if (record.dead && (replay_.count(record.tenant) != 0 || replay_.count("") != 0)) {
      record.dead = false;
      record.at_us = now;  // the maximum age counts from the replay
      batch.deleteEvent(key);
      key.erase(0, kDeadPrefix.size());
      batch.putEvent(key, record);
    }
    if (!record.dead && now > record.at_us &&
        now - record.at_us > static_cast<uint64_t>(policy->events.max_age.count()) * 1000000) {
      record.dead = true;
      batch.deleteEvent(key);
      batch.putEvent(std::string(kDeadPrefix) + key, record);
      ++stats_.dead;
      log::warn("-", "event_dead").kv("tenant", record.tenant).kv("event", record.id).kv("type", record.type);
    }
    if (record.dead) {
      ++tenant.dead;
      continue;
    }
    ++tenant.pending;
    Found& queue = ready[record.tenant];
    if (queue.size() < policy->events.batch_max) {
      queue.emplace_back(key, std::move(record));
    }
  }
  replay_.clear();
  if (!batch.empty()) {
    store_.submit(std::move(batch), false, nullptr);
  }
  for (auto& [tenant_id, events] : ready) {
    Tenant& tenant = tenants_[tenant_id];
    if (tenant.in_flight || tenant.disabled || tenant.next_try_us > now) {
      continue;
    }
    post(tenant_id, *config->tenantById(tenant_id), std::move(events));
  }
}

void EventDispatcher::post(const std::string& tenant_id, const config::Tenant& policy, Found events) {
  Tenant& tenant = tenants_[tenant_id];
  if (!tenant.client) {
    tenant.client = std::make_unique<Client>(control_, 1);
  }
  tenant.in_flight = true;
  tenant.url = policy.events.url;
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
  tenant.client->post(std::move(request), [this, tenant_id, events = std::move(events)](Response response) {
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
    for (const auto& [key, record] : events) {
      batch.deleteEvent(key);
    }
    store_.submit(std::move(batch), false, nullptr);
    stats_.posted += events.size();
    tenant.failures = 0;
    tenant.next_try_us = 0;
    tenant.last_error.clear();
    return;
  }
  ++stats_.failed;
  tenant.last_error = response.status != 0 ? "HTTP " + std::to_string(response.status) : response.error;
  if (response.status == 410) {
    tenant.disabled = true;
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

std::vector<EventTenantStatus> EventDispatcher::status() const {
  std::vector<EventTenantStatus> list;
  for (const auto& [id, tenant] : tenants_) {
    list.push_back(EventTenantStatus{id, tenant.url, tenant.disabled, tenant.pending, tenant.dead, tenant.last_error});
  }
  return list;
}

void EventDispatcher::replay(const std::string& tenant_id) {
  for (auto& [id, tenant] : tenants_) {
    if (tenant_id.empty() || id == tenant_id) {
      tenant.disabled = false;
      tenant.failures = 0;
      tenant.next_try_us = 0;
    }
  }
  replay_.insert(tenant_id);
}

}  // namespace mxgate::webhook
