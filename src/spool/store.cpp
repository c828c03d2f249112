// RocksDB spool and its group-commit writer thread (see include/mxgate/spool/store.h and
// queue/README.md). submit() runs on any thread; the writer runs on its own thread; reads
// run on lanes or at start-up.
#include "mxgate/spool/store.h"

#include <pthread.h>
#include <sys/statvfs.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "mxgate/base/ascii.h"
#include "mxgate/base/log.h"

namespace mxgate::spool {
namespace {

constexpr const char* kFamilies[] = {"default", "meta",        "body",     "open",       "corrupt",
                                     "quarantine", "audit",   "events",   "endpoints",  "credentials",
                                     "suppress",   "idempotency", "mta_sts"};

// Audit keys are time-ordered; the sequence separates records of the same microsecond.
std::atomic<uint32_t> g_audit_sequence{0};
constexpr const char* kFormatKey = "mxgate.spool.format";
// Keys of the default family holding tenants' sending-limit state ("<rate TAT> <day TAT>", µs).
constexpr const char* kTenantUsagePrefix = "tenant_limits/";
constexpr const char* kFormatVersion = "6";
// Format 1 keyed events by time alone (queue/README.md, "Format history"); opening such a
// spool moves them under their tenant.
constexpr const char* kFormatTimeKeyedEvents = "1";
// Format 2 had no credentials family; opening such a spool creates it.
constexpr const char* kFormatWithoutCredentials = "2";
// Format 3 had no suppress family; opening such a spool creates it.
constexpr const char* kFormatWithoutSuppress = "3";
// Format 4 had no idempotency family; opening such a spool creates it.
constexpr const char* kFormatWithoutIdempotency = "4";
// Format 5 had no mta_sts family; opening such a spool creates it.
constexpr const char* kFormatWithoutMtaSts = "5";
constexpr size_t kMigrationBatch = 1000;
constexpr size_t kMaxBatchBytes = 64u << 20;

uint64_t elapsedMicros(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - since)
          .count());
}

}  // namespace

