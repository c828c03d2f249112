// Failed-authentication limiter for SMTP AUTH (and the HTTP API's keys): per client address
// (an IPv6 client per network of smtp.ipv6_prefix_length bits, as the connection limits count
// it) and per user name, whether or not the user exists (so the answer never tells). Within
// submission.auth_failure_window, the n-th failure of a key is answered after n x
// auth_failure_delay (at most auth_max_delay); auth_max_failures failures lock the key for
// auth_lockout, during which AUTH is refused (454 4.7.0) without checking the secret.
//
// Memory is bounded: at most auth_tracked_keys keys (addresses and user names together) are
// remembered; past it the one whose last failure is oldest is forgotten. Thread-safe (one
// mutex): sessions on every worker loop share one limiter. Times are passed in, so the
// decisions are pure functions of the calls; callers pass std::chrono::steady_clock::now().
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mxgate/config/config.h"

namespace mxgate::auth {

class FailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  FailureLimiter(const config::SubmissionSettings& settings, uint32_t ipv6_prefix_length);

  // A reload: new limits apply to the next failures and checks; the table's size stays.
  void update(const config::SubmissionSettings& settings, uint32_t ipv6_prefix_length);

  enum class Lock { None, Address, User };
  // Before verifying: whether the client's address or the user name is locked.
  Lock check(std::string_view client_ip, std::string_view username, Clock::time_point now);

  struct Failure {
    std::chrono::milliseconds delay{0};  // wait this long before answering 535
    bool locked = false;                 // this failure locked the address or the user name
    uint32_t failures = 0;               // the larger count of the two keys, this one included
  };
  // After a failed verification (also for a malformed PLAIN whose authzid named someone else).
  Failure recordFailure(std::string_view client_ip, std::string_view username, Clock::time_point now);
  // After a success: the user name's failures are forgotten (the address's are not: one good
  // credential must not reset a client that guesses others).
  void recordSuccess(std::string_view username);

  // The key of a client address: "192.0.2.1/32", "2001:db8:1:2::/64".
  std::string addressKey(std::string_view client_ip) const;
  size_t trackedKeys() const;

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::time_point window_start;
    Clock::time_point locked_until;
    std::list<std::string>::iterator age;  // position in oldest_
  };
  // The entry of key, created (evicting the oldest when full) and moved to the young end.
  Entry& touch(const std::string& key, Clock::time_point now);
  bool locked(const std::string& key, Clock::time_point now) const;
  std::string networkOf(std::string_view client_ip) const;  // addressKey with mutex_ held
  uint32_t countFailure(Entry& entry, Clock::time_point now);

  mutable std::mutex mutex_;
  config::SubmissionSettings settings_;
  uint32_t ipv6_prefix_length_;
  const size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> oldest_;  // keys, least recently failed first
};

}  // namespace mxgate::auth
