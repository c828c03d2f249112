// Failed-authentication limiter (see include/mxgate/auth/failure_limiter.h). Any thread.
#include "mxgate/auth/failure_limiter.h"

#include <algorithm>
#include <iterator>

#include "mxgate/base/ip_network.h"

namespace mxgate::auth {
namespace {

std::string userKey(std::string_view username) { return "u " + std::string(username); }

}  // namespace

FailureLimiter::FailureLimiter(const config::SubmissionSettings& settings, uint32_t ipv6_prefix_length)
    : settings_(settings), ipv6_prefix_length_(ipv6_prefix_length), capacity_(settings.auth_tracked_keys) {}

void FailureLimiter::update(const config::SubmissionSettings& settings, uint32_t ipv6_prefix_length) {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_ = settings;
  ipv6_prefix_length_ = ipv6_prefix_length;
}

std::string FailureLimiter::networkOf(std::string_view client_ip) const {
  const std::optional<IpNetwork> network = IpNetwork::around(client_ip, 32, static_cast<int>(ipv6_prefix_length_));
  return network ? network->str() : std::string(client_ip);
}

std::string FailureLimiter::addressKey(std::string_view client_ip) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return networkOf(client_ip);
}

size_t FailureLimiter::trackedKeys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

bool FailureLimiter::locked(const std::string& key, Clock::time_point now) const {
  const auto it = entries_.find(key);
  return it != entries_.end() && now < it->second.locked_until;
}

FailureLimiter::Lock FailureLimiter::check(std::string_view client_ip, std::string_view username,
                                           Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (locked("a " + networkOf(client_ip), now)) {
    return Lock::Address;
  }
  if (!username.empty() && locked(userKey(username), now)) {
    return Lock::User;
  }
  return Lock::None;
}

FailureLimiter::Entry& FailureLimiter::touch(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    oldest_.splice(oldest_.end(), oldest_, it->second.age);
    return it->second;
  }
  if (entries_.size() >= capacity_ && !oldest_.empty()) {
    entries_.erase(oldest_.front());
    oldest_.pop_front();
  }
  oldest_.push_back(key);
  Entry& entry = entries_[key];
  entry.window_start = now;
  entry.age = std::prev(oldest_.end());
  return entry;
}

uint32_t FailureLimiter::countFailure(Entry& entry, Clock::time_point now) {
  if (entry.failures == 0 || now - entry.window_start >= settings_.auth_failure_window) {
    entry.failures = 0;
    entry.window_start = now;
  }
  const uint32_t failures = ++entry.failures;
  if (failures >= settings_.auth_max_failures) {
    entry.locked_until = now + settings_.auth_lockout;
    entry.failures = 0;  // after the lockout, a fresh window
  }
  return failures;
}

FailureLimiter::Failure FailureLimiter::recordFailure(std::string_view client_ip, std::string_view username,
                                                      Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  Failure failure;
  const uint32_t by_address = countFailure(touch("a " + networkOf(client_ip), now), now);
  const uint32_t by_user = username.empty() ? 0 : countFailure(touch(userKey(username), now), now);
  failure.failures = std::max(by_address, by_user);
  failure.locked = failure.failures >= settings_.auth_max_failures;
  failure.delay = std::min(settings_.auth_failure_delay * failure.failures, settings_.auth_max_delay);
  return failure;
}

void FailureLimiter::recordSuccess(std::string_view username) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(userKey(username));
  if (it != entries_.end()) {
    oldest_.erase(it->second.age);
    entries_.erase(it);
  }
}

}  // namespace mxgate::auth
