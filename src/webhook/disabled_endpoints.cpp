// Disabled webhook endpoints, persisted (see include/mxgate/webhook/disabled_endpoints.h).
// Any thread; load() at start-up.
#include "mxgate/webhook/disabled_endpoints.h"

#include <vector>

#include "mxgate/base/clock.h"
#include "mxgate/base/digest.h"
#include "mxgate/base/log.h"
#include "mxgate/base/redact.h"

namespace mxgate::webhook {
namespace {

std::string_view kindName(spool::EndpointKind kind) {
  return kind == spool::EndpointKind::Delivery ? "delivery" : "events";
}

// The URL a tenant has for that kind of endpoint now ("" = none).
std::string configuredUrl(const config::Config& config, spool::EndpointKind kind, std::string_view tenant_id) {
  const config::Tenant* tenant = config.tenantById(tenant_id);
  if (tenant == nullptr) {
    return "";
  }
  if (kind == spool::EndpointKind::Events) {
    return tenant->events.url;
  }
  return tenant->delivery.kind == config::DeliveryKind::Webhook ? tenant->delivery.url : "";
}

}  // namespace

std::string disabledEndpointKey(spool::EndpointKind kind, std::string_view tenant, std::string_view url) {
  return spool::endpointKey(kind, tenant, base::sha256Hex(url));
}

DisabledEndpoints::DisabledEndpoints(spool::Store& store) : store_(store) {}

void DisabledEndpoints::load(const config::Config& config) {
  std::vector<std::pair<std::string, spool::EndpointRecord>> records;
  store_.scanEndpoints([&records](const std::string& key, spool::EndpointRecord& record) {
    records.emplace_back(key, std::move(record));
  });
  spool::Batch stale;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, record] : records) {
    const auto kind = static_cast<spool::EndpointKind>(key.empty() ? '\0' : key.front());
    const std::string url = configuredUrl(config, kind, record.tenant);
    if (!url.empty() && disabledEndpointKey(kind, record.tenant, url) == key) {
      keys_.insert(key);
      log::info("-", "webhook_endpoint_still_disabled")
          .kv("tenant", record.tenant)
          .kv("endpoint", kindName(kind))
          .kv("url", record.url)
          .kv("since", formatRfc3339(record.disabled_at_us, 0));
    } else {
      stale.deleteEndpoint(key);
      log::info("-", "webhook_endpoint_record_dropped")
          .kv("tenant", record.tenant)
          .kv("url", record.url)
          .kv("reason", "the tenant no longer has this url");
    }
  }
  if (!stale.empty()) {
    store_.submit(std::move(stale), false, nullptr);
  }
}

bool DisabledEndpoints::disabled(spool::EndpointKind kind, std::string_view tenant, std::string_view url) const {
  const std::string key = disabledEndpointKey(kind, tenant, url);
  std::lock_guard<std::mutex> lock(mutex_);
  return keys_.count(key) != 0;
}

bool DisabledEndpoints::disable(spool::EndpointKind kind, std::string_view tenant, std::string_view url,
                                std::string_view reason) {
  std::string key = disabledEndpointKey(kind, tenant, url);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!keys_.insert(key).second) {
      return false;
    }
  }
  spool::Batch batch;
  batch.putEndpoint(key, spool::EndpointRecord{std::string(tenant), redactUrl(url), nowMicros(), std::string(reason)});
  store_.submit(std::move(batch), false, nullptr);
  return true;
}

size_t DisabledEndpoints::enable(spool::EndpointKind kind, std::string_view tenant) {
  std::string prefix(1, static_cast<char>(kind));
  if (!tenant.empty()) {
    prefix.append(tenant);
    prefix.push_back('\0');
  }
  spool::Batch batch;
  size_t enabled = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = keys_.lower_bound(prefix); it != keys_.end() && it->starts_with(prefix);) {
      batch.deleteEndpoint(*it);
      it = keys_.erase(it);
      ++enabled;
    }
  }
  if (!batch.empty()) {
    store_.submit(std::move(batch), false, nullptr);
  }
  return enabled;
}

}  // namespace mxgate::webhook
