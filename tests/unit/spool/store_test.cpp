// Unit tests for the RocksDB spool: synced commits, ordered completions, group commit under
// concurrency, body verification, open-transaction cleanup, reopen, format marker, and the
// epoch that refuses a commit whose earlier unsynced chunks a write error may have lost.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <thread>

#include "mxgate/spool/admission.h"
#include "mxgate/spool/store.h"

using namespace mxgate;

namespace {

struct TempSpool {
  TempSpool() {
    char pattern[] = "/tmp/mxgate-spool-XXXXXX";
    path = mkdtemp(pattern);
    settings.path = path;
  }
  ~TempSpool() { std::filesystem::remove_all(path); }
  std::unique_ptr<spool::Store> open() {
    std::string error;
    auto store = spool::Store::open(settings, error);
    BOOST_REQUIRE_MESSAGE(store, error);
    return store;
  }
  std::string path;
  config::SpoolSettings settings;
};

spool::CommitStatus submitAndWait(spool::Store& store, spool::Batch batch, bool sync) {
  std::promise<spool::CommitStatus> done;
  auto result = done.get_future();
  store.submit(std::move(batch), sync, [&done](const spool::CommitStatus& status) { done.set_value(status); });
  return result.get();
}

spool::MessageRecord recordWithBody(const std::string& body, uint32_t chunks) {
  spool::MessageRecord record;
  record.id = mail::QueueId::generate();
  record.mail_from = "a@b.example";
  record.recipients.push_back({"u@example.test", "example", spool::RecipientState::Pending, 0, "", 0});
  record.body_size = body.size();
  record.body_chunks = chunks;
  record.body_crc32 = spool::crc32(0, body);
  return record;
}

// Writes one value straight into the spool's RocksDB (family index as in queue/README.md:
// 0 default, 1 meta, 2 body, 3 open, 4 corrupt, 5 quarantine, 6 audit, 7 events, 8 endpoints,
// 9 credentials, 10 suppress, 11 idempotency, 12 mta_sts), bypassing the codec.
void putBehindTheStoresBack(const std::string& path, size_t family, const std::string& key, const std::string& value) {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name :
       {"default", "meta", "body", "open", "corrupt", "quarantine", "audit", "events", "endpoints", "credentials",
        "suppress", "idempotency", "mta_sts"}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  BOOST_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &db).ok());
  BOOST_REQUIRE(db->Put(rocksdb::WriteOptions(), handles[family], key, value).ok());
  for (auto* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  delete db;
}

// A file system whose write-ahead-log appends fail while `failing` is set: a real RocksDB
// write error, injected below the store.
class FailingWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FailingWalFileSystem() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingWalFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, result, dbg);
    if (status.ok() && name.ends_with(".log")) {
      *result = std::make_unique<Wal>(std::move(*result), failing);
    }
    return status;
  }
  std::atomic<bool> failing{false};

 private:
  class Wal : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Wal(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<bool>& failing)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      return failing_ ? rocksdb::IOStatus::IOError("injected WAL append failure")
                      : rocksdb::FSWritableFileOwnerWrapper::Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
      return failing_ ? rocksdb::IOStatus::IOError("injected WAL append failure")
                      : rocksdb::FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    }

   private:
    std::atomic<bool>& failing_;
  };
};

}  // namespace

BOOST_AUTO_TEST_SUITE(store)

BOOST_AUTO_TEST_CASE(commit_spanning_a_write_error_is_refused) {
  TempSpool temp;
  auto file_system = std::make_shared<FailingWalFileSystem>();
  std::string error;
  auto store = spool::Store::open(temp.settings, error, rocksdb::NewCompositeEnv(file_system));
  BOOST_REQUIRE_MESSAGE(store, error);

  // A transaction writes its first chunk unsynced, as a session does while DATA streams.
  const std::string first = std::string(1000, 'a');
  const std::string last = "tail\r\n";
  spool::MessageRecord record = recordWithBody(first + last, 2);
  const uint64_t epoch = store->epoch();
  spool::Batch chunk;
  chunk.markOpen(record.id);
  chunk.putBodyChunk(record.id, 0, first);
  BOOST_REQUIRE(submitAndWait(*store, std::move(chunk), false).ok);

  // Another write fails; the store recovers by itself once the fault is gone.
  file_system->failing = true;
  spool::Batch other;
  other.putAudit(spool::AuditRecord{1, "test", "probe", "t", "-", ""});
  BOOST_TEST(!submitAndWait(*store, std::move(other), true).ok);
  BOOST_TEST(store->epoch() != epoch);
  file_system->failing = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!store->writable() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_REQUIRE(store->writable());

  // The commit of the transaction that spans the error is refused and writes nothing.
  spool::Batch commit;
  commit.putBodyChunk(record.id, 1, last);
  commit.clearOpen(record.id);
  commit.putMessage(record);
  commit.requireEpoch(epoch);
  const spool::CommitStatus refused = submitAndWait(*store, std::move(commit), true);
  BOOST_TEST(!refused.ok);
  BOOST_TEST(refused.epoch_changed);
  spool::MessageRecord read;
  BOOST_TEST((store->readMessage(record.id, read, error) == spool::Store::ReadStatus::NotFound));

  // A transaction that began after the recovery commits.
  spool::MessageRecord fresh = recordWithBody(last, 1);
  spool::Batch next;
  next.putBodyChunk(fresh.id, 0, last);
  next.putMessage(fresh);
  next.requireEpoch(store->epoch());
  BOOST_TEST(submitAndWait(*store, std::move(next), true).ok);
  BOOST_TEST((store->readMessage(fresh.id, read, error) == spool::Store::ReadStatus::Ok));
}