void Batch::putMessage(const MessageRecord& record) {
  Op op{Family::Meta, Kind::Put, metaKey(record.id), encodeMessage(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::putBodyChunk(const mail::QueueId& id, uint32_t index, std::string_view data) {
  Op op{Family::Body, Kind::Put, bodyKey(id, index), std::string(data)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

uint32_t Batch::putBody(const mail::QueueId& id, std::string_view body, size_t chunk_size) {
  chunk_size = std::max<size_t>(1, chunk_size);
  uint32_t chunks = 0;
  for (size_t offset = 0; offset < body.size() || chunks == 0; offset += chunk_size) {
    putBodyChunk(id, chunks++, body.substr(offset, chunk_size));
  }
  return chunks;
}

void Batch::markOpen(const mail::QueueId& id) {
  ops_.push_back(Op{Family::Open, Kind::Put, metaKey(id), {}});
  bytes_ += mail::QueueId::kBytes;
}

void Batch::clearOpen(const mail::QueueId& id) {
  ops_.push_back(Op{Family::Open, Kind::Delete, metaKey(id), {}});
  bytes_ += mail::QueueId::kBytes;
}

void Batch::deleteMessage(const mail::QueueId& id, uint32_t chunks) {
  ops_.push_back(Op{Family::Meta, Kind::Delete, metaKey(id), {}});
  bytes_ += mail::QueueId::kBytes;
  deleteBodyChunks(id, 0, chunks);
}

void Batch::deleteBodyChunks(const mail::QueueId& id, uint32_t first, uint32_t end) {
  for (uint32_t index = first; index < end; ++index) {
    ops_.push_back(Op{Family::Body, Kind::Delete, bodyKey(id, index), {}});
    bytes_ += mail::QueueId::kBytes + 4;
  }
}

void Batch::putQuarantine(const QuarantineRecord& record) {
  Op op{Family::Quarantine, Kind::Put, quarantineKey(record.tenant, record.id), encodeQuarantine(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteQuarantine(std::string_view tenant, const mail::QueueId& id) {
  ops_.push_back(Op{Family::Quarantine, Kind::Delete, quarantineKey(tenant, id), {}});
  bytes_ += tenant.size() + mail::QueueId::kBytes;
}

void Batch::putAudit(const AuditRecord& record) {
  Op op{Family::Audit, Kind::Put, auditKey(record.at_us, g_audit_sequence.fetch_add(1)), encodeAudit(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteAudit(std::string_view key) {
  ops_.push_back(Op{Family::Audit, Kind::Delete, std::string(key), {}});
  bytes_ += key.size();
}

std::string newEventKey(std::string_view tenant, uint64_t at_us) {
  return eventKey(tenant, at_us, g_audit_sequence.fetch_add(1));
}

void Batch::putEvent(const std::string& key, const EventRecord& record) {
  Op op{Family::Events, Kind::Put, key, encodeEvent(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteEvent(const std::string& key) {
  ops_.push_back(Op{Family::Events, Kind::Delete, key, {}});
  bytes_ += key.size();
}

void Batch::putEndpoint(const std::string& key, const EndpointRecord& record) {
  Op op{Family::Endpoints, Kind::Put, key, encodeEndpoint(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteEndpoint(const std::string& key) {
  ops_.push_back(Op{Family::Endpoints, Kind::Delete, key, {}});
  bytes_ += key.size();
}

void Batch::putCredential(const CredentialRecord& record) {
  Op op{Family::Credentials, Kind::Put, record.username, encodeCredential(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::putSuppression(const SuppressionRecord& record) {
  SuppressionRecord lowered = record;
  lowered.address = ascii::toLowerCopy(record.address);
  Op op{Family::Suppress, Kind::Put, suppressionKey(lowered.tenant, lowered.address), encodeSuppression(lowered)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteSuppression(std::string_view tenant, std::string_view address) {
  Op op{Family::Suppress, Kind::Delete, suppressionKey(tenant, address), {}};
  bytes_ += op.key.size();
  ops_.push_back(std::move(op));
}

void Batch::putIdempotency(const IdempotencyRecord& record) {
  Op op{Family::Idempotency, Kind::Put, idempotencyKey(record.tenant, record.key), encodeIdempotency(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteIdempotency(const std::string& key) {
  ops_.push_back(Op{Family::Idempotency, Kind::Delete, key, {}});
  bytes_ += key.size();
}

void Batch::putTenantUsage(const TenantUsageRecord& record) {
  Op op{Family::Default, Kind::Put, std::string(kTenantUsagePrefix) + record.tenant, encodeTenantUsage(record)};
  bytes_ += op.key.size() + op.value.size();
  ops_.push_back(std::move(op));
}

void Batch::deleteTenantUsage(std::string_view tenant) {
  Op op{Family::Default, Kind::Delete, std::string(kTenantUsagePrefix) + std::string(tenant), {}};
  bytes_ += op.key.size();
  ops_.push_back(std::move(op));
}

void Batch::putMtaSts(std::string_view domain, std::string value) {
  bytes_ += domain.size() + value.size();
  ops_.push_back(Op{Family::MtaSts, Kind::Put, std::string(domain), std::move(value)});
}

void Batch::deleteMtaSts(std::string_view domain) {
  bytes_ += domain.size();
  ops_.push_back(Op{Family::MtaSts, Kind::Delete, std::string(domain), {}});
}

void Batch::moveToCorrupt(std::string_view key, std::string_view value) {
  ops_.push_back(Op{Family::Corrupt, Kind::Put, std::string(key), std::string(value)});
  ops_.push_back(Op{Family::Meta, Kind::Delete, std::string(key), {}});
  bytes_ += 2 * key.size() + value.size();
}

// RocksDB's informational log goes through mxgate's logger instead of a LOG file in the
// spool directory: a file there fails (and, in Debian's build, asserts) when the spool's
// disk is full, exactly when the log matters most.
class SpoolLogger : public rocksdb::Logger {
 public:
  SpoolLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    log::Level ours = level >= rocksdb::InfoLogLevel::ERROR_LEVEL  ? log::Level::Error
                      : level == rocksdb::InfoLogLevel::WARN_LEVEL ? log::Level::Warn
                                                                   : log::Level::Debug;
    if (!log::enabled(ours)) {
      return;
    }
    char text[1024];
    std::vsnprintf(text, sizeof text, format, ap);
    log::Line(ours, "-", "rocksdb").kv("message", text);
  }
};

struct Store::Options {
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
};

std::unique_ptr<Store> Store::open(const config::SpoolSettings& settings, std::string& error,
                                   std::shared_ptr<rocksdb::Env> env) {
  std::error_code ec;
  std::filesystem::create_directories(settings.path, ec);
  if (ec) {
    error = "cannot create spool directory " + settings.path + ": " + ec.message();
    return nullptr;
  }
  std::unique_ptr<Store> store(new Store(settings));
  if (env) {
    store->options_->db.env = env.get();
    store->options_->db.sst_file_manager.reset(rocksdb::NewSstFileManager(env.get()));
    store->env_ = std::move(env);
  }
  if (!store->openDatabase(error)) {
    return nullptr;
  }
  store->writer_ = std::thread([raw = store.get()] {
    pthread_setname_np(pthread_self(), "spool-writer");
    raw->writerLoop();
  });
  return store;
}

Store::Store(const config::SpoolSettings& settings)
    : settings_(settings), path_(settings.path), options_(std::make_unique<Options>()) {
  rocksdb::DBOptions& db = options_->db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.info_log = std::make_shared<SpoolLogger>();
  // A WAL file can only go once every family with data in it has flushed; the small meta
  // family rarely fills its memtable, so without this bound WAL files pile up (by default up
  // to four times all write buffers). Past it, RocksDB flushes the families pinning old WALs.
  db.max_total_wal_size = std::max<uint64_t>(2 * settings.write_buffer_size, 4u << 20);
  db.sst_file_manager.reset(rocksdb::NewSstFileManager(rocksdb::Env::Default()));

  rocksdb::ColumnFamilyOptions meta_options;
  meta_options.write_buffer_size = std::max<uint64_t>(settings.write_buffer_size / 4, 1u << 20);

  rocksdb::ColumnFamilyOptions body_options;
  body_options.write_buffer_size = settings.write_buffer_size;
  body_options.compression = rocksdb::kNoCompression;
  body_options.enable_blob_files = true;
  body_options.min_blob_size = 4096;
  body_options.blob_compression_type = rocksdb::kNoCompression;
  body_options.enable_blob_garbage_collection = true;
  body_options.blob_garbage_collection_age_cutoff = 0.25;

  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = 1u << 20;

  options_->families = {{kFamilies[0], small_options}, {kFamilies[1], meta_options}, {kFamilies[2], body_options},
                        {kFamilies[3], small_options}, {kFamilies[4], small_options}, {kFamilies[5], small_options},
                        {kFamilies[6], small_options}, {kFamilies[7], small_options}, {kFamilies[8], small_options},
                        {kFamilies[9], small_options}, {kFamilies[10], small_options},
                        {kFamilies[11], small_options}, {kFamilies[12], small_options}};
}

bool Store::openDatabase(std::string& error) {
  rocksdb::Status status = rocksdb::DB::Open(options_->db, path_, options_->families, &handles_, &db_);
  if (!status.ok()) {
    error = "cannot open spool " + path_ + ": " + status.ToString();
    db_ = nullptr;
    handles_.clear();
    return false;
  }
  std::string format;
  status = db_->Get(rocksdb::ReadOptions(), handles_[0], kFormatKey, &format);
  if (status.IsNotFound()) {
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    status = db_->Put(sync_write, handles_[0], kFormatKey, kFormatVersion);
    format = kFormatVersion;
  }
  if (status.ok() && format == kFormatTimeKeyedEvents) {
    status = migrateEventKeys();
    format = status.ok() ? kFormatWithoutCredentials : format;
  }
  // Formats that only lack families the open has just created: each step records the next.
  for (const auto& [from, to] : {std::pair{kFormatWithoutCredentials, kFormatWithoutSuppress},
                                 std::pair{kFormatWithoutSuppress, kFormatWithoutIdempotency},
                                 std::pair{kFormatWithoutIdempotency, kFormatWithoutMtaSts},
                                 std::pair{kFormatWithoutMtaSts, kFormatVersion}}) {
    if (status.ok() && format == from) {
      status = recordFormatAfterNewFamily(from, to);
      format = status.ok() ? to : format;
    }
  }
  if (!status.ok() || format != kFormatVersion) {
    error = status.ok() ? "spool " + path_ + " has unsupported format " + format
                        : "cannot initialise spool " + path_ + ": " + status.ToString();
    closeDatabase();
    return false;
  }
  int64_t audit = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[6]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++audit;
  }
  audit_records_.store(audit);
  loadSuppressionIndex();
  return true;
}

rocksdb::Status Store::migrateEventKeys() {
  rocksdb::WriteOptions sync_write;
  sync_write.sync = true;
  rocksdb::WriteBatch batch;
  uint64_t moved = 0;
  uint64_t undecodable = 0;
  rocksdb::Status status;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[7]));
  for (it->SeekToFirst(); it->Valid() && status.ok(); it->Next()) {
    // Format 1: 12 time bytes for a live event, 0xFF and the 12 bytes for a dead one.
    const std::string_view key(it->key().data(), it->key().size());
    const bool dead = key.size() == 13 && key.front() == '\xff';
    if (key.size() != 12 && !dead) {
      continue;
    }
    EventRecord record;
    if (decodeEvent(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      ++undecodable;  // stays under its old key; the dispatcher skips and logs it
      continue;
    }
    std::string moved_key = eventTenantPrefix(record.tenant) + std::string(key.substr(dead ? 1 : 0));
    batch.Put(handles_[7], dead ? deadEventKey(moved_key) : moved_key, it->value());
    batch.Delete(handles_[7], it->key());
    if (++moved % kMigrationBatch == 0) {
      status = db_->Write(sync_write, &batch);
      batch.Clear();
    }
  }
  if (status.ok()) {
    status = it->status();
  }
  if (status.ok()) {
    batch.Put(handles_[0], kFormatKey, kFormatWithoutCredentials);
    status = db_->Write(sync_write, &batch);
  }
  log::info("-", "spool_migrated")
      .kv("from", kFormatTimeKeyedEvents)
      .kv("to", kFormatWithoutCredentials)
      .kv("events", moved)
      .kv("undecodable_events", undecodable)
      .kv("ok", status.ok());
  return status;
}

rocksdb::Status Store::recordFormatAfterNewFamily(const char* from, const char* to) {
  rocksdb::WriteOptions sync_write;
  sync_write.sync = true;
  const rocksdb::Status status = db_->Put(sync_write, handles_[0], kFormatKey, to);
  log::info("-", "spool_migrated").kv("from", from).kv("to", to).kv("ok", status.ok());
  return status;
}

void Store::loadSuppressionIndex() {
  std::unordered_set<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[10]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    keys.insert(it->key().ToString());
  }
  std::unique_lock<std::shared_mutex> lock(suppressed_mutex_);
  suppressed_ = std::move(keys);
}

bool Store::suppressed(std::string_view tenant, std::string_view address) const {
  const std::string key = suppressionKey(tenant, address);
  std::shared_lock<std::shared_mutex> lock(suppressed_mutex_);
  return suppressed_.count(key) != 0;
}

size_t Store::suppressedCount() const {
  std::shared_lock<std::shared_mutex> lock(suppressed_mutex_);
  return suppressed_.size();
}

void Store::closeDatabase() {
  if (db_ == nullptr) {
    return;
  }
  for (auto* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  handles_.clear();
  db_->Close();
  delete db_;
  db_ = nullptr;
}

Store::~Store() {
  stop();
  closeDatabase();
}

rocksdb::ColumnFamilyHandle* Store::family(Batch::Family family) const {
  switch (family) {
    case Batch::Family::Default: return handles_[0];
    case Batch::Family::Meta: return handles_[1];
    case Batch::Family::Body: return handles_[2];
    case Batch::Family::Open: return handles_[3];
    case Batch::Family::Corrupt: return handles_[4];
    case Batch::Family::Quarantine: return handles_[5];
    case Batch::Family::Audit: return handles_[6];
    case Batch::Family::Events: return handles_[7];
    case Batch::Family::Endpoints: return handles_[8];
    case Batch::Family::Credentials: return handles_[9];
    case Batch::Family::Suppress: return handles_[10];
    case Batch::Family::Idempotency: return handles_[11];
    case Batch::Family::MtaSts: return handles_[12];
  }
  return handles_[0];
}

void Store::submit(Batch batch, bool sync, Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(Pending{std::move(batch), sync, std::move(done), std::chrono::steady_clock::now()});
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
  }
  cv_.notify_one();
}

void Store::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
}

void Store::tryRecover() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_recovery_attempt_ < std::chrono::seconds(1)) {
    return;
  }
  last_recovery_attempt_ = now;
  rocksdb::Status status = db_ != nullptr ? db_->Resume() : rocksdb::Status::Incomplete("closed");
  if (status.ok()) {
    writable_.store(true);
    log::warn("-", "spool_resumed").kv("path", path_).kv("how", "resume");
    return;
  }
  // Everything acknowledged is in the synced WAL; reopening replays it.
  std::unique_lock<std::shared_mutex> exclusive(db_mutex_);
  closeDatabase();
  std::string error;
  if (openDatabase(error)) {
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    writable_.store(true);
    log::warn("-", "spool_resumed").kv("path", path_).kv("how", "reopen");
  } else {
    log::debug("-", "spool_reopen_failed").kv("error", error);
  }
}

void Store::writerLoop() {
  const size_t max_batch = std::max<uint32_t>(settings_.commit_max_batch, 1);
  for (;;) {
    std::vector<Pending> work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (writable_.load()) {
        cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      } else {
        // Not writable: wake up every second to try to resume even when nobody submits.
        cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || !pending_.empty(); });
      }
      if (pending_.empty()) {
        if (stopping_) {
          return;
        }
        lock.unlock();
        tryRecover();
        continue;
      }
      bool wants_sync = false;
      for (const auto& item : pending_) {
        wants_sync = wants_sync || item.sync;
      }
      // Wait for company only while other transactions are open (their commits may join).
      const bool others_open = open_transactions_.load(std::memory_order_relaxed) > 0;
      if (wants_sync && others_open && settings_.commit_max_wait.count() > 0 && pending_.size() < max_batch &&
          !stopping_) {
        auto deadline = pending_.front().submitted + settings_.commit_max_wait;
        cv_.wait_until(lock, deadline, [this, max_batch] { return stopping_ || pending_.size() >= max_batch; });
      }
      size_t bytes = 0;
      while (!pending_.empty() && work.size() < max_batch && (work.empty() || bytes < kMaxBatchBytes)) {
        bytes += pending_.front().batch.bytes();
        work.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      pending_count_.store(pending_.size(), std::memory_order_relaxed);
    }

    if (!writable_.load()) {
      tryRecover();
    }
    // Batches whose transaction began in an earlier epoch are refused, unwritten.
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    std::vector<bool> stale(work.size(), false);
    rocksdb::WriteBatch write_batch;
    bool sync = false;
    int64_t audit_change = 0;  // audit keys are never rewritten: a put adds one, a delete removes one
    std::vector<const Batch::Op*> suppression_changes;  // in write order, for the index
    for (size_t i = 0; i < work.size(); ++i) {
      const Pending& item = work[i];
      if (item.batch.required_epoch_ && *item.batch.required_epoch_ != epoch) {
        stale[i] = true;
        continue;
      }
      sync = sync || item.sync;
      for (const auto& op : item.batch.ops_) {
        auto* handle = family(op.family);
        switch (op.kind) {
          case Batch::Kind::Put: write_batch.Put(handle, op.key, op.value); break;
          case Batch::Kind::Delete: write_batch.Delete(handle, op.key); break;
        }
        if (op.family == Batch::Family::Audit) {
          audit_change += op.kind == Batch::Kind::Put ? 1 : -1;
        }
        if (op.family == Batch::Family::Suppress) {
          suppression_changes.push_back(&op);
        }
      }
    }

    CommitStatus result;
    if (!writable_.load()) {
      result.ok = false;
      result.error = "spool is not writable (waiting to resume after a write error)";
    } else {
      rocksdb::WriteOptions options;
      options.sync = sync;
      rocksdb::Status status = db_->Write(options, &write_batch);
      if (status.ok()) {
        audit_records_.fetch_add(audit_change);
        if (!suppression_changes.empty()) {
          std::unique_lock<std::shared_mutex> lock(suppressed_mutex_);
          for (const Batch::Op* op : suppression_changes) {
            if (op->kind == Batch::Kind::Put) {
              suppressed_.insert(op->key);
            } else {
              suppressed_.erase(op->key);
            }
          }
        }
      } else {
        result.ok = false;
        result.no_space = status.IsNoSpace();
        result.error = status.ToString();
        epoch_.fetch_add(1, std::memory_order_acq_rel);
        writable_.store(false);
        last_recovery_attempt_ = std::chrono::steady_clock::now();
        log::error("-", "spool_write_failed").kv("error", result.error).kv("batches", work.size());
      }
    }

    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      stats_.writes += 1;
      stats_.synced_writes += sync ? 1 : 0;
      stats_.batches += work.size();
      stats_.failures += result.ok ? 0 : 1;
      for (const auto& item : work) {
        if (item.sync) {
          stats_.synced_batches += 1;
          stats_.commit_micros += elapsedMicros(item.submitted);
        }
      }
    }
    CommitStatus refused;
    refused.ok = false;
    refused.epoch_changed = true;
    refused.error = "the spool had a write error during this transaction; its unsynced body chunks may be lost";
    for (size_t i = 0; i < work.size(); ++i) {
      if (work[i].done) {
        work[i].done(stale[i] ? refused : result);
      }
    }
  }
}

template <class Record>
Store::ReadStatus Store::readRecord(Batch::Family family_id, const std::string& key, Record& out,
                                   DecodeStatus (*decode)(std::string_view, Record&), std::string& error) {
  std::string value;
  {
    std::shared_lock<std::shared_mutex> shared(db_mutex_);
    if (db_ == nullptr) {
      error = "spool is being reopened after a write error";
      return ReadStatus::IoError;
    }
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family(family_id), key, &value);
    if (status.IsNotFound()) {
      return ReadStatus::NotFound;
    }
    if (!status.ok()) {
      error = status.ToString();
      return ReadStatus::IoError;
    }
  }
  DecodeStatus decoded = decode(value, out);
  if (decoded != DecodeStatus::Ok) {
    error = std::string(describe(decoded));
    return ReadStatus::Corrupt;
  }
  return ReadStatus::Ok;
}

Store::ReadStatus Store::readMessage(const mail::QueueId& id, MessageRecord& out, std::string& error) {
  out.id = id;
  return readRecord(Batch::Family::Meta, metaKey(id), out, &decodeMessage, error);
}

Store::ReadStatus Store::readBody(const MessageRecord& record, std::string& out, std::string& error) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    error = "spool is being reopened after a write error";
    return ReadStatus::IoError;
  }
  out.clear();
  out.reserve(static_cast<size_t>(record.body_size));
  rocksdb::PinnableSlice chunk;
  for (uint32_t index = 0; index < record.body_chunks; ++index) {
    chunk.Reset();
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handles_[2], bodyKey(record.id, index), &chunk);
    if (status.IsNotFound()) {
      error = "body chunk " + std::to_string(index) + " missing";
      return ReadStatus::Corrupt;
    }
    if (!status.ok()) {
      error = status.ToString();
      return ReadStatus::IoError;
    }
    out.append(chunk.data(), chunk.size());
  }
  if (out.size() != record.body_size || crc32(0, out) != record.body_crc32) {
    error = "body size or checksum mismatch";
    return ReadStatus::Corrupt;
  }
  return ReadStatus::Ok;
}

void Store::scanMessages(const ScanFn& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[1]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    rocksdb::Slice value = it->value();
    MessageRecord record;
    DecodeStatus status = DecodeStatus::Malformed;
    if (key.size() == mail::QueueId::kBytes) {
      record.id = mail::QueueId::fromBytes(std::string_view(key.data(), key.size()));
      status = decodeMessage(std::string_view(value.data(), value.size()), record);
    }
    if (!visit(std::string_view(key.data(), key.size()), status, record,
               std::string_view(value.data(), value.size()))) {
      return;
    }
  }
}

bool Store::moveMessageToCorrupt(const mail::QueueId& id, std::string& error) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    error = "spool is being reopened after a write error";
    return false;
  }
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handles_[1], metaKey(id), &value);
  if (!status.ok()) {
    error = status.ToString();
    return false;
  }
  rocksdb::WriteBatch batch;
  batch.Put(handles_[4], metaKey(id), value);
  batch.Delete(handles_[1], metaKey(id));
  rocksdb::WriteOptions options;
  options.sync = true;
  status = db_->Write(options, &batch);
  if (!status.ok()) {
    error = status.ToString();
    return false;
  }
  return true;
}

std::vector<mail::QueueId> Store::openTransactions() {
  std::vector<mail::QueueId> ids;
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return ids;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[3]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() == mail::QueueId::kBytes) {
      ids.push_back(mail::QueueId::fromBytes(std::string_view(it->key().data(), it->key().size())));
    }
  }
  return ids;
}

bool Store::dropOpenTransaction(const mail::QueueId& id) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return false;
  }
  rocksdb::WriteBatch batch;
  batch.DeleteRange(handles_[2], bodyKey(id, 0), bodyKey(id, UINT32_MAX));
  batch.Delete(handles_[2], bodyKey(id, UINT32_MAX));
  batch.Delete(handles_[3], metaKey(id));
  rocksdb::WriteOptions options;
  options.sync = true;
  return db_->Write(options, &batch).ok();
}

Store::ReadStatus Store::readQuarantine(std::string_view tenant, const mail::QueueId& id, QuarantineRecord& out,
                                        std::string& error) {
  out.id = id;
  return readRecord(Batch::Family::Quarantine, quarantineKey(tenant, id), out, &decodeQuarantine, error);
}

void Store::scanQuarantine(std::string_view tenant, const std::function<bool(QuarantineRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[5]));
  const std::string prefix = tenant.empty() ? std::string() : std::string(tenant) + '\0';
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) {
      break;
    }
    QuarantineRecord record;
    if (key.size() < mail::QueueId::kBytes + 1) {
      continue;
    }
    record.id = mail::QueueId::fromBytes(key.substr(key.size() - mail::QueueId::kBytes));
    DecodeStatus status = decodeQuarantine(std::string_view(it->value().data(), it->value().size()), record);
    if (status != DecodeStatus::Ok) {
      log::error("-", "corrupt_quarantine_record").kv("reason", describe(status));
      continue;
    }
    if (!visit(record)) {
      return;
    }
  }
}

