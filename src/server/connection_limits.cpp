// Connection counting for the SMTP listeners (see include/mxgate/server/connection_limits.h).
// Any thread.
#include "mxgate/server/connection_limits.h"

namespace mxgate::server {

ConnectionLimits::Verdict ConnectionLimits::acquire(const std::string& ip, uint32_t max_total,
                                                    uint32_t max_per_ip) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (total_ >= max_total) {
    return Verdict::NodeFull;
  }
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && it->second >= max_per_ip) {
    return Verdict::IpFull;
  }
  ++per_ip_[ip];
  ++total_;
  return Verdict::Accept;
}

void ConnectionLimits::release(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) {
    return;
  }
  --total_;
  if (--it->second == 0) {
    per_ip_.erase(it);
  }
}

uint64_t ConnectionLimits::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

}  // namespace mxgate::server
