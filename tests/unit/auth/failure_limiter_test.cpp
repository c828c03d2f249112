// Tests for auth/failure_limiter: growing delays, lockout per client address (IPv6 by prefix)
// and per user name, the window, a success forgetting the user's failures, reloads, the bound
// on remembered keys, and many threads at once.
#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "mxgate/auth/failure_limiter.h"

using namespace mxgate;
using auth::FailureLimiter;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace mxgate::auth {
std::ostream& operator<<(std::ostream& os, FailureLimiter::Lock lock) { return os << static_cast<int>(lock); }
}  // namespace mxgate::auth

namespace {

config::SubmissionSettings settings(uint32_t max_failures = 3, uint64_t tracked = 1000) {
  config::SubmissionSettings s;
  s.auth_max_failures = max_failures;
  s.auth_failure_window = seconds(60);
  s.auth_lockout = seconds(300);
  s.auth_failure_delay = milliseconds(1000);
  s.auth_max_delay = milliseconds(2500);
  s.auth_tracked_keys = tracked;
  return s;
}

const FailureLimiter::Clock::time_point t0{seconds(1000)};

}  // namespace

BOOST_AUTO_TEST_SUITE(failure_limiter)

BOOST_AUTO_TEST_CASE(delay_grows_then_the_address_locks) {
  FailureLimiter limiter(settings(3), 64);
  BOOST_TEST((limiter.check("192.0.2.1", "acme.crm", t0) == FailureLimiter::Lock::None));
  FailureLimiter::Failure f = limiter.recordFailure("192.0.2.1", "a.one", t0);
  BOOST_TEST(f.delay.count() == 1000);
  BOOST_TEST(!f.locked);
  f = limiter.recordFailure("192.0.2.1", "a.two", t0 + seconds(1));
  BOOST_TEST(f.delay.count() == 2000);
  f = limiter.recordFailure("192.0.2.1", "a.three", t0 + seconds(2));
  BOOST_TEST(f.delay.count() == 2500);  // capped by auth_max_delay
  BOOST_TEST(f.locked);
  // Locked for any user from that address; others are not affected.
  BOOST_TEST((limiter.check("192.0.2.1", "b.other", t0 + seconds(3)) == FailureLimiter::Lock::Address));
  BOOST_TEST((limiter.check("192.0.2.2", "b.other", t0 + seconds(3)) == FailureLimiter::Lock::None));
  // Until the lockout ends.
  BOOST_TEST((limiter.check("192.0.2.1", "b.other", t0 + seconds(301)) == FailureLimiter::Lock::Address));
  BOOST_TEST((limiter.check("192.0.2.1", "b.other", t0 + seconds(303)) == FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_CASE(a_user_name_locks_across_addresses_existing_or_not) {
  FailureLimiter limiter(settings(3), 64);
  limiter.recordFailure("192.0.2.1", "acme.crm", t0);
  limiter.recordFailure("198.51.100.7", "acme.crm", t0);
  const FailureLimiter::Failure f = limiter.recordFailure("203.0.113.9", "acme.crm", t0);
  BOOST_TEST(f.locked);
  BOOST_TEST(f.failures == 3u);
  BOOST_TEST((limiter.check("203.0.113.50", "acme.crm", t0 + seconds(1)) == FailureLimiter::Lock::User));
  BOOST_TEST((limiter.check("203.0.113.50", "acme.desk", t0 + seconds(1)) == FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_CASE(ipv6_clients_count_per_prefix) {
  FailureLimiter limiter(settings(2), 64);
  BOOST_TEST(limiter.addressKey("2001:db8:1:2::1") == "2001:db8:1:2::/64");
  BOOST_TEST(limiter.addressKey("::ffff:192.0.2.1") == "192.0.2.1/32");
  limiter.recordFailure("2001:db8:1:2::1", "u.one", t0);
  limiter.recordFailure("2001:db8:1:2:ffff::9", "u.two", t0);
  BOOST_TEST((limiter.check("2001:db8:1:2::77", "u.three", t0) == FailureLimiter::Lock::Address));
  BOOST_TEST((limiter.check("2001:db8:1:3::1", "u.three", t0) == FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_CASE(failures_outside_the_window_start_over) {
  FailureLimiter limiter(settings(3), 64);
  limiter.recordFailure("192.0.2.1", "u.one", t0);
  limiter.recordFailure("192.0.2.1", "u.one", t0 + seconds(30));
  const FailureLimiter::Failure f = limiter.recordFailure("192.0.2.1", "u.one", t0 + seconds(61));
  BOOST_TEST(f.failures == 1u);
  BOOST_TEST(f.delay.count() == 1000);
  BOOST_TEST((limiter.check("192.0.2.1", "u.one", t0 + seconds(62)) == FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_CASE(success_forgets_the_users_failures_not_the_addresss) {
  FailureLimiter limiter(settings(3), 64);
  limiter.recordFailure("192.0.2.1", "acme.crm", t0);
  limiter.recordFailure("192.0.2.1", "acme.crm", t0);
  limiter.recordSuccess("acme.crm");
  const FailureLimiter::Failure f = limiter.recordFailure("192.0.2.9", "acme.crm", t0);
  BOOST_TEST(f.failures == 1u);
  // The address still has its two failures: a third locks it.
  BOOST_TEST(limiter.recordFailure("192.0.2.1", "other.user", t0).locked);
}

BOOST_AUTO_TEST_CASE(reload_changes_limits) {
  FailureLimiter limiter(settings(10), 64);
  limiter.recordFailure("192.0.2.1", "u.one", t0);
  limiter.update(settings(2), 64);
  BOOST_TEST(limiter.recordFailure("192.0.2.1", "u.two", t0).locked);
}

BOOST_AUTO_TEST_CASE(memory_is_bounded_oldest_forgotten) {
  FailureLimiter small(settings(2, 100), 64);
  small.recordFailure("192.0.2.1", "", t0);
  small.recordFailure("192.0.2.1", "", t0);  // locked
  BOOST_TEST((small.check("192.0.2.1", "", t0) == FailureLimiter::Lock::Address));
  for (int i = 0; i < 10000; ++i) {
    small.recordFailure("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "u." + std::to_string(i), t0);
    BOOST_REQUIRE(small.trackedKeys() <= 100u);
  }
  BOOST_TEST(small.trackedKeys() == 100u);
  // The oldest entry went first.
  BOOST_TEST((small.check("192.0.2.1", "", t0) == FailureLimiter::Lock::None));
}

BOOST_AUTO_TEST_CASE(many_threads) {
  FailureLimiter limiter(settings(1000000, 100000), 64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&limiter, t] {
      for (int i = 0; i < 2000; ++i) {
        limiter.recordFailure("192.0.2." + std::to_string(t), "u." + std::to_string(i % 50), t0);
        limiter.check("192.0.2." + std::to_string(t), "u.x", t0);
        if (i % 100 == 0) {
          limiter.recordSuccess("u." + std::to_string(i % 50));
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  BOOST_TEST(limiter.trackedKeys() <= 58u);
  // 16000 failures from 8 addresses: 2000 each.
  BOOST_TEST(limiter.recordFailure("192.0.2.3", "", t0).failures == 2001u);
}

BOOST_AUTO_TEST_SUITE_END()
