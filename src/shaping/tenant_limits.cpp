// Per-tenant sending limits (see include/mxgate/shaping/tenant_limits.h). Any thread.
#include "mxgate/shaping/tenant_limits.h"

#include <algorithm>

#include <fmt/format.h>

namespace mxgate::shaping {
namespace {

constexpr uint64_t kDayMicros = 86400ULL * 1000000;

}  // namespace

void TenantLimits::update(const config::Config& config) {
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> next;
  std::unique_lock lock(mutex_);
  for (const config::Tenant& tenant : config.tenants) {
    const config::Rate& rate = tenant.outbound.message_rate;
    const uint64_t cap = tenant.outbound.daily_cap;
    if (rate.count == 0 && cap == 0) {
      continue;
    }
    const auto found = by_tenant_.find(tenant.id);
    if (found != by_tenant_.end() && found->second->message_rate == rate && found->second->daily_cap == cap) {
      next.emplace(tenant.id, found->second);  // unchanged limits keep what was already sent
      continue;
    }
    auto entry = std::make_shared<Entry>();
    entry->message_rate = rate;
    entry->daily_cap = cap;
    if (const auto kept = restored_.find(tenant.id); kept != restored_.end()) {
      entry->rate.restore(kept->second.rate_tat_us);
      entry->day.restore(kept->second.day_tat_us);
      entry->changed = true;  // written again, or removed once at rest
      restored_.erase(kept);
    }
    next.emplace(tenant.id, std::move(entry));
  }
  by_tenant_ = std::move(next);
  // What a previous run kept for tenants without limits now is dropped (and its record removed).
  for (auto& [tenant, kept] : restored_) {
    kept.at_rest = true;
    dropped_.push_back(std::move(kept));
  }
  restored_.clear();
}

std::vector<TenantLimits::Usage> TenantLimits::changed(uint64_t now_us) {
  std::vector<Usage> out;
  std::unique_lock lock(mutex_);
  out.swap(dropped_);
  for (const auto& [tenant, entry] : by_tenant_) {
    std::lock_guard entry_lock(entry->mutex);
    if (!entry->changed) {
      continue;
    }
    entry->changed = false;
    out.push_back(Usage{tenant, entry->rate.tat(), entry->day.tat(),
                        entry->rate.atRest(now_us) && entry->day.atRest(now_us)});
  }
  return out;
}

void TenantLimits::restore(std::vector<Usage> usage) {
  std::unique_lock lock(mutex_);
  for (Usage& kept : usage) {
    std::string tenant = kept.tenant;
    restored_[std::move(tenant)] = std::move(kept);
  }
}

Admission TenantLimits::admit(std::string_view tenant, uint64_t now_us) {
  std::shared_ptr<Entry> entry;
  {
    std::shared_lock lock(mutex_);
    const auto found = by_tenant_.find(tenant);
    if (found == by_tenant_.end()) {
      return {};
    }
    entry = found->second;
  }
  std::lock_guard lock(entry->mutex);
  const config::Rate& rate = entry->message_rate;
  const uint64_t rate_at = entry->rate.nextConforming(rate, now_us);
  const uint64_t day_at =
      entry->daily_cap == 0 ? now_us : entry->day.nextConforming(entry->daily_cap, kDayMicros, now_us);
  if (rate_at > now_us || day_at > now_us) {
    Admission refused;
    refused.admitted = false;
    refused.limit = day_at > now_us ? fmt::format("daily_cap {}", entry->daily_cap)
                                    : fmt::format("message_rate {}", rateText(rate));
    refused.retry_after_s = std::max<uint64_t>(1, (std::max(rate_at, day_at) - now_us + 999999) / 1000000);
    return refused;
  }
  entry->rate.take(rate, now_us);
  entry->changed = true;
  if (entry->daily_cap != 0) {
    entry->day.take(entry->daily_cap, kDayMicros, now_us);
  }
  return {};
}

}  // namespace mxgate::shaping
