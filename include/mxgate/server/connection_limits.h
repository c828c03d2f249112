// Node-wide and per-client-IP connection counting for the SMTP listeners. Shared by every
// worker loop (a mutex-protected map; one lock per connect and disconnect).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mxgate::server {

class ConnectionLimits {
 public:
  enum class Verdict { Accept, NodeFull, IpFull };

  Verdict acquire(const std::string& ip, uint32_t max_total, uint32_t max_per_ip);
  void release(const std::string& ip);
  uint64_t total() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> per_ip_;
  uint64_t total_ = 0;
};

}  // namespace mxgate::server
