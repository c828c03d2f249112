// Admission control: decides, with a few atomic loads, whether a new transaction may start.
// Backpressure instead of a 250 that cannot be kept: when the queue, the spool's disk or
// the memory held by in-flight messages crosses its high water, MAIL gets a 4xx; acceptance
// resumes by itself once every measure is back below resume_percent of its limit
// (hysteresis, so a node at the edge does not flap).
//
// The queue counters are live (the scheduler reports every message entering and leaving the
// queue) and free disk is estimated between statvfs refreshes from the bytes submitted since,
// so a fast client cannot run past a limit between two refreshes. check() and the accounting
// calls run on any thread; refresh() runs every 250 ms on the spool read lane, never two at
// once (the node's housekeeping hands the next one over only when the last has run).
// In-flight bytes count chunk writes and commits on their way to the spool and the message
// copies kept for a scan before the 250 (CountedBuffer).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

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
  // Counts bytes unless that would take the in-flight total past max_inflight_bytes; false
  // (nothing counted) otherwise.
  bool tryAddInflight(uint64_t bytes);
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
  int clear_refreshes_ = 0;  // refresh() only (calls never overlap)
};

// Message bytes held in memory outside the spool's writes (the copy of a message that a scan
// before the 250 reads), counted in the in-flight bytes by the buffer's capacity for as long as
// the buffer lives. Growth that would take the total past max_inflight_bytes is refused, so
// many sessions with large messages get 451 4.3.0 instead of exhausting memory. One thread
// appends; the buffer may then be shared, and the last reference may drop on any thread.
class CountedBuffer {
 public:
  explicit CountedBuffer(Admission& admission) : admission_(admission) {}
  ~CountedBuffer() { admission_.releaseInflight(counted_); }
  CountedBuffer(const CountedBuffer&) = delete;
  CountedBuffer& operator=(const CountedBuffer&) = delete;

  // Makes room for bytes in all, counted first; false, with nothing changed, when the memory
  // is not available.
  bool reserve(uint64_t bytes);
  // Appends, counting any growth first; false, with nothing appended, when the memory is not
  // available.
  bool append(std::string_view bytes);
  const std::string& text() const { return text_; }

 private:
  Admission& admission_;
  std::string text_;
  uint64_t counted_ = 0;  // bytes added to the in-flight total: the capacity of text_
};

}  // namespace mxgate::spool
