// The queue manager. It owns the in-memory index of every queued message (due times, size,
// which deliveries are under way), dispatches due work to the delivery targets, and records
// each outcome in the spool: delivered recipients are done, 4xx recipients are retried with
// exponential backoff and jitter, 5xx recipients fail; a message whose recipients are all done
// is deleted, one with failures is dead-lettered — kept in the spool, listed, and retryable by
// an admin, then purged after queue.dead_letter_retention.
//
// Every recipient is retried and expired by its own target's schedule (a webhook target's
// delivery.retry_* and max_age, else queue.retry_* and max_age): the unit of scheduling is a
// "part", one tenant's pending recipients of a message, with its own due time; the message is
// due when its earliest part is. A due part waits in the ready queue of its destination (the
// target it resolves to: a tenant's webhook endpoint, an SMTP next hop, a file directory), and
// each destination has its own budget — at most Target::concurrency() jobs under way — so a slow
// or hung destination holds only its own budget while due work for every other destination
// keeps flowing. Destinations with ready work and budget take turns (round robin, like
// Postfix's qmgr over its per-destination queues); dispatch is O(1) per job, never a scan of
// the queue. Parts of one message that resolve to the same target go in one job.
// queue.max_active (jobs under way) and queue.max_delivery_memory (bodies they hold) bound the
// whole node.
//
// Inbound messages committed with stage "scan" are scanned (scan lane) before any delivery:
// the whole message is one job of the scan destination; the tenants' policies send infected
// (or, failing closed, unscannable) mail to quarantine. The quarantine itself — list, show,
// release (re-scan, then deliver), delete, legal hold, and the purge of expired entries —
// lives here too (src/scheduler/quarantine.cpp), because releasing and deleting change the same
// message records the delivery attempts do, and so does the retention of dead letters and of
// the audit log (src/scheduler/retention.cpp). Every action on a message is serialized on the
// control loop: an admin action locks the message, so no delivery starts on it meanwhile, and
// is refused while one is under way.
//
// Everything runs on the control loop. enqueue(), updateSettings() and the admin calls are
// thread-safe (they post to the control loop). Spool reads run on the read lane. Bodies of
// freshly accepted messages stay in memory (the hot cache, bounded in bytes) so the normal
// path never reads the spool back. Deliveries under way hold at most queue.max_delivery_memory
// of bodies (one delivery always runs), so a backlog of large messages cannot exhaust memory.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mxgate/bounce/classifier.h"
#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::scheduler {

// Finds the target for a tenant id in the current configuration; nullptr if none. outbound:
// the tenant's own authenticated mail (origin Submission or Api), which goes to the tenant's
// [outbound] target; otherwise its inbound [delivery] target.
using TargetResolver = std::function<delivery::Target*(const std::string& tenant, bool outbound)>;

// What the scan stage and the quarantine need from the node.
struct InboundHooks {
  scan::Scanner* scanner = nullptr;  // nullptr: messages marked for scanning are delivered unscanned
  // The current configuration: tenant policies and the scan failure mode.
  std::function<std::shared_ptr<const config::Config>()> config;
};

struct QueueStats {
  uint64_t queued = 0;        // messages waiting or in delivery
  uint64_t queued_bytes = 0;  // their body bytes
  uint64_t active = 0;        // jobs under way (deliveries, scans, spool reads for them)
  uint64_t ready = 0;         // due parts waiting for their destination's budget
  uint64_t dead = 0;          // dead-lettered messages in the spool
  uint64_t held = 0;          // messages kept only for quarantined recipients
  uint64_t quarantined = 0;   // quarantine entries
  uint64_t oldest_us = 0;     // arrival time of the oldest queued message (0 = none)
  uint64_t delivered = 0;     // recipients delivered since start
  uint64_t deferred = 0;      // recipient deferrals since start
  uint64_t failed = 0;        // recipients failed permanently since start
  uint64_t hot_bytes = 0;
  uint64_t delivery_bytes = 0;  // bodies held in memory by deliveries under way
  uint64_t dead_purged = 0;     // dead letters purged after their retention since start
  uint64_t audit_purged = 0;    // audit records purged after their retention since start
  uint64_t dsn_queued = 0;      // delivery status notifications queued for senders since start
  uint64_t dsn_not_sent = 0;    // failures not reported (null sender, unauthenticated, no route)
  bool paused = false;          // a drain stopped dispatching (drain(false)): no job starts
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
  // On the control loop: starts the due timer and the purge timers.
  void start();
  // On the control loop: stops dispatching (in-flight deliveries finish or fail on their own).
  void stop();
  // Thread-safe, for a node drain. deliver_queue false: no job starts any more; the jobs under
  // way finish and record their outcomes (stats().active reaches 0). true: everything queued is
  // due now (a scheduled message at its send time, a held one when its limit allows) and keeps
  // being delivered on its schedule, for emptying a node before it is decommissioned.
  void drain(bool deliver_queue);