void Store::scanAudit(uint64_t from_us, bool newest_first, const AuditFn& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[6]));
  const std::string from = auditKey(from_us, 0);
  if (newest_first) {
    it->SeekToLast();
  } else {
    it->Seek(from);
  }
  for (; it->Valid(); newest_first ? it->Prev() : it->Next()) {
    if (newest_first && it->key().compare(from) < 0) {
      return;
    }
    AuditRecord record;
    if (decodeAudit(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::error("-", "corrupt_audit_record");
      continue;
    }
    if (!visit(std::string_view(it->key().data(), it->key().size()), record)) {
      return;
    }
  }
}

void Store::scanEvents(const std::string& from,
                       const std::function<bool(const std::string& key, EventRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[7]));
  for (it->Seek(from); it->Valid(); it->Next()) {
    EventRecord record;
    if (decodeEvent(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::error("-", "corrupt_event_record");
      continue;
    }
    if (!visit(it->key().ToString(), record)) {
      return;
    }
  }
}

void Store::scanEventHeads(const std::function<size_t(std::string_view tenant)>& wanted,
                           const std::function<void(const std::string& key, EventRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[7]));
  it->SeekToFirst();
  while (it->Valid()) {
    const std::string_view first(it->key().data(), it->key().size());
    if (first.find('\0') == std::string_view::npos) {
      it->Next();  // not an event key: no tenant to skip
      continue;
    }
    const std::string tenant(eventKeyTenant(first));
    const std::string end = eventTenantEnd(tenant);
    size_t left = wanted(tenant);
    for (; left > 0 && it->Valid() && it->key().compare(end) < 0; it->Next()) {
      const std::string key = it->key().ToString();
      if (isDeadEventKey(key)) {
        break;  // the tenant's dead events follow its live ones
      }
      EventRecord record;
      if (decodeEvent(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
        log::error("-", "corrupt_event_record");
        continue;
      }
      visit(key, record);
      --left;
    }
    it->Seek(end);
  }
}

