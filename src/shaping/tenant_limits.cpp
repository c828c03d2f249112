// Per-tenant sending limits (see include/mxgate/shaping/tenant_limits.h): GCRA in its virtual
// scheduling form. A unit conforms when now >= TAT - tolerance, with the emission interval
// T = period / count and the tolerance (count - 1)·T, so `count` units fit at once; taking one
// sets TAT = max(TAT, now) + T. Any thread.
#include "mxgate/shaping/tenant_limits.h"

#include <algorithm>

#include <fmt/format.h>

namespace mxgate::shaping {
namespace {

constexpr uint64_t kDayMicros = 86400ULL * 1000000;

uint64_t interval(uint64_t count, uint64_t period_us) { return std::max<uint64_t>(1, period_us / count); }

std::string rateText(const config::Rate& rate) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [seconds, unit] : kUnits) {
    if (rate.period_s % seconds == 0) {
      const uint64_t amount = rate.period_s / seconds;
      return amount == 1 ? fmt::format("{}/{}", rate.count, unit) : fmt::format("{}/{}{}", rate.count, amount, unit);
    }
  }
  return fmt::format("{}/{}s", rate.count, rate.period_s);
}

}  // namespace

uint64_t Gcra::nextConforming(uint64_t count, uint64_t period_us, uint64_t now_us) const {
  const uint64_t tolerance = (count - 1) * interval(count, period_us);
  return tat_us_ > tolerance ? std::max(now_us, tat_us_ - tolerance) : now_us;
}

void Gcra::take(uint64_t count, uint64_t period_us, uint64_t now_us) {
  tat_us_ = std::max(tat_us_, now_us) + interval(count, period_us);
}

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
    next.emplace(tenant.id, std::move(entry));
  }
  by_tenant_ = std::move(next);
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
  const uint64_t rate_period_us = rate.period_s * 1000000;
  const uint64_t rate_at = rate.count == 0 ? now_us : entry->rate.nextConforming(rate.count, rate_period_us, now_us);
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
  if (rate.count != 0) {
    entry->rate.take(rate.count, rate_period_us, now_us);
  }
  if (entry->daily_cap != 0) {
    entry->day.take(entry->daily_cap, kDayMicros, now_us);
  }
  return {};
}

}  // namespace mxgate::shaping