  // Thread-safe: a message whose commit was synced. body may be null (not kept in memory).
  void enqueue(spool::MessageRecord record, std::shared_ptr<const std::string> body);

  // Thread-safe (a reload): new retry schedule, maximum age, bounds and purge settings. Backoffs
  // already computed stay; the lane settings (read_threads, file_threads, lane_queue_limit)
  // are not the scheduler's.
  void updateSettings(const config::QueueSettings& settings);

  // Thread-safe snapshot for metrics and admission control.
  QueueStats stats() const;

  // Admin API (thread-safe; callbacks run on the control loop). actor: who asks ("cli:<user>",
  // the API's X-Mxgate-Actor, "api"), for the audit log.
  using ListFn = std::function<void(std::vector<spool::MessageRecord>)>;
  void list(size_t limit, ListFn done);
  using ShowFn = std::function<void(AdminStatus, spool::MessageRecord, bool active)>;
  void show(const mail::QueueId& id, ShowFn done);
  using ActionFn = std::function<void(AdminStatus, std::string detail)>;
  // Queued: make due now. Dead: requeue its failed recipients.
  void retry(const mail::QueueId& id, ActionFn done);
  // Removes the message (after the deliveries under way, if any) and its quarantine entries.
  void remove(const mail::QueueId& id, const std::string& actor, ActionFn done);

  // Quarantine (thread-safe; callbacks run on the control loop).
  using QuarantineListFn = std::function<void(std::vector<spool::QuarantineRecord>)>;
  void quarantineList(QuarantineQuery query, QuarantineListFn done);
  // tenant "" in the calls below: the message's only quarantine entry (Refused, naming the
  // tenants, when it has several).
  using QuarantineShowFn = std::function<void(AdminStatus, std::string error, QuarantineDetail)>;
  void quarantineShow(const std::string& tenant, const mail::QueueId& id, QuarantineShowFn done);
  // force (release only): deliver even when the re-scan finds a virus or cannot finish.
  void quarantineAct(QuarantineAction action, const std::string& tenant, const mail::QueueId& id,
                     const std::string& actor, bool force, ActionFn done);
  // Audit records, newest first.
  using AuditFn = std::function<void(std::vector<spool::AuditRecord>)>;
  void auditList(size_t limit, AuditFn done);

  // How an expired recipient's last reply starts; a dead letter with one is dead for its age.
  static constexpr std::string_view kExpiredReply = "expired after ";

  // Backoff before attempt `attempts + 1` (without jitter); exposed for tests.
  static uint64_t backoffMicros(const config::QueueSettings& settings, uint32_t attempts);

 private:
  static constexpr uint64_t kNever = UINT64_MAX;