void Store::scanEndpoints(const std::function<void(const std::string& key, EndpointRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[8]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EndpointRecord record;
    if (decodeEndpoint(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::error("-", "corrupt_endpoint_record");
      continue;
    }
    visit(it->key().ToString(), record);
  }
}

Store::ReadStatus Store::readCredential(std::string_view username, CredentialRecord& out, std::string& error) {
  return readRecord(Batch::Family::Credentials, std::string(username), out, &decodeCredential, error);
}

void Store::scanCredentials(std::string_view tenant, const std::function<void(CredentialRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[9]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    CredentialRecord record;
    if (decodeCredential(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::error("-", "corrupt_credential_record");
      continue;
    }
    if (tenant.empty() || record.tenant == tenant) {
      visit(record);
    }
  }
}

Store::ReadStatus Store::readSuppression(std::string_view tenant, std::string_view address, SuppressionRecord& out,
                                         std::string& error) {
  return readRecord(Batch::Family::Suppress, suppressionKey(tenant, address), out, &decodeSuppression, error);
}

void Store::scanSuppressions(std::string_view tenant, std::string_view after,
                             const std::function<bool(SuppressionRecord&)>& visit) {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return;
  }
  std::string prefix(tenant);
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[10]));
  const std::string start = after.empty() ? prefix : suppressionKey(tenant, after);
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!after.empty() && it->key() == rocksdb::Slice(start)) {
      continue;
    }
    SuppressionRecord record;
    if (decodeSuppression(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::error("-", "corrupt_suppression_record").kv("tenant", tenant);
      continue;
    }
    if (!visit(record)) {
      return;
    }
  }
}

