// Internal to the DNS component: the resolver's answer cache, keyed by (canonical name, type),
// with a per-entry expiry and least-recently-used eviction beyond a fixed number of entries.
// A hit returns the answer with its ttl set to the whole seconds left (RFC 1035 §3.2.1: a
// cached record's TTL counts down). Used only on the resolver's loop thread; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "mxgate/dns/resolver.h"

namespace mxgate::dns::detail {

struct QueryKey {
  std::string name;  // canonicalName() form
  RrType type = RrType::A;

  bool operator==(const QueryKey&) const = default;
};

struct QueryKeyHash {
  size_t operator()(const QueryKey& key) const;
};

class AnswerCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AnswerCache(size_t capacity) : capacity_(capacity) {}

  // The live entry for key with its remaining ttl, or nullptr (an expired entry is dropped).
  AnswerPtr find(const QueryKey& key, Clock::time_point now);
  // Keeps answer for `seconds` (replacing any entry for key); 0 seconds stores nothing.
  void insert(const QueryKey& key, AnswerPtr answer, uint32_t seconds, Clock::time_point now);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    AnswerPtr answer;  // as stored; its ttl is the full lifetime
    AnswerPtr served;  // the last copy handed out with a counted-down ttl (or answer itself)
    Clock::time_point expiry;
    std::list<QueryKey>::iterator recency;
  };

  void erase(std::unordered_map<QueryKey, Entry, QueryKeyHash>::iterator it);

  size_t capacity_;
  std::unordered_map<QueryKey, Entry, QueryKeyHash> entries_;
  std::list<QueryKey> recency_;  // most recently used first
};

}  // namespace mxgate::dns::detail