  // One tenant's pending recipients of a message: what is scheduled, queued and delivered.
  struct Part {
    std::string tenant;  // "" for the scan stage
    uint64_t due_us = 0;
    bool ready = false;   // waiting in its destination's ready queue
    bool active = false;  // in a job under way
  };
  struct Entry {
    uint64_t due_us = kNever;  // earliest due of the parts neither ready nor active (its pair in due_)
    uint64_t received_us = 0;
    uint64_t body_size = 0;
    uint32_t body_chunks = 0;
    uint64_t send_at_us = 0;  // scheduled send: never due before this
    bool scan = false;  // scanned before anything is delivered: its one part belongs to scan_
    bool outbound = false;  // an authenticated tenant's mail: its parts go to the [outbound] target
    std::vector<Part> parts;
    uint32_t jobs = 0;  // jobs under way
    bool delete_requested = false;
    std::string delete_actor;
  };
  // A due part in a destination's ready queue; stale once the part is no longer ready.
  struct Ready {
    mail::QueueId id;
    std::string tenant;
  };
  // Where due parts wait for a job: one per destination target (nullptr: tenants without a
  // target), and the scan stage. Jobs under way never exceed the budget.
  struct Destination {
    const delivery::Target* target = nullptr;
    std::deque<Ready> ready;
    uint32_t active = 0;
    bool listed = false;  // in rotation_
  };
  struct Job;
  // What is in memory of a message: its newest record while jobs use it, while the spool has
  // not applied its last write, or in the hot cache; its body for jobs or in the hot cache.
  struct Cached {
    std::optional<spool::MessageRecord> record;
    std::shared_ptr<const std::string> body;
    bool hot = false;          // the body counts in hot_bytes_ (no job holds it)
    bool reading = false;      // a spool read for the waiting jobs is under way
    uint32_t unwritten = 0;    // writes of the record the spool has not applied yet
    std::vector<std::shared_ptr<Job>> waiting;
  };

  // Serializes admin actions with deliveries: false when the message is locked or jobs are
  // under way.
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
  // The purges re-arm their one-shot timers when a round is done.
  void startPurgeTimer(uv_timer_t& timer, std::chrono::seconds interval, uv_timer_cb purge);
  void armPurge();
  void purgeExpired();

  // Retention (src/scheduler/retention.cpp): dead letters and audit records past their
  // retention, except what a legal hold protects.
  void armRetentionPurge();
  void purgeRetained();
  void purgeAudit(std::vector<std::string> keys, uint64_t before_us, std::function<void(bool ok)> done);
  // remove(), and the retention purge when dead_before is set: only a dead letter dead since
  // before it, audited as a purge.
  void removeMessage(const mail::QueueId& id, const std::string& actor, std::optional<uint64_t> dead_before,
                     ActionFn done);

  // The index: messages, their parts and due times.
  void addToIndex(const spool::MessageRecord& record);
  void eraseFromIndex(std::map<mail::QueueId, Entry>::iterator entry);
  // Rebuilds the parts from the record's pending recipients (one per tenant), keeping the
  // state of those that stay; due times of waiting parts come from their recipients.
  void refreshParts(Entry& entry, const spool::MessageRecord& record);
  // Puts the entry's earliest waiting part into due_.
  void schedule(const mail::QueueId& id, Entry& entry);
  // Moves the entry's parts due by now into their destinations' ready queues.
  void makeReady(const mail::QueueId& id, Entry& entry, uint64_t now);
  Destination& destinationOf(const delivery::Target* target);
  uint32_t budget(const Destination& destination) const;
  // Joins the rotation when it has ready work and budget; forgets it when idle.
  void listOrRelease(Destination& destination);

  void armTimer();
  static void onTimer(uv_timer_t* timer);
  void dispatchDue();
  // Starts a job for the destination at the front of the rotation; false when delivery memory
  // is exhausted.
  bool startNext(Destination& destination);
  void startJob(Destination& destination, const mail::QueueId& id, Entry& entry, Part& part,
                delivery::Target* target);
  // Runs the job once the message's record and body are in memory (reading them if needed).
  void acquire(const std::shared_ptr<Job>& job);
  void onRead(const mail::QueueId& id, spool::Store::ReadStatus status, const std::string& error,
              spool::MessageRecord record, std::shared_ptr<const std::string> body);
  // A job that could not start: its parts are due again after delay_us.
  void unstart(const std::shared_ptr<Job>& job, uint64_t delay_us);
  void releaseJob(const std::shared_ptr<Job>& job, Entry& entry);