BOOST_AUTO_TEST_CASE(commit_then_read_back_after_reopen) {
  TempSpool temp;
  std::string body = "Received: x\r\n\r\nhello\r\n";
  spool::MessageRecord record = recordWithBody(body, 1);
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putBodyChunk(record.id, 0, body);
    batch.putMessage(record);
    BOOST_TEST(submitAndWait(*store, std::move(batch), true).ok);
  }
  auto store = temp.open();
  spool::MessageRecord read;
  std::string error;
  BOOST_TEST((store->readMessage(record.id, read, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST((read == record));
  std::string read_body;
  BOOST_TEST((store->readBody(read, read_body, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST(read_body == body);
  BOOST_TEST((store->readMessage(mail::QueueId::generate(), read, error) == spool::Store::ReadStatus::NotFound));
}

BOOST_AUTO_TEST_CASE(multi_chunk_body_and_checksum_verification) {
  TempSpool temp;
  auto store = temp.open();
  std::string a(70000, 'a');
  std::string b(5000, 'b');
  spool::MessageRecord record = recordWithBody(a + b, 2);
  spool::Batch first;
  first.markOpen(record.id);
  first.putBodyChunk(record.id, 0, a);
  BOOST_TEST(submitAndWait(*store, std::move(first), false).ok);
  BOOST_TEST(store->openTransactions().size() == 1u);
  spool::Batch commit;
  commit.putBodyChunk(record.id, 1, b);
  commit.clearOpen(record.id);
  commit.putMessage(record);
  BOOST_TEST(submitAndWait(*store, std::move(commit), true).ok);
  BOOST_TEST(store->openTransactions().empty());
  std::string body;
  std::string error;
  BOOST_TEST((store->readBody(record, body, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST(body == a + b);

  spool::Batch damage;
  damage.putBodyChunk(record.id, 1, std::string(5000, 'c'));
  BOOST_TEST(submitAndWait(*store, std::move(damage), true).ok);
  BOOST_TEST((store->readBody(record, body, error) == spool::Store::ReadStatus::Corrupt));
  spool::Batch hole;
  hole.deleteBodyChunks(record.id, 0, 1);
  BOOST_TEST(submitAndWait(*store, std::move(hole), true).ok);
  BOOST_TEST((store->readBody(record, body, error) == spool::Store::ReadStatus::Corrupt));
  BOOST_TEST(error.find("missing") != std::string::npos);

  BOOST_TEST(store->moveMessageToCorrupt(record.id, error));
  spool::MessageRecord gone;
  BOOST_TEST((store->readMessage(record.id, gone, error) == spool::Store::ReadStatus::NotFound));
}

BOOST_AUTO_TEST_CASE(abandoned_transactions_are_dropped) {
  TempSpool temp;
  mail::QueueId id = mail::QueueId::generate();
  {
    auto store = temp.open();
    spool::Batch chunks;
    chunks.markOpen(id);
    chunks.putBodyChunk(id, 0, std::string(65536, 'x'));
    chunks.putBodyChunk(id, 1, std::string(65536, 'y'));
    BOOST_TEST(submitAndWait(*store, std::move(chunks), true).ok);
  }
  auto store = temp.open();
  auto open = store->openTransactions();
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST((open[0] == id));
  BOOST_TEST(store->dropOpenTransaction(id));
  BOOST_TEST(store->openTransactions().empty());
  spool::MessageRecord record = recordWithBody(std::string(65536, 'x'), 1);
  record.id = id;
  std::string body;
  std::string error;
  BOOST_TEST((store->readBody(record, body, error) == spool::Store::ReadStatus::Corrupt));
}

BOOST_AUTO_TEST_CASE(completions_run_in_submission_order_and_batches_group) {
  TempSpool temp;
  temp.settings.commit_max_wait = std::chrono::microseconds(500);
  auto store = temp.open();
  constexpr int kThreads = 8;
  constexpr int kEach = 200;
  std::mutex mutex;
  std::vector<std::pair<int, int>> order;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::atomic<int> remaining{kThreads * kEach};
  std::promise<void> all_done;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        spool::MessageRecord record = recordWithBody("x", 1);
        spool::Batch batch;
        batch.putBodyChunk(record.id, 0, "x");
        batch.putMessage(record);
        store->submit(std::move(batch), true, [&, t, i](const spool::CommitStatus& status) {
          if (!status.ok) {
            failures++;
          }
          {
            std::lock_guard<std::mutex> lock(mutex);
            order.emplace_back(t, i);
          }
          if (--remaining == 0) {
            all_done.set_value();
          }
        });
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  all_done.get_future().wait();
  BOOST_TEST(failures.load() == 0);
  // Per submitting thread, completions arrive in the order of submission.
  std::vector<int> next(kThreads, 0);
  for (auto [t, i] : order) {
    BOOST_REQUIRE(i == next[t]);
    ++next[t];
  }
  spool::StoreStats stats = store->stats();
  BOOST_TEST(stats.synced_batches == static_cast<uint64_t>(kThreads * kEach));
  BOOST_TEST(stats.synced_writes < stats.synced_batches);  // group commit happened
  uint64_t messages = 0;
  store->scanMessages([&](std::string_view, spool::DecodeStatus status, spool::MessageRecord&, std::string_view) {
    messages += status == spool::DecodeStatus::Ok ? 1 : 0;
    return true;
  });
  BOOST_TEST(messages == static_cast<uint64_t>(kThreads * kEach));
}

BOOST_AUTO_TEST_CASE(scan_reports_corrupt_records_with_their_key) {
  TempSpool temp;
  spool::MessageRecord record = recordWithBody("x", 1);
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putMessage(record);
    BOOST_TEST(submitAndWait(*store, std::move(batch), true).ok);
  }
  std::string damaged = spool::encodeMessage(record);
  damaged[damaged.size() / 2] ^= 1;
  putBehindTheStoresBack(temp.path, 1, spool::metaKey(record.id), damaged);
  auto store = temp.open();
  int corrupt = 0;
  store->scanMessages([&](std::string_view key, spool::DecodeStatus status, spool::MessageRecord&, std::string_view) {
    BOOST_TEST(key == spool::metaKey(record.id));
    corrupt += status == spool::DecodeStatus::BadChecksum ? 1 : 0;
    return true;
  });
  BOOST_TEST(corrupt == 1);
}

BOOST_AUTO_TEST_CASE(quarantine_entries_and_audit_trail) {
  TempSpool temp;
  auto store = temp.open();
  spool::Batch batch;
  std::vector<mail::QueueId> ids;
  for (const char* tenant : {"alpha", "beta", "alpha"}) {
    spool::QuarantineRecord record;
    record.tenant = tenant;
    record.id = mail::QueueId::generate();
    record.reason = "virus";
    ids.push_back(record.id);
    batch.putQuarantine(record);
    batch.putAudit(spool::AuditRecord{record.id.micros(), "system", "quarantine", tenant, record.id.str(), ""});
  }
  BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  std::vector<std::string> alpha;
  store->scanQuarantine("alpha", [&](spool::QuarantineRecord& r) {
    alpha.push_back(r.id.str());
    BOOST_TEST(r.tenant == "alpha");
    return true;
  });
  BOOST_TEST((alpha == std::vector<std::string>{ids[0].str(), ids[2].str()}));
  size_t all = 0;
  store->scanQuarantine("", [&](spool::QuarantineRecord&) { return ++all < 100; });
  BOOST_TEST(all == 3u);
  spool::QuarantineRecord one;
  std::string error;
  BOOST_TEST((store->readQuarantine("beta", ids[1], one, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST((store->readQuarantine("alpha", ids[1], one, error) == spool::Store::ReadStatus::NotFound));
  spool::Batch removal;
  removal.deleteQuarantine("beta", ids[1]);
  BOOST_REQUIRE(submitAndWait(*store, std::move(removal), true).ok);
  BOOST_TEST((store->readQuarantine("beta", ids[1], one, error) == spool::Store::ReadStatus::NotFound));
  std::vector<std::string> actions;
  store->scanAudit(0, false, [&](std::string_view, spool::AuditRecord& r) {
    actions.push_back(r.tenant);
    return true;
  });
  BOOST_TEST((actions == std::vector<std::string>{"alpha", "beta", "alpha"}));
  std::vector<std::string> newest;
  store->scanAudit(ids[1].micros(), true, [&](std::string_view, spool::AuditRecord& r) {
    newest.push_back(r.id);
    return true;
  });
  BOOST_TEST((newest == std::vector<std::string>{ids[2].str(), ids[1].str()}));
  std::vector<std::string> later;
  store->scanAudit(ids[1].micros(), false, [&](std::string_view, spool::AuditRecord& r) {
    later.push_back(r.id);
    return true;
  });
  BOOST_TEST((later == std::vector<std::string>{ids[1].str(), ids[2].str()}));

  // The audit family's size is counted; the retention purge deletes records by key.
  BOOST_TEST(store->auditRecords() == 3u);
  std::string oldest;
  store->scanAudit(0, false, [&](std::string_view key, spool::AuditRecord&) {
    oldest = std::string(key);
    return false;
  });
  spool::Batch purge;
  purge.deleteAudit(oldest);
  BOOST_REQUIRE(submitAndWait(*store, std::move(purge), true).ok);
  BOOST_TEST(store->auditRecords() == 2u);
  std::vector<std::string> left;
  store->scanAudit(0, false, [&](std::string_view, spool::AuditRecord& r) {
    left.push_back(r.id);
    return true;
  });
  BOOST_TEST((left == std::vector<std::string>{ids[1].str(), ids[2].str()}));

  // The event outbox: time-ordered keys per tenant, scanned from a key on, deleted by key.
  spool::Batch outbox;
  std::vector<std::string> keys;
  for (const char* type : {"message.accepted", "message.delivered", "message.opened"}) {
    keys.push_back(spool::newEventKey("alpha", ids[0].micros()));
    outbox.putEvent(keys.back(), spool::EventRecord{ids[0].micros(), "evt", "alpha", type, "{}", 0, false, 0});
  }
  BOOST_REQUIRE(submitAndWait(*store, std::move(outbox), true).ok);
  auto types = [&](const std::string& from) {
    std::vector<std::string> found;
    store->scanEvents(from, [&](const std::string&, spool::EventRecord& r) {
      found.push_back(r.type);
      return true;
    });
    return found;
  };
  BOOST_TEST((types("") == std::vector<std::string>{"message.accepted", "message.delivered", "message.opened"}));
  BOOST_TEST((types(keys[1]) == std::vector<std::string>{"message.delivered", "message.opened"}));
  spool::Batch taken;
  taken.deleteEvent(keys[0]);
  BOOST_REQUIRE(submitAndWait(*store, std::move(taken), true).ok);
  BOOST_TEST((types("") == std::vector<std::string>{"message.delivered", "message.opened"}));
  store.reset();
  BOOST_TEST(temp.open()->auditRecords() == 2u);  // counted again when the spool opens
}

// The outbox's heads: the oldest live events of each tenant that wants some, however many
// events another tenant has before them in time.
BOOST_AUTO_TEST_CASE(event_heads_are_read_per_tenant) {
  TempSpool temp;
  auto store = temp.open();
  spool::Batch outbox;
  auto event = [](const std::string& tenant, uint64_t at, const std::string& type) {
    return spool::EventRecord{at, "evt", tenant, type, "{}", 0, false, 0};
  };
  for (uint64_t i = 0; i < 500; ++i) {
    outbox.putEvent(spool::newEventKey("busy", 1000 + i), event("busy", 1000 + i, "busy." + std::to_string(i)));
  }
  outbox.putEvent(spool::deadEventKey(spool::newEventKey("other", 10)), event("other", 10, "other.dead"));
  outbox.putEvent(spool::newEventKey("other", 5000), event("other", 5000, "other.1"));
  outbox.putEvent(spool::newEventKey("other", 5001), event("other", 5001, "other.2"));
  outbox.putEvent(spool::newEventKey("quiet", 1), event("quiet", 1, "quiet.1"));
  BOOST_REQUIRE(submitAndWait(*store, std::move(outbox), true).ok);
  auto heads = [&](const std::map<std::string, size_t, std::less<>>& wanted) {
    std::vector<std::string> types;
    store->scanEventHeads(
        [&](std::string_view tenant) {
          auto it = wanted.find(tenant);
          return it == wanted.end() ? size_t{0} : it->second;
        },
        [&](const std::string&, spool::EventRecord& record) { types.push_back(record.type); });
    return types;
  };
  BOOST_TEST((heads({{"other", 1}}) == std::vector<std::string>{"other.1"}));
  BOOST_TEST((heads({{"other", 5}, {"busy", 2}}) == std::vector<std::string>{"busy.0", "busy.1", "other.1", "other.2"}));
  BOOST_TEST((heads({{"quiet", 3}, {"nobody", 3}}) == std::vector<std::string>{"quiet.1"}));
}

// A spool of format 1 keyed events by time alone (0xFF in front for a dead one): opening it
// moves them under their tenant, dead ones behind the live ones, and records format 4.
BOOST_AUTO_TEST_CASE(format_1_events_are_moved_under_their_tenant) {
  TempSpool temp;
  { temp.open(); }
  putBehindTheStoresBack(temp.path, 0, "mxgate.spool.format", "1");
  putBehindTheStoresBack(temp.path, 7, spool::auditKey(100, 0),
                         spool::encodeEvent({100, "evt_a", "acme", "message.accepted", "{}", 0, false, 0}));
  putBehindTheStoresBack(temp.path, 7, "\xff" + spool::auditKey(50, 0),
                         spool::encodeEvent({50, "evt_b", "acme", "message.deferred", "{}", 0, true, 0}));
  putBehindTheStoresBack(temp.path, 7, spool::auditKey(200, 0),
                         spool::encodeEvent({200, "evt_c", "beta", "message.accepted", "{}", 0, false, 0}));
  auto store = temp.open();
  std::vector<std::pair<std::string, std::string>> found;
  store->scanEvents("", [&](const std::string& key, spool::EventRecord& record) {
    found.emplace_back(key, record.id);
    return true;
  });
  const std::vector<std::pair<std::string, std::string>> expected{
      {spool::eventKey("acme", 100, 0), "evt_a"},
      {spool::deadEventKey(spool::eventKey("acme", 50, 0)), "evt_b"},
      {spool::eventKey("beta", 200, 0), "evt_c"}};
  BOOST_TEST((found == expected));
  store.reset();
  rocksdb::DB* db = nullptr;
  rocksdb::Options options;
  BOOST_REQUIRE(rocksdb::DB::OpenForReadOnly(options, temp.path, &db).ok());
  std::string format;
  BOOST_TEST(db->Get(rocksdb::ReadOptions(), "mxgate.spool.format", &format).ok());
  BOOST_TEST(format == "6");
  delete db;
}

// A spool as an older version wrote it: its families, its format, and one record (key and value)
// in the family at index.
void writeOldSpool(const std::string& path, const std::string& format, std::initializer_list<const char*> names,
                   size_t index, const std::string& key, const std::string& value) {
  rocksdb::DB* db = nullptr;
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : names) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  BOOST_REQUIRE(rocksdb::DB::Open(options, path, families, &handles, &db).ok());
  BOOST_REQUIRE(db->Put(rocksdb::WriteOptions(), handles[0], "mxgate.spool.format", format).ok());
  BOOST_REQUIRE(db->Put(rocksdb::WriteOptions(), handles[index], key, value).ok());
  for (auto* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  delete db;
}

std::string readFormat(const std::string& path) {
  rocksdb::DB* db = nullptr;
  rocksdb::Options options;
  std::string format;
  BOOST_REQUIRE(rocksdb::DB::OpenForReadOnly(options, path, &db).ok());
  BOOST_TEST(db->Get(rocksdb::ReadOptions(), "mxgate.spool.format", &format).ok());
  delete db;
  return format;
}

// A format-2 spool, as the previous version wrote it (no credentials family): it opens, gains the
// family (and the suppress, idempotency and mta_sts families), keeps its records and is recorded as format
// 5; credentials then round-trip.
BOOST_AUTO_TEST_CASE(format_2_spool_gains_the_credentials_family) {
  TempSpool temp;
  writeOldSpool(temp.path, "2", {"default", "meta", "body", "open", "corrupt", "quarantine", "audit", "events", "endpoints"},
                7, spool::eventKey("acme", 100, 0),
                spool::encodeEvent({100, "evt_a", "acme", "message.accepted", "{}", 0, false, 0}));
  {
    auto store = temp.open();
    size_t events = 0;
    store->scanEvents("", [&](const std::string&, spool::EventRecord&) { return ++events > 0; });
    BOOST_TEST(events == 1u);
    spool::Batch batch;
    batch.putCredential({"acme.crm", "acme", "crm", "smtp", 5, 0, std::string(32, 'h')});
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  BOOST_TEST(readFormat(temp.path) == "6");
  auto store = temp.open();
  spool::CredentialRecord record;
  std::string error;
  BOOST_REQUIRE(store->readCredential("acme.crm", record, error) == spool::Store::ReadStatus::Ok);
  BOOST_TEST(record.tenant == "acme");
  BOOST_TEST(record.hash == std::string(32, 'h'));
  BOOST_TEST((store->readCredential("acme.other", record, error) == spool::Store::ReadStatus::NotFound));
}

// A format-3 spool (no suppress family) opens, gains the family (and the idempotency and mta_sts
// families) and is recorded as format 6.
BOOST_AUTO_TEST_CASE(format_3_spool_gains_the_suppress_family) {
  TempSpool temp;
  writeOldSpool(temp.path, "3",
                {"default", "meta", "body", "open", "corrupt", "quarantine", "audit", "events", "endpoints", "credentials"},
                9, "acme.crm", spool::encodeCredential({"acme.crm", "acme", "crm", "smtp", 5, 0, "h"}));
  {
    auto store = temp.open();
    BOOST_TEST(store->suppressedCount() == 0u);
    spool::Batch batch;
    batch.putSuppression({"acme", "bob@example.org", spool::SuppressionReason::Manual, "", 1, ""});
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  BOOST_TEST(readFormat(temp.path) == "6");
  auto store = temp.open();
  spool::CredentialRecord credential;
  std::string error;
  BOOST_TEST((store->readCredential("acme.crm", credential, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST(store->suppressed("acme", "bob@example.org"));
}

// A format-4 spool (no idempotency family) opens, gains the family and is recorded as format 6;
// idempotency records then round-trip per tenant, and expired ones are listed for the purge.
BOOST_AUTO_TEST_CASE(format_4_spool_gains_the_idempotency_family) {
  TempSpool temp;
  writeOldSpool(temp.path, "4",
                {"default", "meta", "body", "open", "corrupt", "quarantine", "audit", "events", "endpoints", "credentials",
                 "suppress"},
                9, "acme.crm", spool::encodeCredential({"acme.crm", "acme", "crm", "smtp", 5, 0, "h"}));
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putIdempotency({"acme", "order-1", std::string(64, 'h'), "QID1", "{\"id\":\"QID1\"}", 10, 100});
    batch.putIdempotency({"acme", "order-2", std::string(64, 'i'), "QID2", "{}", 10, 500});
    batch.putIdempotency({"beta", "order-1", std::string(64, 'j'), "QID3", "{}", 10, 50});
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  BOOST_TEST(readFormat(temp.path) == "6");
  auto store = temp.open();
  spool::IdempotencyRecord record;
  std::string error;
  BOOST_REQUIRE(store->readIdempotency("acme", "order-1", record, error) == spool::Store::ReadStatus::Ok);
  BOOST_TEST(record.queue_id == "QID1");
  BOOST_TEST(record.response == "{\"id\":\"QID1\"}");
  BOOST_TEST(record.expires_us == 100u);
  BOOST_REQUIRE(store->readIdempotency("beta", "order-1", record, error) == spool::Store::ReadStatus::Ok);
  BOOST_TEST(record.queue_id == "QID3");
  BOOST_TEST((store->readIdempotency("gamma", "order-1", record, error) == spool::Store::ReadStatus::NotFound));
  const std::vector<std::string> expired = store->expiredIdempotency(100, 10);
  BOOST_TEST((expired == std::vector<std::string>{spool::idempotencyKey("acme", "order-1"),
                                                  spool::idempotencyKey("beta", "order-1")}));
  BOOST_TEST(store->expiredIdempotency(100, 1).size() == 1u);
  spool::Batch purge;
  for (const std::string& key : expired) {
    purge.deleteIdempotency(key);
  }
  BOOST_REQUIRE(submitAndWait(*store, std::move(purge), true).ok);
  BOOST_TEST((store->readIdempotency("acme", "order-1", record, error) == spool::Store::ReadStatus::NotFound));
  BOOST_TEST((store->readIdempotency("acme", "order-2", record, error) == spool::Store::ReadStatus::Ok));
}

// A format-5 spool (no mta_sts family) opens, gains the family and is recorded as format 6; MTA-STS
// policy records then survive a reopen and go with a delete.
BOOST_AUTO_TEST_CASE(format_5_spool_gains_the_mta_sts_family) {
  TempSpool temp;
  writeOldSpool(temp.path, "5",
                {"default", "meta", "body", "open", "corrupt", "quarantine", "audit", "events", "endpoints", "credentials",
                 "suppress", "idempotency"},
                9, "acme.crm", spool::encodeCredential({"acme.crm", "acme", "crm", "smtp", 5, 0, "h"}));
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putMtaSts("example.org", "policy one");
    batch.putMtaSts("example.net", "policy two");
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  BOOST_TEST(readFormat(temp.path) == "6");
  auto store = temp.open();
  using Records = std::vector<std::pair<std::string, std::string>>;
  BOOST_TEST((store->mtaStsPolicies() == Records{{"example.net", "policy two"}, {"example.org", "policy one"}}));
  spool::Batch purge;
  purge.deleteMtaSts("example.net");
  BOOST_REQUIRE(submitAndWait(*store, std::move(purge), true).ok);
  BOOST_TEST((store->mtaStsPolicies() == Records{{"example.org", "policy one"}}));
}

// The suppression index answers from memory: it follows every written batch (puts and deletes,
// in order), is per tenant, ignores the case of the address, and is loaded again on open.
BOOST_AUTO_TEST_CASE(suppression_index_follows_writes_and_survives_reopen) {
  TempSpool temp;
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putSuppression({"acme", "Bob@Example.org", spool::SuppressionReason::HardBounce, "550 5.1.1 no such user",
                          10, "q1"});
    batch.putSuppression({"acme", "carol@example.org", spool::SuppressionReason::Manual, "asked", 11, ""});
    batch.putSuppression({"acme", "dave@example.org", spool::SuppressionReason::Import, "", 12, ""});
    batch.putSuppression({"beta", "erin@example.org", spool::SuppressionReason::Manual, "", 13, ""});
    BOOST_TEST(!store->suppressed("acme", "bob@example.org"));  // not before the write
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
    BOOST_TEST(store->suppressed("acme", "bob@example.org"));
    BOOST_TEST(store->suppressed("acme", "BOB@EXAMPLE.ORG"));
    BOOST_TEST(!store->suppressed("beta", "bob@example.org"));
    BOOST_TEST(!store->suppressed("acme", "erin@example.org"));
    BOOST_TEST(store->suppressedCount() == 4u);

    spool::Batch change;
    change.deleteSuppression("acme", "CAROL@example.org");
    change.putSuppression({"acme", "frank@example.org", spool::SuppressionReason::Manual, "", 14, ""});
    change.deleteSuppression("acme", "frank@example.org");
    BOOST_REQUIRE(submitAndWait(*store, std::move(change), false).ok);
    BOOST_TEST(!store->suppressed("acme", "carol@example.org"));
    BOOST_TEST(!store->suppressed("acme", "frank@example.org"));
    BOOST_TEST(store->suppressedCount() == 3u);
  }
  auto store = temp.open();
  BOOST_TEST(store->suppressedCount() == 3u);
  BOOST_TEST(store->suppressed("acme", "bob@example.org"));
  BOOST_TEST(!store->suppressed("acme", "carol@example.org"));

  spool::SuppressionRecord record;
  std::string error;
  BOOST_REQUIRE((store->readSuppression("acme", "BOB@example.org", record, error) == spool::Store::ReadStatus::Ok));
  BOOST_TEST(record.address == "bob@example.org");
  BOOST_TEST((record.reason == spool::SuppressionReason::HardBounce));
  BOOST_TEST(record.queue_id == "q1");

  std::vector<std::string> acme;
  store->scanSuppressions("acme", "", [&](spool::SuppressionRecord& r) {
    acme.push_back(r.address);
    return true;
  });
  BOOST_TEST((acme == std::vector<std::string>{"bob@example.org", "dave@example.org"}));
  std::vector<std::string> after_bob;
  store->scanSuppressions("acme", "bob@example.org", [&](spool::SuppressionRecord& r) {
    after_bob.push_back(r.address);
    return true;
  });
  BOOST_TEST((after_bob == std::vector<std::string>{"dave@example.org"}));
  std::vector<std::string> beta;
  store->scanSuppressions("beta", "", [&](spool::SuppressionRecord& r) {
    beta.push_back(r.tenant + ":" + r.address);
    return true;
  });
  BOOST_TEST((beta == std::vector<std::string>{"beta:erin@example.org"}));
}

BOOST_AUTO_TEST_CASE(credentials_by_tenant) {
  TempSpool temp;
  auto store = temp.open();
  spool::Batch batch;
  batch.putCredential({"beta.app", "beta", "app", "api", 1, 0, "h1"});
  batch.putCredential({"acme.crm", "acme", "crm", "smtp", 2, 9, "h2"});
  batch.putCredential({"acme.desk", "acme", "desk", "smtp", 3, 0, "h3"});
  BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  std::vector<std::string> all;
  store->scanCredentials("", [&](spool::CredentialRecord& record) { all.push_back(record.username); });
  BOOST_TEST((all == std::vector<std::string>{"acme.crm", "acme.desk", "beta.app"}));
  std::vector<std::string> acme;
  store->scanCredentials("acme", [&](spool::CredentialRecord& record) { acme.push_back(record.username); });
  BOOST_TEST((acme == std::vector<std::string>{"acme.crm", "acme.desk"}));
}

BOOST_AUTO_TEST_CASE(endpoint_records_round_trip) {
  TempSpool temp;
  const std::string key = spool::endpointKey(spool::EndpointKind::Delivery, "acme", "digest");
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putEndpoint(key, spool::EndpointRecord{"acme", "https://crm.example/h?[redacted]", 7, "HTTP 410"});
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  auto store = temp.open();
  std::vector<std::pair<std::string, spool::EndpointRecord>> found;
  store->scanEndpoints([&](const std::string& k, spool::EndpointRecord& record) { found.emplace_back(k, record); });
  BOOST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found[0].first == key);
  BOOST_TEST(found[0].second.url == "https://crm.example/h?[redacted]");
  spool::Batch batch;
  batch.deleteEndpoint(key);
  BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  found.clear();
  store->scanEndpoints([&](const std::string& k, spool::EndpointRecord& record) { found.emplace_back(k, record); });
  BOOST_TEST(found.empty());
}

BOOST_AUTO_TEST_CASE(tenant_usage_survives_reopen_and_can_be_removed) {
  TempSpool temp;
  {
    auto store = temp.open();
    spool::Batch batch;
    batch.putTenantUsage({"acme", 1800000000000000, 1800000086400000});
    batch.putTenantUsage({"beta", 0, 1800000000000001});
    BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  }
  auto store = temp.open();
  std::vector<spool::TenantUsageRecord> kept = store->readTenantUsage();
  BOOST_REQUIRE(kept.size() == 2u);
  BOOST_TEST((kept[0] == spool::TenantUsageRecord{"acme", 1800000000000000, 1800000086400000}));
  BOOST_TEST((kept[1] == spool::TenantUsageRecord{"beta", 0, 1800000000000001}));
  spool::Batch batch;
  batch.deleteTenantUsage("acme");
  BOOST_REQUIRE(submitAndWait(*store, std::move(batch), true).ok);
  kept = store->readTenantUsage();
  BOOST_REQUIRE(kept.size() == 1u);
  BOOST_TEST(kept[0].tenant == "beta");
}

BOOST_AUTO_TEST_CASE(tenant_usage_values_decode_only_when_whole) {
  spool::TenantUsageRecord record;
  BOOST_TEST((spool::decodeTenantUsage("12 34", record) == spool::DecodeStatus::Ok));
  BOOST_TEST(record.rate_tat_us == 12u);
  BOOST_TEST(record.day_tat_us == 34u);
  for (const char* bad : {"", "12", "12 ", " 34", "12 34 ", "12 x", "-1 2", "12  34", "99999999999999999999 1"}) {
    BOOST_TEST((spool::decodeTenantUsage(bad, record) == spool::DecodeStatus::Malformed), bad);
  }
}

BOOST_AUTO_TEST_CASE(refuses_a_spool_of_another_format) {
  TempSpool temp;
  { temp.open(); }
  putBehindTheStoresBack(temp.path, 0, "mxgate.spool.format", "9");
  std::string error;
  BOOST_TEST(!spool::Store::open(temp.settings, error));
  BOOST_TEST(error.find("unsupported format 9") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(admission_counts_live_and_recovers_with_hysteresis) {
  config::SpoolSettings settings;
  settings.max_queued_messages = 100;
  settings.max_queued_bytes = 1000000;
  settings.min_free_bytes = 1000;
  settings.resume_percent = 90;
  settings.max_inflight_bytes = 500;
  spool::Admission admission(settings);
  admission.refresh(1u << 30, true);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
  for (int i = 0; i < 99; ++i) {
    admission.messageQueued(10);
  }
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
  admission.messageQueued(10);  // the 100th: refused at once, no refresh needed
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoStorage));
  for (int i = 0; i < 5; ++i) {
    admission.messageRemoved(10);
  }
  admission.refresh(1u << 30, true);  // 95 is below the limit but above 90 %: still latched
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoStorage));
  for (int i = 0; i < 6; ++i) {
    admission.messageRemoved(10);
  }
  for (int i = 1; i < spool::Admission::kClearRefreshesToResume; ++i) {
    admission.refresh(1u << 30, true);
    BOOST_TEST((admission.check() == spool::Admission::Verdict::NoStorage));  // debounced
  }
  admission.refresh(1u << 30, true);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
  BOOST_TEST(admission.queuedMessages() == 89u);
}

BOOST_AUTO_TEST_CASE(admission_estimates_free_disk_between_refreshes) {
  config::SpoolSettings settings;
  settings.min_free_bytes = 1000;
  settings.resume_percent = 90;
  spool::Admission admission(settings);
  admission.refresh(3000, true);
  admission.addWritten(900);  // counted twice: 3000 - 1800 = 1200 still above 1000
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
  admission.addWritten(101);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoStorage));
  for (int i = 0; i < spool::Admission::kClearRefreshesToResume; ++i) {
    admission.refresh(1100, true);  // needs min_free * 100 / 90 = 1111 to resume
  }
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoStorage));
  for (int i = 0; i < spool::Admission::kClearRefreshesToResume; ++i) {
    admission.refresh(1200, true);
  }
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
}

BOOST_AUTO_TEST_CASE(admission_reports_write_errors_and_memory) {
  config::SpoolSettings settings;
  settings.max_inflight_bytes = 500;
  spool::Admission admission(settings);
  admission.refresh(1u << 30, false);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::WriteError));
  admission.refresh(1u << 30, true);
  admission.addInflight(500);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoMemory));
  admission.releaseInflight(1);
  BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept));
}

BOOST_AUTO_TEST_CASE(counted_buffer_counts_its_capacity_and_refuses_past_the_limit) {
  config::SpoolSettings settings;
  settings.max_inflight_bytes = 100000;
  spool::Admission admission(settings);
  admission.addInflight(1000);  // a chunk write in flight
  {
    auto buffer = std::make_shared<spool::CountedBuffer>(admission);
    const std::string piece(4000, 'x');
    size_t appended = 0;
    while (buffer->append(piece)) {
      appended += piece.size();
      BOOST_TEST_REQUIRE(admission.inflight() >= 1000 + buffer->text().capacity());
      BOOST_TEST_REQUIRE(admission.inflight() <= settings.max_inflight_bytes);
    }
    BOOST_TEST(buffer->text().size() == appended);  // a refused append adds nothing
    BOOST_TEST(appended + piece.size() > 99000u);    // refused only near the limit
    BOOST_TEST(admission.inflight() == 1000 + buffer->text().capacity());
    BOOST_TEST((admission.check() == spool::Admission::Verdict::Accept || admission.inflight() >= 100000));
    std::shared_ptr<const std::string> shared(buffer, &buffer->text());  // as handed to the scan
    buffer.reset();
    BOOST_TEST(shared->size() == appended);
    BOOST_TEST(admission.inflight() > 1000u);
  }
  BOOST_TEST(admission.inflight() == 1000u);  // released with the last reference
  BOOST_TEST(!admission.tryAddInflight(99001));
  BOOST_TEST(admission.tryAddInflight(99000));
  BOOST_TEST((admission.check() == spool::Admission::Verdict::NoMemory));
}

BOOST_AUTO_TEST_SUITE_END()
