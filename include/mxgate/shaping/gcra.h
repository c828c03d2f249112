// The generic cell rate algorithm (GCRA, the "virtual scheduling" form of ITU-T I.371) behind
// every rate limit of traffic shaping: `count` units per period may go at once, and then one
// every period/count. Not thread-safe by itself: its owner locks.
#pragma once

#include <cstdint>
#include <string>

#include "mxgate/config/config.h"

namespace mxgate::shaping {

class Gcra {
 public:
  // The earliest time (µs) at which one more unit conforms; now_us or earlier means "now".
  uint64_t nextConforming(uint64_t count, uint64_t period_us, uint64_t now_us) const;
  // Takes one unit at now_us (call only when it conforms).
  void take(uint64_t count, uint64_t period_us, uint64_t now_us);
  // Nothing taken is still counted at now_us (the state equals a fresh one).
  bool atRest(uint64_t now_us) const { return tat_us_ <= now_us; }
  // The theoretical arrival time, to keep across a restart, and setting it back.
  uint64_t tat() const { return tat_us_; }
  void restore(uint64_t tat_us) { tat_us_ = tat_us; }

  // The same for a configured rate (count 0: no limit, always conforming).
  uint64_t nextConforming(const config::Rate& rate, uint64_t now_us) const {
    return rate.count == 0 ? now_us : nextConforming(rate.count, rate.period_s * 1000000, now_us);
  }
  void take(const config::Rate& rate, uint64_t now_us) {
    if (rate.count != 0) {
      take(rate.count, rate.period_s * 1000000, now_us);
    }
  }

 private:
  uint64_t tat_us_ = 0;  // theoretical arrival time of the next unit
};

// A rate as the configuration writes it: "100/s", "5/10m".
std::string rateText(const config::Rate& rate);

}  // namespace mxgate::shaping
