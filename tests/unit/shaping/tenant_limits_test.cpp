// Unit tests for the tenants' sending limits (shaping/tenant_limits.h) at chosen times: a burst
// of `count`, then one per period/count; the daily cap as a rolling 24 hours; both limits
// counted together or not at all; Retry-After rounded up; a reload keeps the state of a tenant
// whose limits did not change and starts a changed one afresh; tenants without limits pass;
// the usage to keep across a restart is handed out once per change and restored.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "mxgate/shaping/tenant_limits.h"

using namespace mxgate;

namespace {

constexpr uint64_t kSecond = 1000000;
constexpr uint64_t kStart = 1800000000 * kSecond;

config::Config tenants(config::Rate rate, uint64_t cap) {
  config::Config config;
  config::Tenant limited;
  limited.id = "limited";
  limited.outbound.message_rate = rate;
  limited.outbound.daily_cap = cap;
  config::Tenant free;
  free.id = "free";
  config.tenants = {limited, free};
  return config;
}

// How many of n messages at `at` are admitted.
int admitted(shaping::TenantLimits& limits, uint64_t at, int n) {
  int count = 0;
  for (int i = 0; i < n; ++i) {
    count += limits.admit("limited", at).admitted ? 1 : 0;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shaping_tenant_limits)

BOOST_AUTO_TEST_CASE(a_burst_of_count_then_one_per_interval) {
  shaping::TenantLimits limits;
  limits.update(tenants({3, 60}, 0));
  BOOST_TEST(admitted(limits, kStart, 5) == 3);
  const shaping::Admission refused = limits.admit("limited", kStart);
  BOOST_TEST(!refused.admitted);
  BOOST_TEST(refused.limit == "message_rate 3/m");
  BOOST_TEST(refused.retry_after_s == 20u);  // one more fits 60 s / 3 later
  BOOST_TEST(admitted(limits, kStart + 19 * kSecond, 1) == 0);
  BOOST_TEST(admitted(limits, kStart + 20 * kSecond, 2) == 1);
  BOOST_TEST(admitted(limits, kStart + 200 * kSecond, 5) == 3);  // idle long enough: a full burst again
  BOOST_TEST(limits.admit("free", kStart).admitted);
  BOOST_TEST(limits.admit("unknown", kStart).admitted);
}

BOOST_AUTO_TEST_CASE(usage_is_handed_out_when_it_changes_and_restored_before_the_first_update) {
  shaping::TenantLimits limits;
  limits.update(tenants({}, 2));
  BOOST_TEST(limits.changed(kStart).empty());
  BOOST_TEST(admitted(limits, kStart, 2) == 2);
  const std::vector<shaping::TenantLimits::Usage> used = limits.changed(kStart);
  BOOST_TEST_REQUIRE(used.size() == 1u);
  BOOST_TEST(used[0].tenant == "limited");
  BOOST_TEST(!used[0].at_rest);
  BOOST_TEST(limits.changed(kStart).empty());  // only once

  shaping::TenantLimits restarted;
  std::vector<shaping::TenantLimits::Usage> kept = used;
  kept.push_back({"gone", 1, kStart + 10, false});  // a tenant without limits now
  restarted.restore(kept);
  restarted.update(tenants({}, 2));
  BOOST_TEST(admitted(restarted, kStart + kSecond, 1) == 0);  // the cap used before the restart
  const std::vector<shaping::TenantLimits::Usage> after = restarted.changed(kStart + 2 * 86400 * kSecond);
  BOOST_TEST_REQUIRE(after.size() == 2u);
  BOOST_TEST(after[0].tenant == "gone");
  BOOST_TEST(after[0].at_rest);  // its record goes
  BOOST_TEST(after[1].tenant == "limited");
  BOOST_TEST(after[1].at_rest);  // two days later nothing counted remains
}

BOOST_AUTO_TEST_CASE(the_daily_cap_is_a_rolling_day) {
  shaping::TenantLimits limits;
  limits.update(tenants({}, 4));
  BOOST_TEST(admitted(limits, kStart, 3) == 3);
  BOOST_TEST(admitted(limits, kStart + 3600 * kSecond, 3) == 1);
  const shaping::Admission refused = limits.admit("limited", kStart + 3600 * kSecond);
  BOOST_TEST(refused.limit == "daily_cap 4");
  BOOST_TEST(refused.retry_after_s == 6u * 3600 - 3600);  // a quarter of a day after the first
  BOOST_TEST(admitted(limits, kStart + 6 * 3600 * kSecond, 2) == 1);
}

BOOST_AUTO_TEST_CASE(both_limits_count_together_or_not_at_all) {
  shaping::TenantLimits limits;
  limits.update(tenants({10, 1}, 2));
  BOOST_TEST(admitted(limits, kStart, 2) == 2);
  // The rate would allow more, the cap does not: refused, and the rate is not charged.
  BOOST_TEST(limits.admit("limited", kStart).limit == "daily_cap 2");
  limits.update(tenants({1, 1}, 0));  // changed limits: a fresh allowance
  BOOST_TEST(admitted(limits, kStart, 2) == 1);
  limits.update(tenants({1, 1}, 0));  // unchanged: the state stays
  BOOST_TEST(admitted(limits, kStart, 1) == 0);
  BOOST_TEST(limits.admit("limited", kStart).retry_after_s == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
