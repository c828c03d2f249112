// The durable spool: RocksDB column families meta, body, open, corrupt, quarantine, audit,
// events, endpoints, credentials, suppress, idempotency and mta_sts (queue/README.md), and the
// group-commit writer thread that is the only writer.
//
// Sessions and the scheduler build a Batch and submit() it; the writer thread drains
// everything pending, applies it as ONE WriteBatch (sync=true if any submitter asked for
// durability) and then runs every completion in submission order, on the writer thread.
// Callers forward completions to their own loop. "250" is sent only from a completion of a
// synced write. Reads are blocking and must run on a lane, never on a loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/spool/record.h"

namespace rocksdb {
class DB;
class Env;
class Status;
class ColumnFamilyHandle;
struct DBOptions;
struct ColumnFamilyDescriptor;
}  // namespace rocksdb

namespace mxgate::spool {

// A set of changes applied atomically by the writer thread.
class Batch {
 public:
  void putMessage(const MessageRecord& record);
  void putBodyChunk(const mail::QueueId& id, uint32_t index, std::string_view data);
  // A whole body in chunks of chunk_size bytes (at least one chunk); returns how many.
  uint32_t putBody(const mail::QueueId& id, std::string_view body, size_t chunk_size);
  // Marks a multi-chunk body as belonging to a transaction that has not committed yet; the
  // commit (or the rejection) removes the mark. Recovery deletes bodies still marked.
  void markOpen(const mail::QueueId& id);
  void clearOpen(const mail::QueueId& id);
  // Removes the metadata and every body chunk of a message.
  void deleteMessage(const mail::QueueId& id, uint32_t chunks);
  void deleteBodyChunks(const mail::QueueId& id, uint32_t first, uint32_t end);
  // Moves an undecodable metadata value aside.
  void moveToCorrupt(std::string_view key, std::string_view value);
  void putQuarantine(const QuarantineRecord& record);
  void deleteQuarantine(std::string_view tenant, const mail::QueueId& id);
  // Appends an audit record under a fresh time-ordered key.
  void putAudit(const AuditRecord& record);
  // Removes an audit record (the retention purge), by the key scanAudit() gave.
  void deleteAudit(std::string_view key);
  // The event outbox: key from newEventKey().
  void putEvent(const std::string& key, const EventRecord& record);
  void deleteEvent(const std::string& key);
  // Endpoints disabled by a 410: key from endpointKey().
  void putEndpoint(const std::string& key, const EndpointRecord& record);
  void deleteEndpoint(const std::string& key);
  // A tenant's credential, keyed by its user name (replaces a record of the same name).
  void putCredential(const CredentialRecord& record);
  // An API Idempotency-Key's record (keyed by idempotencyKey), and its removal once expired.
  void putIdempotency(const IdempotencyRecord& record);
  void deleteIdempotency(const std::string& key);
  // A recipient domain's MTA-STS policy as fetched (key: the domain; value: queue/README.md,
  // written and read by delivery::MtaStsPolicies), and its removal once expired.
  void putMtaSts(std::string_view domain, std::string value);
  void deleteMtaSts(std::string_view domain);
  // A tenant's suppressed recipient (its address lower-cased; replaces the record of the same
  // tenant and address), and its removal. The store's suppression index follows once the batch is written.
  void putSuppression(const SuppressionRecord& record);
  void deleteSuppression(std::string_view tenant, std::string_view address);
  // What a tenant's sending limits have counted (shaping::TenantLimits), and its removal once
  // nothing counted remains.
  void putTenantUsage(const TenantUsageRecord& record);
  void deleteTenantUsage(std::string_view tenant);

  // The batch is written only if the spool's epoch (Store::epoch) is still `epoch`; otherwise
  // nothing of it is written and it fails with CommitStatus::epoch_changed. A transaction's
  // commit requires the epoch its first body chunk was written in: a write error since then may
  // have lost those unsynced chunks, and a 250 must never cover a body with holes.
  void requireEpoch(uint64_t epoch) { required_epoch_ = epoch; }

  bool empty() const { return ops_.empty(); }
  size_t bytes() const { return bytes_; }

