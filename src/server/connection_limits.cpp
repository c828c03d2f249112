// Connection counting for the SMTP listeners (see include/mxgate/server/connection_limits.h).
// Any thread.
#include "mxgate/server/connection_limits.h"

#include "mxgate/base/ip_network.h"

namespace mxgate::server {

std::string ConnectionLimits::clientKey(std::string_view ip, uint32_t ipv6_prefix_length) {
  const std::optional<IpNetwork> network = IpNetwork::around(ip, 32, static_cast<int>(ipv6_prefix_length));
  return network ? network->str() : std::string(ip);
}

ConnectionLimits::Verdict ConnectionLimits::acquire(const std::string& key, uint32_t max_total,
                                                    uint32_t max_per_client) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (total_ >= max_total) {
    return Verdict::NodeFull;
  }
  auto it = per_client_.find(key);
  if (it != per_client_.end() && it->second >= max_per_client) {
    return Verdict::IpFull;
  }
  ++per_client_[key];
  ++total_;
  return Verdict::Accept;
}

void ConnectionLimits::release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = per_client_.find(key);
  if (it == per_client_.end()) {
    return;
  }
  --total_;
  if (--it->second == 0) {
    per_client_.erase(it);
  }
}

uint64_t ConnectionLimits::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

}  // namespace mxgate::server
