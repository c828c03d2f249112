// The queue manager. It owns the in-memory index of every queued message (due time, size,
// whether a delivery is under way), dispatches due messages to their delivery targets, and
// records each outcome in the spool: delivered recipients are done, 4xx recipients are retried
// with exponential backoff and jitter, 5xx recipients fail; a message whose recipients are all
// done is deleted, one with failures (or past the maximum age) is dead-lettered — kept in the
// spool, listed, and retryable by an admin.
//
// Everything runs on the control loop. enqueue() and the admin calls are thread-safe (they
// post to the control loop). Spool reads run on the read lane. Bodies of freshly accepted
// messages stay in memory (the hot cache, bounded in bytes) so the normal path never reads
// the spool back. Deliveries under way hold at most queue.max_delivery_memory of bodies
// (one delivery always runs), so a backlog of large messages cannot exhaust memory.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::scheduler {

// Finds the target for a tenant id in the current configuration; nullptr if none.
using TargetResolver = std::function<delivery::Target*(const std::string& tenant)>;

struct QueueStats {
  uint64_t queued = 0;        // messages waiting or in delivery
  uint64_t queued_bytes = 0;  // their body bytes
  uint64_t active = 0;        // deliveries under way
  uint64_t dead = 0;          // dead-lettered messages in the spool
  uint64_t oldest_us = 0;     // arrival time of the oldest queued message (0 = none)
  uint64_t delivered = 0;     // recipients delivered since start
  uint64_t deferred = 0;      // recipient deferrals since start
  uint64_t failed = 0;        // recipients failed permanently since start
  uint64_t hot_bytes = 0;
  uint64_t delivery_bytes = 0;  // bodies held in memory by deliveries under way
};

// Outcome of an admin action, for the API's status code.
enum class AdminStatus { Ok, Accepted, NotFound, Busy, Error };

class Scheduler {
 public:
  // admission is told of every message entering and leaving the queue.
  Scheduler(io::Loop& control, spool::Store& store, io::Lane& read_lane, spool::Admission& admission,
            const config::QueueSettings& settings, TargetResolver resolver);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Start-up, before listeners open (blocking; main thread): rebuilds the index from the spool,
  // moves undecodable records to the corrupt family, removes bodies of transactions that never
  // committed. Returns the number of queued messages found.
  uint64_t recover();
  // On the control loop: starts the due timer.
  void start();
  // On the control loop: stops dispatching (in-flight deliveries finish or fail on their own).
  void stop();

  // Thread-safe: a message whose commit was synced. body may be null (not kept in memory).
  void enqueue(spool::MessageRecord record, std::shared_ptr<const std::string> body);

  // Thread-safe snapshot for metrics and admission control.
  QueueStats stats() const;

  // Admin API (thread-safe; callbacks run on the control loop).
  using ListFn = std::function<void(std::vector<spool::MessageRecord>)>;
  void list(size_t limit, ListFn done);
  using ShowFn = std::function<void(AdminStatus, spool::MessageRecord, bool active)>;
  void show(const mail::QueueId& id, ShowFn done);
  using ActionFn = std::function<void(AdminStatus, std::string detail)>;
  // Queued: make due now. Dead: requeue its failed recipients.
  void retry(const mail::QueueId& id, ActionFn done);
  // Removes the message (after the delivery under way, if any).
  void remove(const mail::QueueId& id, ActionFn done);

  // Backoff before attempt `attempts + 1` (without jitter); exposed for tests.
  static uint64_t backoffMicros(const config::QueueSettings& settings, uint32_t attempts);

 private:
  struct Entry {
    uint64_t due_us = 0;
    uint64_t received_us = 0;
    uint64_t body_size = 0;
    uint32_t body_chunks = 0;
    bool active = false;
    bool delete_requested = false;
  };
  struct Hot {
    spool::MessageRecord record;
    std::shared_ptr<const std::string> body;
  };
  struct Attempt;

  void addToIndex(const spool::MessageRecord& record);
  void eraseFromIndex(std::map<mail::QueueId, Entry>::iterator entry);
  void armTimer();
  static void onTimer(uv_timer_t* timer);
  void dispatchDue();
  void startAttempt(const mail::QueueId& id, spool::MessageRecord record,
                    std::shared_ptr<const std::string> body);
  void loadAndStart(const mail::QueueId& id);
  void onJobDone(const std::shared_ptr<Attempt>& attempt, size_t job, delivery::Result result);
  void finishAttempt(const std::shared_ptr<Attempt>& attempt);
  void deadLetter(spool::MessageRecord& record, const std::string& reason, uint64_t now);
  void dropHot(const mail::QueueId& id);
  void publishStats();
  uint64_t jitter(uint64_t micros);

  io::Loop& control_;
  spool::Store& store_;
  io::Lane& read_lane_;
  spool::Admission& admission_;
  config::QueueSettings settings_;
  TargetResolver resolver_;

  std::map<mail::QueueId, Entry> index_;  // queue ids sort by arrival: begin() is the oldest
  std::multimap<uint64_t, mail::QueueId> due_;  // due time -> id (stale pairs skipped)
  std::unordered_map<mail::QueueId, Hot, mail::QueueIdHash> hot_;
  uint64_t hot_bytes_ = 0;
  uint64_t queued_bytes_ = 0;
  uint64_t active_ = 0;
  uint64_t delivery_bytes_ = 0;  // bodies held by deliveries under way
  bool memory_bound_ = false;    // dispatching waits for delivery memory
  uint64_t dead_ = 0;
  uint64_t delivered_ = 0;
  uint64_t deferred_ = 0;
  uint64_t failed_ = 0;
  uint64_t random_state_;
  uv_timer_t timer_{};
  bool timer_started_ = false;
  bool stopped_ = false;

  mutable std::mutex stats_mutex_;
  QueueStats stats_;
};

}  // namespace mxgate::scheduler
