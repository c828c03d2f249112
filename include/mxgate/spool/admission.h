// Admission control: decides, with a few atomic loads, whether a new transaction may start.
// Backpressure instead of a 250 that cannot be kept: when the queue, the spool's disk or
// the memory held by in-flight messages crosses its high water, MAIL gets a 4xx; acceptance
// resumes by itself once every measure is back below resume_percent of its limit
// (hysteresis, so a node at the edge does not flap).
//
// The queue counters are live (the scheduler reports every message entering and leaving the
// queue) and free disk is estimated between statvfs refreshes from the bytes submitted since,
// so a fast client cannot run past a limit between two refreshes. check() and the accounting
// calls run on any thread; refresh() runs on the control loop's periodic timer (250 ms).
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
    WriteError,  // the spool cannot write (I/O error, waiting to recover): 451 4.3.0
  };

  explicit Admission(const config::SpoolSettings& settings) : settings_(settings) {}

  Verdict check();

  // Queue accounting, kept by the scheduler.
  void messageQueued(uint64_t bytes);
  void messageRemoved(uint64_t bytes);
  // Message bytes handed to the spool (sessions); each counts twice against free disk: once in
  // the WAL, once more in the blob or table file written when the memtable flushes.
  void addWritten(uint64_t bytes) { written_.fetch_add(bytes, std::memory_order_relaxed); }

  // Bytes of message data held in memory by sessions and queued commits.
  void addInflight(uint64_t bytes) { inflight_.fetch_add(bytes, std::memory_order_relaxed); }
  void releaseInflight(uint64_t bytes) { inflight_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

  // A fresh statvfs reading and the store's health; releases the storage latch once every
  // measure has been below its resume level for kClearRefreshesToResume refreshes in a row
  // (the free-disk estimate between refreshes is deliberately pessimistic; this keeps the
  // latch from flapping when a refresh then shows a little more room).
  static constexpr int kClearRefreshesToResume = 4;
  void refresh(uint64_t free_disk_bytes, bool store_writable);
  bool storagePressure() const { return pressure_.load(std::memory_order_relaxed); }
  // Free disk at the last refresh, less what the memtables will need when they flush.
  uint64_t freeDiskBytes() const { return free_at_refresh_.load(std::memory_order_relaxed); }
  uint64_t queuedMessages() const { return queued_.load(std::memory_order_relaxed); }
  uint64_t queuedBytes() const { return queued_bytes_.load(std::memory_order_relaxed); }

 private:
  uint64_t estimatedFree() const;

  config::SpoolSettings settings_;
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> queued_bytes_{0};
  std::atomic<uint64_t> written_{0};  // since the last refresh
  std::atomic<uint64_t> free_at_refresh_{UINT64_MAX};
  std::atomic<uint64_t> inflight_{0};
  std::atomic<bool> pressure_{false};
  std::atomic<bool> store_writable_{true};
  int clear_refreshes_ = 0;  // refresh() only (one thread)
};

}  // namespace mxgate::spool
