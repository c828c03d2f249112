// The queue manager. It owns the in-memory index of every queued message (due time, size,
// whether a delivery is under way), dispatches due messages to their delivery targets, and
// records each outcome in the spool: delivered recipients are done, 4xx recipients are retried
// with exponential backoff and jitter, 5xx recipients fail; a message whose recipients are all
// done is deleted, one with failures (or past the maximum age) is dead-lettered — kept in the
// spool, listed, and retryable by an admin.
//
// Inbound messages committed with stage "scan" are scanned (scan lane) when first dispatched;
// the tenants' policies send infected (or, failing closed, unscannable) mail to quarantine. The
// quarantine itself — list, show, release (re-scan, then deliver), delete, legal hold, and the
// purge of expired entries — lives here too (src/scheduler/quarantine.cpp), because releasing
// and deleting change the same message records the delivery attempts do. Every action on a
// message is serialized on the control loop: an admin action locks the message, so no
// delivery attempt starts on it meanwhile, and is refused while an attempt is under way.
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
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::scheduler {

// Finds the target for a tenant id in the current configuration; nullptr if none.
using TargetResolver = std::function<delivery::Target*(const std::string& tenant)>;

// What the scan stage and the quarantine need from the node.
struct InboundHooks {
  scan::Scanner* scanner = nullptr;  // nullptr: messages marked for scanning are delivered unscanned
  // The current configuration: tenant policies and the scan failure mode.
  std::function<std::shared_ptr<const config::Config>()> config;
};

struct QueueStats {
  uint64_t queued = 0;        // messages waiting or in delivery
  uint64_t queued_bytes = 0;  // their body bytes
  uint64_t active = 0;        // deliveries under way
  uint64_t dead = 0;          // dead-lettered messages in the spool
  uint64_t held = 0;          // messages kept only for quarantined recipients
  uint64_t quarantined = 0;   // quarantine entries
  uint64_t oldest_us = 0;     // arrival time of the oldest queued message (0 = none)
  uint64_t delivered = 0;     // recipients delivered since start
  uint64_t deferred = 0;      // recipient deferrals since start
  uint64_t failed = 0;        // recipients failed permanently since start
  uint64_t hot_bytes = 0;
  uint64_t delivery_bytes = 0;  // bodies held in memory by deliveries under way
};

// Outcome of an admin action, for the API's status code. Refused: the action is not allowed in
// the message's present state (e.g. a release whose re-scan finds a virus).
enum class AdminStatus { Ok, Accepted, NotFound, Busy, Refused, Error };

// Purge is the retention purge's own delete: refused for entries on hold or not yet expired.
enum class QuarantineAction { Release, Delete, Hold, Unhold, Purge };

struct QuarantineQuery {
  std::string tenant;  // "" = all tenants
  std::string reason;  // "" = any reason
  size_t limit = 1000;
};

// One quarantine entry with its message, for `quarantine show`.
struct QuarantineDetail {
  spool::QuarantineRecord entry;
  spool::MessageRecord message;
  std::string header_section;  // the stored message's header section (first 64 KiB at most)
  std::vector<spool::AuditRecord> audit;  // the actions on this message
};

class Scheduler {
 public:
  // admission is told of every message entering and leaving the queue.
  Scheduler(io::Loop& control, spool::Store& store, io::Lane& read_lane, spool::Admission& admission,
            const config::QueueSettings& settings, TargetResolver resolver, InboundHooks inbound = {});
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
  // Removes the message (after the delivery under way, if any) and its quarantine entries.
  void remove(const mail::QueueId& id, ActionFn done);

  // Quarantine (thread-safe; callbacks run on the control loop).
  using QuarantineListFn = std::function<void(std::vector<spool::QuarantineRecord>)>;
  void quarantineList(QuarantineQuery query, QuarantineListFn done);
  // tenant "" in the calls below: the message's only quarantine entry (Refused, naming the
  // tenants, when it has several).
  using QuarantineShowFn = std::function<void(AdminStatus, std::string error, QuarantineDetail)>;
  void quarantineShow(const std::string& tenant, const mail::QueueId& id, QuarantineShowFn done);
  // actor: who asks ("cli:<user>", "api"), for the audit log. force (release only): deliver
  // even when the re-scan finds a virus or cannot finish.
  void quarantineAct(QuarantineAction action, const std::string& tenant, const mail::QueueId& id,
                     const std::string& actor, bool force, ActionFn done);
  // Audit records, newest first.
  using AuditFn = std::function<void(std::vector<spool::AuditRecord>)>;
  void auditList(size_t limit, AuditFn done);

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

  // Serializes admin actions with delivery attempts: false when the message is locked or a
  // delivery attempt is under way.
  bool lock(const mail::QueueId& id);
  void unlock(const mail::QueueId& id);
  // What a quarantine action read: the entry, and the message when it is still in the spool.
  struct Quarantined {
    spool::QuarantineRecord entry;
    bool message_found = false;
    spool::MessageRecord message;
    std::shared_ptr<const std::string> body;  // when asked for
  };
  // A quarantine action's writes and what they do to the message.
  struct AdminChange {
    spool::Batch batch;
    mail::QueueId id;
    bool message_changed = false;
    spool::MessageRecord record;                 // as written, when message_changed
    spool::MessageState before = spool::MessageState::Queued;
    std::optional<spool::MessageState> after;    // nullopt: the message is deleted
    int64_t quarantine_delta = 0;
    std::string detail;                          // for the reply
  };
  // Reads the entry and the message on the read lane, then runs apply on the control loop (the
  // message is locked by then); reports and unlocks by itself when the entry is missing.
  void readQuarantined(const std::string& tenant, const mail::QueueId& id, bool with_body, ActionFn done,
                       std::function<void(Quarantined)> apply);
  void release(Quarantined found, const std::string& actor, bool force, std::optional<scan::ScanResult> rescan,
               ActionFn done);
  void discard(Quarantined found, const std::string& actor, QuarantineAction action, ActionFn done);
  void setHold(Quarantined found, const std::string& actor, bool hold, ActionFn done);
  // Writes the change (synced); then updates the index and counters, unlocks, and reports.
  void commitAdminChange(AdminChange change, ActionFn done);
  void armPurge();
  static void onPurgeTimer(uv_timer_t* timer);
  void purgeExpired();

  // The scan stage: scans the body, applies the tenants' virus policies, then delivers.
  void scanThenDeliver(const mail::QueueId& id, spool::MessageRecord record, std::shared_ptr<const std::string> body);
  void applyScan(const mail::QueueId& id, spool::MessageRecord record, std::shared_ptr<const std::string> body,
                 const scan::ScanResult& result);
  void deliver(const mail::QueueId& id, spool::MessageRecord record, std::shared_ptr<const std::string> body);
  // A dispatched message that could not start: back to waiting, due after delay_us.
  void returnUnstarted(const mail::QueueId& id, uint64_t delay_us);

  void addToIndex(const spool::MessageRecord& record);
  void eraseFromIndex(std::map<mail::QueueId, Entry>::iterator entry);
  void armTimer();
  static void onTimer(uv_timer_t* timer);
  void dispatchDue();
  void startAttempt(const mail::QueueId& id, spool::MessageRecord record,
                    std::shared_ptr<const std::string> body);
  void loadAndStart(const mail::QueueId& id);
  void onJobDone(const std::shared_ptr<Attempt>& attempt, size_t job, delivery::Result result);
  static void addRecipientEvent(Attempt& attempt, std::string_view type, const spool::RecipientRecord& recipient,
                                const std::string& remote, uint64_t at_us);
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
  InboundHooks inbound_;

  std::map<mail::QueueId, Entry> index_;  // queue ids sort by arrival: begin() is the oldest
  std::multimap<uint64_t, mail::QueueId> due_;  // due time -> id (stale pairs skipped)
  std::unordered_map<mail::QueueId, Hot, mail::QueueIdHash> hot_;
  uint64_t hot_bytes_ = 0;
  uint64_t queued_bytes_ = 0;
  uint64_t active_ = 0;
  uint64_t delivery_bytes_ = 0;  // bodies held by deliveries under way
  bool memory_bound_ = false;    // dispatching waits for delivery memory
  uint64_t dead_ = 0;
  uint64_t held_ = 0;
  uint64_t quarantined_ = 0;  // quarantine entries
  std::unordered_set<mail::QueueId, mail::QueueIdHash> locked_;
  uv_timer_t purge_timer_{};
  bool purging_ = false;
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