  // The scan stage: scans the body, applies the tenants' virus policies; then the message's
  // parts are scheduled for delivery.
  void scanThenDeliver(const std::shared_ptr<Job>& job);
  void applyScan(const std::shared_ptr<Job>& job, const scan::ScanResult& result);
  void deliver(const std::shared_ptr<Job>& job);
  void onJobDone(const std::shared_ptr<Job>& job, delivery::Result result);
  // peer: the recipient's delivery result, whose answering host and TLS facts the event carries.
  static void addRecipientEvent(Job& job, const spool::MessageRecord& record, std::string_view type,
                                const spool::RecipientRecord& recipient, const std::string& remote, uint64_t at_us,
                                uint64_t next_attempt_us = 0, const delivery::RecipientResult& peer = {},
                                const bounce::Classification* classified = nullptr);
  // Ends a job: writes batch with the message's new state (deleted, dead, held or queued when
  // it was the message's last job under way) and schedules what is left.
  void endJob(const std::shared_ptr<Job>& job, spool::Batch batch);
  void deadLetter(spool::MessageRecord& record, const std::string& reason, uint64_t now);
  // Recipients that failed for good in this job, of relayed inbound mail (smtp targets) or of a
  // tenant's outbound mail whose [outbound] policy wants reports (dsn, api_dsn): an RFC 3464
  // notification to the envelope sender, with the original's header section only, written in
  // batch and queued on the bounce route (src/scheduler/bounces.cpp). Never to the null
  // sender, and for inbound mail only when SPF or DMARC authenticated its sender, so forged
  // senders get no backscatter.
  struct FailedRecipient {
    size_t index;             // in record.recipients
    std::string remote_host;  // the exchanger that refused it ("" when none answered)
  };
  void returnToSender(const config::Config* config, const spool::MessageRecord& record,
                      const std::vector<FailedRecipient>& failed, uint64_t now, spool::Batch& batch);
  // Submits a write of a message that stays queued; its record stays in memory until applied.
  void writeQueued(const mail::QueueId& id, spool::Batch batch);
  // After the last job: the body goes to the hot cache if it fits, the rest is forgotten
  // unless a write is pending.
  void retainCached(const mail::QueueId& id);
  void dropCached(const mail::QueueId& id);
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
  std::unordered_map<const delivery::Target*, Destination> destinations_;
  Destination scan_;
  std::deque<Destination*> rotation_;  // destinations with ready work and budget, in turn
  std::unordered_map<mail::QueueId, Cached, mail::QueueIdHash> cache_;
  uint64_t ready_ = 0;  // parts in ready queues
  uint64_t hot_bytes_ = 0;
  uint64_t queued_bytes_ = 0;
  uint64_t active_ = 0;
  uint64_t delivery_bytes_ = 0;  // bodies held by jobs under way
  bool memory_bound_ = false;    // dispatching waits for delivery memory
  std::set<std::pair<uint64_t, mail::QueueId>> dead_letters_;  // (dead since, id), oldest first
  uint64_t held_ = 0;
  uint64_t quarantined_ = 0;  // quarantine entries
  std::unordered_set<mail::QueueId, mail::QueueIdHash> locked_;
  uv_timer_t purge_timer_{};
  bool purging_ = false;
  uv_timer_t retention_timer_{};
  bool retention_purging_ = false;
  uint64_t delivered_ = 0;
  uint64_t deferred_ = 0;
  uint64_t failed_ = 0;
  uint64_t dead_purged_ = 0;
  uint64_t audit_purged_ = 0;
  uint64_t dsn_queued_ = 0;
  uint64_t dsn_not_sent_ = 0;
  uint64_t random_state_;
  uv_timer_t timer_{};
  bool timer_started_ = false;
  bool stopped_ = false;
  bool paused_ = false;  // a drain: no job starts

  mutable std::mutex stats_mutex_;
  QueueStats stats_;
};

}  // namespace mxgate::scheduler
