// The resolver's TTL cache with LRU eviction (see answer_cache.h). Resolver loop thread only.
#include "answer_cache.h"

#include <functional>
#include <memory>
#include <utility>

namespace mxgate::dns::detail {

size_t QueryKeyHash::operator()(const QueryKey& key) const {
  return std::hash<std::string>{}(key.name) * 31 + static_cast<size_t>(key.type);
}

AnswerPtr AnswerCache::find(const QueryKey& key, Clock::time_point now) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) {
    return nullptr;
  }
  Entry& entry = it->second;
  if (entry.expiry <= now) {
    erase(it);
    return nullptr;
  }
  recency_.splice(recency_.begin(), recency_, entry.recency);
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(entry.expiry - now).count();
  const uint32_t ttl = static_cast<uint32_t>(left);
  if (entry.served->ttl != ttl) {
    auto copy = std::make_shared<Answer>(*entry.answer);
    copy->ttl = ttl;
    entry.served = std::move(copy);
  }
  return entry.served;
}

void AnswerCache::insert(const QueryKey& key, AnswerPtr answer, uint32_t seconds, Clock::time_point now) {
  if (seconds == 0 || capacity_ == 0) {
    return;
  }
  if (const auto old = entries_.find(key); old != entries_.end()) {
    erase(old);
  }
  while (entries_.size() >= capacity_) {
    erase(entries_.find(recency_.back()));
  }
  recency_.push_front(key);
  Entry entry;
  entry.served = answer;
  entry.answer = std::move(answer);
  entry.expiry = now + std::chrono::seconds(seconds);
  entry.recency = recency_.begin();
  entries_.emplace(key, std::move(entry));
}

void AnswerCache::erase(std::unordered_map<QueryKey, Entry, QueryKeyHash>::iterator it) {
  recency_.erase(it->second.recency);
  entries_.erase(it);
}

}  // namespace mxgate::dns::detail
