// Node-wide and per-client connection counting for the SMTP listeners. Shared by every
// worker loop (a mutex-protected map; one lock per connect and disconnect).
//
// A client is counted under its key (clientKey): an IPv4 address by itself, an IPv6 address by
// its /ipv6_prefix_length network, since one host commonly holds a whole /64 (RFC 6177) and
// would otherwise pass the per-IP limit with a new address per connection. An IPv4-mapped IPv6
// address counts as its IPv4 address.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mxgate::server {

class ConnectionLimits {
 public:
  enum class Verdict { Accept, NodeFull, IpFull };

  // "192.0.2.1/32", "2001:db8:1:2::/64"; text that is not an address is its own key.
  static std::string clientKey(std::string_view ip, uint32_t ipv6_prefix_length);

  // Counts a connection of the client with this key unless a limit is reached; release()
  // with the same key undoes it.
  Verdict acquire(const std::string& key, uint32_t max_total, uint32_t max_per_client);
  void release(const std::string& key);
  uint64_t total() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> per_client_;
  uint64_t total_ = 0;
};

}  // namespace mxgate::server
