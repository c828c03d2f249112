// Traffic shaping of MX delivery (mx.shaping_file, format conf/shaping.toml): per destination
// site, a connection limit, a connection rate, messages per connection and a message rate, and
// back-off rules that tighten them, or suspend the site, for a while after a receiver's
// throttling reply (like KumoMTA's traffic shaping automation). A site is the set of mail
// exchangers of a recipient domain, so the domains one provider hosts share one site, or a
// [[provider]] of the rules as a whole. Rates are GCRAs (gcra.h).
//
// The state is in memory: a restart starts every site with a full allowance and no back-off.
// Thread-safe: the mx target's worker loops ask at once; update() (start and reload, on the
// configuration thread) swaps the rules, and every site takes its limits from the new rules
// the next time it is looked up, keeping what it has already counted.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/shaping/gcra.h"

namespace mxgate::shaping {

// Why delivery to a site was held back.
enum class Throttle : size_t { ConnectionLimit, ConnectionRate, MessageRate, Suspended, Count };
std::string_view name(Throttle throttle);  // "connection_limit", "max_connection_rate", ...

// Deliveries held back by each limit, and back-offs started, since start (for /metrics).
struct ThrottleCounters {
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Throttle::Count)> held{};
  std::atomic<uint64_t> backoffs{0};
};

// What an operator sees of a site (mxgate shaping ls): its connections and any back-off.
struct SiteStatus {
  std::string site;
  uint32_t connections = 0;     // open now
  int backoff_line = 0;         // the back-off rule in force (its line), 0 = none
  std::string backoff_source;   // the rules file it is in
  bool suspended = false;
  uint64_t backoff_until_us = 0;
};

// Whether something may go now; when not, why and until when.
struct Hold {
  bool held = false;
  Throttle throttle = Throttle::MessageRate;
  std::string limit;       // "max_message_rate 100/s", "suspended by the back-off rule on line 12"
  uint64_t until_us = 0;   // the earliest time to try again
};

// One destination site. Its methods are thread-safe.
class Site {
 public:
  // How long a delivery waits when the connection limit is reached and none of its own pool's
  // connections will become free: connections do not announce when they close.
  static constexpr uint64_t kConnectionWaitMicros = 1000000;

  const std::string& key() const { return key_; }
  // One message to the site at now_us: counted, or held by the message rate (until the next
  // slot after the messages held before it) or a suspension.
  Hold admitMessage(uint64_t now_us);
  // One new connection to the site: counted (close it with closeConnection()), or held by the
  // connection limit or rate.
  Hold openConnection(uint64_t now_us);
  void closeConnection();
  // Messages on one connection before QUIT; 0 = no limit of the site.
  uint32_t deliveriesPerConnection(uint64_t now_us);
  // A temporary (4xx) reply of one of the site's exchangers: the first back-off rule matching it
  // starts (or extends) a back-off. The rule, or nullptr when none matched.
  const config::BackoffRule* noteTemporaryReply(std::string_view reply, uint64_t now_us);

 private:
  friend class DestinationLimits;
  // The limits at now_us: the rules' for this site, tightened by an active back-off. mutex_ held.
  config::ShapingLimits effective(uint64_t now_us) const;
  Hold held(Throttle throttle, std::string limit, uint64_t until_us);
  // Nothing open, counted or backed off: forgetting the site loses nothing. mutex_ held.
  bool idle(uint64_t now_us) const;

  std::string key_;
  ThrottleCounters* counters_ = nullptr;
  std::mutex mutex_;
  std::shared_ptr<const config::ShapingRules> rules_;  // keeps backoff_ alive
  config::ShapingLimits limits_;
  const config::BackoffRule* backoff_ = nullptr;
  uint64_t backoff_until_us_ = 0;
  uint32_t open_ = 0;
  uint64_t held_tail_us_ = 0;  // the latest time a message held by the message rate was given
  Gcra connections_;
  Gcra messages_;
};

class DestinationLimits {
 public:
  // Idle sites are forgotten once more than this many are known.
  static constexpr size_t kMaxIdleSites = 10000;

  void update(std::shared_ptr<const config::ShapingRules> rules);
  // The site of a recipient domain whose mail exchangers are these host names (empty names,
  // address literals, are left out; with none left the domain is its own site).
  std::shared_ptr<Site> siteFor(std::string_view domain, const std::vector<std::string>& exchangers, uint64_t now_us);
  const ThrottleCounters& counters() const { return counters_; }
  // The sites with open connections or a back-off in force at now_us, by site.
  std::vector<SiteStatus> busySites(uint64_t now_us);
  // Ends the back-off of a site now; false when it has none in force.
  bool endBackoff(std::string_view site, uint64_t now_us);

 private:
  std::mutex mutex_;
  std::shared_ptr<const config::ShapingRules> rules_;
  std::unordered_map<std::string, std::shared_ptr<Site>> sites_;
  ThrottleCounters counters_;
};

}  // namespace mxgate::shaping