Store::ReadStatus Store::readIdempotency(std::string_view tenant, std::string_view key, IdempotencyRecord& out,
                                         std::string& error) {
  return readRecord(Batch::Family::Idempotency, idempotencyKey(tenant, key), out, &decodeIdempotency, error);
}

std::vector<TenantUsageRecord> Store::readTenantUsage() {
  std::vector<TenantUsageRecord> usage;
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return usage;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[0]));
  for (it->Seek(kTenantUsagePrefix); it->Valid() && it->key().starts_with(kTenantUsagePrefix); it->Next()) {
    TenantUsageRecord record;
    record.tenant = it->key().ToString().substr(std::string_view(kTenantUsagePrefix).size());
    if (decodeTenantUsage(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok) {
      log::warn("-", "tenant_usage_undecodable").kv("tenant", record.tenant);
      continue;
    }
    usage.push_back(std::move(record));
  }
  return usage;
}

std::vector<std::string> Store::expiredIdempotency(uint64_t now_us, size_t limit) {
  std::vector<std::string> keys;
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return keys;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[11]));
  for (it->SeekToFirst(); it->Valid() && keys.size() < limit; it->Next()) {
    IdempotencyRecord record;
    if (decodeIdempotency(std::string_view(it->value().data(), it->value().size()), record) != DecodeStatus::Ok ||
        record.expires_us <= now_us) {
      keys.push_back(it->key().ToString());
    }
  }
  return keys;
}

std::vector<std::pair<std::string, std::string>> Store::mtaStsPolicies() {
  std::vector<std::pair<std::string, std::string>> records;
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  if (db_ == nullptr) {
    return records;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[12]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    records.emplace_back(it->key().ToString(), it->value().ToString());
  }
  return records;
}

uint64_t Store::unflushedBytes() const {
  std::shared_lock<std::shared_mutex> shared(db_mutex_);
  uint64_t bytes = 0;
  if (db_ != nullptr) {
    db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &bytes);
  }
  return bytes;
}

uint64_t Store::freeBytes() const {
  struct statvfs info {};
  if (::statvfs(path_.c_str(), &info) != 0) {
    return UINT64_MAX;
  }
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

StoreStats Store::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

}  // namespace mxgate::spool