 private:
  friend class Store;
  enum class Family : uint8_t {
    Default, Meta, Body, Open, Corrupt, Quarantine, Audit, Events, Endpoints, Credentials, Suppress, Idempotency,
    MtaSts
  };
  enum class Kind : uint8_t { Put, Delete };
  struct Op {
    Family family;
    Kind kind;
    std::string key;
    std::string value;
  };
  std::vector<Op> ops_;
  size_t bytes_ = 0;
  std::optional<uint64_t> required_epoch_;
};

struct CommitStatus {
  bool ok = true;
  bool no_space = false;
  bool epoch_changed = false;  // refused unwritten: the batch's required epoch has passed
  std::string error;
};

struct StoreStats {
  uint64_t writes = 0;        // WriteBatch writes
  uint64_t synced_writes = 0;
  uint64_t batches = 0;       // submitted Batches
  uint64_t failures = 0;
  uint64_t commit_micros = 0;  // total time from submit to completion of synced batches
  uint64_t synced_batches = 0;
};

// A fresh key for an event of the tenant written at at_us: after the tenant's earlier events
// (unique within the process).
std::string newEventKey(std::string_view tenant, uint64_t at_us);

class Store {
 public:
  using Done = std::function<void(const CommitStatus&)>;

  // Opens (creating if missing) the spool at settings.path and starts the writer thread.
  // env: the RocksDB environment (file system) to use; nullptr is the default one. Only tests
  // pass another, to inject I/O faults.
  static std::unique_ptr<Store> open(const config::SpoolSettings& settings, std::string& error,
                                     std::shared_ptr<rocksdb::Env> env = nullptr);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Thread-safe. Batches are written in submission order; done runs on the writer thread.
  void submit(Batch batch, bool sync, Done done);
  // Sessions announce their open mail transactions, from MAIL until the commit is submitted
  // or the transaction ends (any thread). The writer waits up to commit_max_wait for more
  // durable commits only while such transactions are open (PostgreSQL's commit_siblings
  // idea): a lone commit never waits for company that is not coming.
  void transactionOpened() { open_transactions_.fetch_add(1, std::memory_order_relaxed); }
  void transactionClosed() { open_transactions_.fetch_sub(1, std::memory_order_relaxed); }
  // Stops the writer after everything submitted so far is written.
  void stop();

  // ---- Blocking reads: lanes and start-up only -------------------------------------------
  enum class ReadStatus { Ok, NotFound, Corrupt, IoError };
  ReadStatus readMessage(const mail::QueueId& id, MessageRecord& out, std::string& error);
  // Reads and verifies (size and CRC-32) the whole body of a message.
  ReadStatus readBody(const MessageRecord& record, std::string& out, std::string& error);
  // Visits every metadata record in queue-id order; visit returns false to stop early.
  // Records that fail to decode are reported with status != Ok, with their raw key and value.
  using ScanFn = std::function<bool(std::string_view key, DecodeStatus status, MessageRecord& record,
                                    std::string_view raw)>;
  void scanMessages(const ScanFn& visit);
  // Moves a message's metadata to the corrupt family (synced); its body stays for forensics.
  bool moveMessageToCorrupt(const mail::QueueId& id, std::string& error);
  // Queue ids with an open-transaction mark (bodies of transactions that never committed).
  std::vector<mail::QueueId> openTransactions();
  // Synchronously removes the body chunks of an abandoned transaction (recovery only).
  bool dropOpenTransaction(const mail::QueueId& id);
  ReadStatus readQuarantine(std::string_view tenant, const mail::QueueId& id, QuarantineRecord& out,
                            std::string& error);
  // Quarantine entries in key order, of one tenant when tenant is not empty; visit returns false
  // to stop. Entries that fail to decode are skipped (and counted in the log).
  void scanQuarantine(std::string_view tenant, const std::function<bool(QuarantineRecord&)>& visit);
  // Audit records written at or after from_us, oldest first (or newest first), with their
  // keys; visit returns false to stop.
  using AuditFn = std::function<bool(std::string_view key, AuditRecord&)>;
  void scanAudit(uint64_t from_us, bool newest_first, const AuditFn& visit);
  // Events in key order (by tenant, then live before dead, then time) from key `from` on;
  // visit returns false to stop. Undecodable records are skipped and logged.
  void scanEvents(const std::string& from, const std::function<bool(const std::string& key, EventRecord&)>& visit);
  // The oldest live events of every tenant in the outbox: wanted(tenant) says how many (0 =
  // none; the tenant's keys are skipped with one seek), visit sees them in time order.
  void scanEventHeads(const std::function<size_t(std::string_view tenant)>& wanted,
                      const std::function<void(const std::string& key, EventRecord&)>& visit);
  // Every disabled-endpoint record.
  void scanEndpoints(const std::function<void(const std::string& key, EndpointRecord&)>& visit);
  ReadStatus readCredential(std::string_view username, CredentialRecord& out, std::string& error);
  // Every credential in user-name order (of one tenant when tenant is not empty).
  // Undecodable records are skipped and logged.
  void scanCredentials(std::string_view tenant, const std::function<void(CredentialRecord&)>& visit);
  ReadStatus readIdempotency(std::string_view tenant, std::string_view key, IdempotencyRecord& out,
                             std::string& error);
  // The keys of up to limit idempotency records that expired at or before now_us (undecodable
  // ones too: they can never answer a request).
  std::vector<std::string> expiredIdempotency(uint64_t now_us, size_t limit);
  // Every tenant's sending-limit state (start-up); undecodable entries are skipped and logged.
  std::vector<TenantUsageRecord> readTenantUsage();
  // Every (domain, value) record of the mta_sts family (read once at start).
  std::vector<std::pair<std::string, std::string>> mtaStsPolicies();
  ReadStatus readSuppression(std::string_view tenant, std::string_view address, SuppressionRecord& out,
                             std::string& error);
  // A tenant's suppressed recipients in address order, from the first address after `after`
  // ("" = from the start); visit returns false to stop. Undecodable records are skipped and logged.
  void scanSuppressions(std::string_view tenant, std::string_view after,
                        const std::function<bool(SuppressionRecord&)>& visit);

