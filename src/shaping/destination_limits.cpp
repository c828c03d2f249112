// Traffic shaping per destination site (see include/mxgate/shaping/destination_limits.h).
// Any thread: the map of sites has one lock, each site its own.
#include "mxgate/shaping/destination_limits.h"

#include <algorithm>

#include <fmt/format.h>

#include "mxgate/base/ascii.h"
#include "mxgate/bounce/classifier.h"

namespace mxgate::shaping {

std::string_view name(Throttle throttle) {
  switch (throttle) {
    case Throttle::ConnectionLimit: return "connection_limit";
    case Throttle::ConnectionRate: return "max_connection_rate";
    case Throttle::MessageRate: return "max_message_rate";
    case Throttle::Suspended: return "suspended";
    case Throttle::Count: break;
  }
  return "max_message_rate";
}

config::ShapingLimits Site::effective(uint64_t now_us) const {
  if (backoff_ == nullptr || now_us >= backoff_until_us_) {
    return limits_;
  }
  return limits_.strictest(backoff_->limits);
}

Hold Site::held(Throttle throttle, std::string limit, uint64_t until_us) {
  counters_->held[static_cast<size_t>(throttle)].fetch_add(1, std::memory_order_relaxed);
  return Hold{true, throttle, fmt::format("{} for site {}", limit, key_), until_us};
}

Hold Site::admitMessage(uint64_t now_us) {
  std::lock_guard lock(mutex_);
  if (backoff_ != nullptr && backoff_->suspend && now_us < backoff_until_us_) {
    return held(Throttle::Suspended, fmt::format("suspended by the back-off rule on line {} of {}", backoff_->line,
                                                 rules_->source),
                backoff_until_us_);
  }
  const config::Rate rate = effective(now_us).max_message_rate;
  if (const uint64_t at = messages_.nextConforming(rate, now_us); at > now_us) {
    // Each held message gets the next free slot after those held before it, so they come back
    // one per emission interval instead of all at once.
    held_tail_us_ = std::max(at, held_tail_us_ + rate.period_s * 1000000 / rate.count);
    return held(Throttle::MessageRate, "max_message_rate " + rateText(rate), held_tail_us_);
  }
  messages_.take(rate, now_us);
  return {};
}

Hold Site::openConnection(uint64_t now_us) {
  std::lock_guard lock(mutex_);
  const config::ShapingLimits limits = effective(now_us);
  if (limits.connection_limit != 0 && open_ >= limits.connection_limit) {
    return held(Throttle::ConnectionLimit, fmt::format("connection_limit {}", limits.connection_limit),
                now_us + kConnectionWaitMicros);
  }
  if (const uint64_t at = connections_.nextConforming(limits.max_connection_rate, now_us); at > now_us) {
    return held(Throttle::ConnectionRate, "max_connection_rate " + rateText(limits.max_connection_rate), at);
  }
  connections_.take(limits.max_connection_rate, now_us);
  ++open_;
  return {};
}

void Site::closeConnection() {
  std::lock_guard lock(mutex_);
  open_ -= open_ > 0 ? 1 : 0;
}

uint32_t Site::deliveriesPerConnection(uint64_t now_us) {
  std::lock_guard lock(mutex_);
  return effective(now_us).max_deliveries_per_connection;
}

const config::BackoffRule* Site::noteTemporaryReply(std::string_view reply, uint64_t now_us) {
  std::lock_guard lock(mutex_);
  for (const config::BackoffRule& rule : rules_->backoff) {
    if (bounce::replyMatches(rule.regex, reply)) {
      backoff_ = &rule;
      backoff_until_us_ = std::max(backoff_until_us_, now_us + rule.duration_us);
      counters_->backoffs.fetch_add(1, std::memory_order_relaxed);
      return &rule;
    }
  }
  return nullptr;
}

bool Site::idle(uint64_t now_us) const {
  return open_ == 0 && now_us >= backoff_until_us_ && connections_.atRest(now_us) && messages_.atRest(now_us);
}

void DestinationLimits::update(std::shared_ptr<const config::ShapingRules> rules) {
  std::lock_guard lock(mutex_);
  rules_ = std::move(rules);
}

std::vector<SiteStatus> DestinationLimits::busySites(uint64_t now_us) {
  std::vector<SiteStatus> busy;
  std::lock_guard lock(mutex_);
  for (const auto& [key, site] : sites_) {
    std::lock_guard site_lock(site->mutex_);
    const bool backoff = site->backoff_ != nullptr && now_us < site->backoff_until_us_;
    if (site->open_ == 0 && !backoff) {
      continue;
    }
    SiteStatus status;
    status.site = key;
    status.connections = site->open_;
    if (backoff) {
      status.backoff_line = site->backoff_->line;
      status.backoff_source = site->rules_->source;
      status.suspended = site->backoff_->suspend;
      status.backoff_until_us = site->backoff_until_us_;
    }
    busy.push_back(std::move(status));
  }
  std::sort(busy.begin(), busy.end(), [](const SiteStatus& a, const SiteStatus& b) { return a.site < b.site; });
  return busy;
}

bool DestinationLimits::endBackoff(std::string_view site, uint64_t now_us) {
  std::lock_guard lock(mutex_);
  const auto found = sites_.find(std::string(site));
  if (found == sites_.end()) {
    return false;
  }
  std::lock_guard site_lock(found->second->mutex_);
  if (found->second->backoff_ == nullptr || now_us >= found->second->backoff_until_us_) {
    return false;
  }
  found->second->backoff_ = nullptr;
  found->second->backoff_until_us_ = 0;
  return true;
}

std::shared_ptr<Site> DestinationLimits::siteFor(std::string_view domain, const std::vector<std::string>& exchangers,
                                                 uint64_t now_us) {
  std::vector<std::string> names;
  for (const std::string& host : exchangers) {
    if (!host.empty()) {
      names.push_back(ascii::toLowerCopy(host.ends_with('.') ? host.substr(0, host.size() - 1) : host));
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::lock_guard lock(mutex_);
  if (rules_ == nullptr) {
    rules_ = std::make_shared<const config::ShapingRules>();
  }
  const config::ShapingProvider* provider = rules_->providerFor(domain, names);
  std::string key = provider != nullptr ? "provider:" + provider->name
                    : names.empty()     ? ascii::toLowerCopy(domain)
                                        : fmt::format("{}", fmt::join(names, ","));
  if (sites_.size() > kMaxIdleSites) {
    std::erase_if(sites_, [now_us](auto& entry) {
      std::lock_guard site_lock(entry.second->mutex_);
      return entry.second.use_count() == 1 && entry.second->idle(now_us);
    });
  }
  std::shared_ptr<Site>& site = sites_[key];
  if (site == nullptr) {
    site = std::make_shared<Site>();
    site->key_ = std::move(key);
    site->counters_ = &counters_;
  }
  std::lock_guard site_lock(site->mutex_);
  if (site->rules_ != rules_) {
    site->rules_ = rules_;
    site->limits_ = provider != nullptr ? provider->limits.over(rules_->defaults) : rules_->defaults;
    site->backoff_ = nullptr;  // a back-off of the old rules ends with them
    site->backoff_until_us_ = 0;
  }
  return site;
}

}  // namespace mxgate::shaping
