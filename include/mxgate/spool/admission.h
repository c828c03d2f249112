// Admission control: decides, with a few atomic loads, whether a new transaction may start.
// Backpressure instead of a 250 that cannot be kept: when the queue, the spool's disk or
// the memory held by in-flight messages crosses its high water, MAIL gets a 4xx; acceptance
// resumes by itself once every measure is back below resume_percent of its limit
// (hysteresis, so a node at the edge does not flap).
//
// check() and the in-flight accounting run on loop threads; update() runs on the control
// loop's periodic timer.
#pragma once

#include <atomic>
#include <cstdint>

#include "mxgate/config/config.h"

namespace mxgate::spool {

class Admission {
 public:
  enum class Verdict {
    Accept,
    NoStorage,   // queue or disk over its high water: 452 4.3.1
    NoMemory,    // in-flight message data over its limit: 451 4.3.0
    WriteError,  // the spool cannot write (I/O error, waiting to resume): 451 4.3.0
  };

  explicit Admission(const config::SpoolSettings& settings) : settings_(settings) {}

  Verdict check() const;

  // Bytes of message data held in memory by sessions and queued commits.
  void addInflight(uint64_t bytes) { inflight_.fetch_add(bytes, std::memory_order_relaxed); }
  void releaseInflight(uint64_t bytes) { inflight_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

  // Fresh measurements; recomputes the latched storage verdict.
  void update(uint64_t queued_messages, uint64_t queued_bytes, uint64_t free_disk_bytes,
              bool store_writable);
  bool storagePressure() const { return storage_pressure_.load(std::memory_order_relaxed); }

 private:
  config::SpoolSettings settings_;
  std::atomic<uint64_t> inflight_{0};
  std::atomic<bool> storage_pressure_{false};
  std::atomic<bool> store_writable_{true};
};

}  // namespace mxgate::spool