  // ---- Suppression index: any thread, never touches RocksDB ------------------------------
  // Whether the tenant's suppression list holds address (any case). Answered from memory: the
  // index is loaded when the spool opens and follows every written batch, so a loop thread may
  // ask at RCPT.
  bool suppressed(std::string_view tenant, std::string_view address) const;
  size_t suppressedCount() const;

  // ---- Health: cheap, any thread ----------------------------------------------------------
  bool writable() const { return writable_.load(std::memory_order_relaxed); }
  // Advances whenever a write fails and whenever the database is reopened: unsynced writes
  // made before may be gone (see Batch::requireEpoch).
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  const std::string& path() const { return path_; }
  // Free bytes on the spool's file system (statvfs; call from a non-loop timer or lane).
  uint64_t freeBytes() const;
  // Bytes in memtables: they will need about as much disk again when they flush.
  uint64_t unflushedBytes() const;
  StoreStats stats() const;
  // Records in the audit family (counted when the spool opens, then kept by the writer).
  uint64_t auditRecords() const { return static_cast<uint64_t>(std::max<int64_t>(audit_records_.load(), 0)); }
  size_t pendingBatches() const { return pending_count_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    Batch batch;
    bool sync;
    Done done;
    std::chrono::steady_clock::time_point submitted;
  };

  struct Options;

  explicit Store(const config::SpoolSettings& settings);
  bool openDatabase(std::string& error);
  // Opening a format-1 spool: moves its events under their tenant's key prefix (synced, in
  // batches) and records format 2.
  rocksdb::Status migrateEventKeys();
  // Opening a spool of format from, which lacks a family the open has just created (2:
  // credentials, 3: suppress, 4: idempotency, 5: mta_sts): records format to (synced).
  rocksdb::Status recordFormatAfterNewFamily(const char* from, const char* to);
  // Fills the suppression index from the suppress family (open and reopen).
  void loadSuppressionIndex();
  void closeDatabase();
  void writerLoop();
  rocksdb::ColumnFamilyHandle* family(Batch::Family family) const;
  // One record read by key from a family and decoded into out (decode: the record codec's
  // decodeMessage or decodeQuarantine).
  template <class Record>
  ReadStatus readRecord(Batch::Family family, const std::string& key, Record& out,
                        DecodeStatus (*decode)(std::string_view, Record&), std::string& error);
  // Writer thread: after a failed write, RocksDB's Resume(), and if that does not bring the
  // database back (a failed WAL write leaves it busy for good), close and reopen it.
  void tryRecover();

  config::SpoolSettings settings_;
  std::string path_;
  std::unique_ptr<Options> options_;
  // Readers hold it shared while they use db_; the writer takes it exclusively to reopen.
  mutable std::shared_mutex db_mutex_;
  rocksdb::DB* db_ = nullptr;
  // default, meta, body, open, corrupt, quarantine, audit, events, endpoints, credentials, suppress,
  // idempotency, mta_sts
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  // suppressionKey()s of the suppress family; the writer changes it after each write.
  mutable std::shared_mutex suppressed_mutex_;
  std::unordered_set<std::string> suppressed_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  std::atomic<size_t> pending_count_{0};
  std::atomic<int64_t> open_transactions_{0};
  std::thread writer_;

  std::atomic<bool> writable_{true};
  std::atomic<uint64_t> epoch_{0};
  std::shared_ptr<rocksdb::Env> env_;  // keeps a caller's environment alive while the database uses it
  std::atomic<int64_t> audit_records_{0};
  std::chrono::steady_clock::time_point last_recovery_attempt_{};

  mutable std::mutex stats_mutex_;
  StoreStats stats_;
};

}  // namespace mxgate::spool
