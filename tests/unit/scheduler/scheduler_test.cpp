// Unit tests for the queue manager: delivery outcomes, retry with backoff, dead letters, expiry
// and backoff per recipient (by its own target's schedule), routing by tenant, a concurrency
// budget per destination (a hung target never holds another's deliveries), recovery from the
// spool, settings applied live, retention of dead letters and audit records (legal hold
// respected), and the admin actions with their actor. A real spool in a temp directory and a
// real control loop; the delivery targets are scripted.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include "mxgate/scheduler/scheduler.h"

using namespace mxgate;

namespace {

// A target whose outcome per attempt comes from a script; remembers every job.
class ScriptedTarget : public delivery::Target {
 public:
  explicit ScriptedTarget(std::vector<delivery::Outcome> script) : script_(std::move(script)) {}
  uint32_t concurrency() const override { return 100; }
  std::optional<delivery::RetryPolicy> retryPolicy() const override { return policy; }
  std::optional<delivery::RetryPolicy> policy;  // its own retry schedule, as a webhook target has
  void deliver(std::shared_ptr<const delivery::Job> job, std::function<void(delivery::Result)> done) override {
    delivery::Outcome outcome;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(job);
      outcome = script_[std::min(jobs_.size() - 1, script_.size() - 1)];
      times_.push_back(std::chrono::steady_clock::now());
    }
    std::thread([job, done, outcome] {
      done(delivery::uniformResult(*job, outcome,
                                   outcome == delivery::Outcome::Delivered ? "250 ok"
                                   : outcome == delivery::Outcome::TempFail ? "451 later"
                                                                             : "550 no such user",
                                   "scripted"));
    }).detach();
  }
  std::string describe() const override { return "scripted"; }
  size_t jobs() {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
  }
  std::shared_ptr<const delivery::Job> job(size_t i) {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.at(i);
  }
  double secondsBetween(size_t a, size_t b) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::chrono::duration<double>(times_.at(b) - times_.at(a)).count();
  }

 private:
  std::mutex mutex_;
  std::vector<delivery::Outcome> script_;
  std::vector<std::shared_ptr<const delivery::Job>> jobs_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

// A target that holds every delivery until released, to observe what is in flight.
class HoldingTarget : public delivery::Target {
 public:
  explicit HoldingTarget(uint32_t concurrency = 100) : concurrency_(concurrency) {}
  void deliver(std::shared_ptr<const delivery::Job> job, std::function<void(delivery::Result)> done) override {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.emplace_back(job, std::move(done));
  }
  uint32_t concurrency() const override { return concurrency_; }
  std::string describe() const override { return "holding"; }
  size_t held() {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size();
  }
  void releaseOne(delivery::Outcome outcome = delivery::Outcome::Delivered) {
    std::pair<std::shared_ptr<const delivery::Job>, std::function<void(delivery::Result)>> first;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      first = std::move(held_.front());
      held_.erase(held_.begin());
    }
    first.second(delivery::uniformResult(*first.first, outcome,
                                         outcome == delivery::Outcome::Delivered ? "250 ok" : "451 later", "holding"));
  }

 private:
  uint32_t concurrency_;
  std::mutex mutex_;
  std::vector<std::pair<std::shared_ptr<const delivery::Job>, std::function<void(delivery::Result)>>> held_;
};

template <typename Predicate>
bool waitFor(Predicate predicate, double seconds = 10) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

struct Fixture {
  explicit Fixture(std::vector<delivery::Outcome> script = {delivery::Outcome::Delivered})
      : target(std::move(script)), other({delivery::Outcome::Delivered}), outbound({delivery::Outcome::Delivered}) {
    char pattern[] = "/tmp/mxgate-sched-XXXXXX";
    path = mkdtemp(pattern);
    spool_settings.path = path;
    settings.retry_initial = std::chrono::seconds(1);
    settings.retry_max = std::chrono::seconds(2);
    settings.retry_jitter_percent = 10;
  }
  ~Fixture() {
    if (scheduler) {
      control->post([this] { scheduler->stop(); });
      control->stop();
      control->join();
    }
    scheduler.reset();
    lane.reset();
    store.reset();
    std::filesystem::remove_all(path);
  }
  void openStore() {
    std::string error;
    store = spool::Store::open(spool_settings, error);
    BOOST_REQUIRE_MESSAGE(store, error);
  }
  void start(bool recover = false) {
    if (!store) {
      openStore();
    }
    control = std::make_unique<io::Loop>("control");
    lane = std::make_unique<io::Lane>("read", 1, 100);
    scheduler = std::make_unique<scheduler::Scheduler>(
        *control, *store, *lane, admission, settings,
        [this](const std::string& tenant, bool outbound_mail) -> delivery::Target* {
          if (outbound_mail) {
            return tenant == "example" ? &outbound : nullptr;  // the tenant's [outbound] target
          }
          if (tenant == "example") {
            return &target;
          }
          if (tenant == "other") {
            return &other;
          }
          auto extra = targets.find(tenant);
          return extra != targets.end() ? extra->second : nullptr;
        });
    if (recover) {
      recovered = scheduler->recover();
    }
    control->start();
    control->post([this] { scheduler->start(); });
  }
  // adjust: changes the record (and adds writes) before the commit.
  spool::MessageRecord commit(std::vector<std::pair<std::string, std::string>> recipients, bool hot = true,
                              const std::function<void(spool::MessageRecord&, spool::Batch&)>& adjust = {}) {
    spool::MessageRecord record;
    record.id = mail::QueueId::generate();
    record.received_at_us = record.id.micros();
    record.next_attempt_us = record.received_at_us;
    record.mail_from = "s@remote.example";
    std::string body = "Subject: t\r\n\r\nbody\r\n";
    record.body_size = body.size();
    record.body_chunks = 1;
    record.body_crc32 = spool::crc32(0, body);
    for (auto& [address, tenant] : recipients) {
      record.recipients.push_back({address, tenant, spool::RecipientState::Pending, 0, "", 0});
    }
    spool::Batch batch;
    batch.putBodyChunk(record.id, 0, body);
    if (adjust) {
      adjust(record, batch);
    }
    batch.putMessage(record);
    write(std::move(batch));
    if (scheduler) {
      scheduler->enqueue(record, hot ? std::make_shared<const std::string>(body) : nullptr);
    }
    return record;
  }
  void write(spool::Batch batch) {
    std::promise<bool> done;
    store->submit(std::move(batch), true, [&done](const spool::CommitStatus& status) { done.set_value(status.ok); });
    BOOST_REQUIRE(done.get_future().get());
  }
  std::vector<spool::AuditRecord> audit() {
    std::vector<spool::AuditRecord> records;
    store->scanAudit(0, false, [&](std::string_view, spool::AuditRecord& record) {
      records.push_back(record);
      return true;
    });
    return records;
  }
  scheduler::AdminStatus remove(const mail::QueueId& id, const std::string& actor) {
    std::promise<scheduler::AdminStatus> removed;
    scheduler->remove(id, actor, [&](scheduler::AdminStatus status, std::string) { removed.set_value(status); });
    return removed.get_future().get();
  }
  spool::Store::ReadStatus read(const mail::QueueId& id, spool::MessageRecord& out) {
    std::string error;
    return store->readMessage(id, out, error);
  }

  std::string path;
  config::SpoolSettings spool_settings;
  config::QueueSettings settings;
  ScriptedTarget target;
  ScriptedTarget other;
  ScriptedTarget outbound;  // tenant example's [outbound] target
  std::map<std::string, delivery::Target*> targets;  // further tenants
  std::unique_ptr<spool::Store> store;
  spool::Admission admission{config::SpoolSettings()};
  std::unique_ptr<io::Loop> control;
  std::unique_ptr<io::Lane> lane;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  uint64_t recovered = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(scheduler_suite)

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_the_cap) {
  config::QueueSettings settings;
  settings.retry_initial = std::chrono::seconds(300);
  settings.retry_max = std::chrono::seconds(3600);
  BOOST_TEST(scheduler::Scheduler::backoffMicros(settings, 1) == 300000000u);
  BOOST_TEST(scheduler::Scheduler::backoffMicros(settings, 2) == 600000000u);
  BOOST_TEST(scheduler::Scheduler::backoffMicros(settings, 4) == 2400000000u);
  BOOST_TEST(scheduler::Scheduler::backoffMicros(settings, 5) == 3600000000u);
  BOOST_TEST(scheduler::Scheduler::backoffMicros(settings, 1000) == 3600000000u);
}

BOOST_AUTO_TEST_CASE(delivered_message_is_removed_from_the_spool) {
  Fixture f;
  f.start();
  spool::MessageRecord record = f.commit({{"u@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().queued == 0; }));
  spool::MessageRecord read;
  BOOST_TEST(waitFor([&] { return f.read(record.id, read) == spool::Store::ReadStatus::NotFound; }));
  BOOST_TEST(f.target.job(0)->recipients == std::vector<std::string>{"u@example.test"});
  BOOST_TEST(*f.target.job(0)->body == "Subject: t\r\n\r\nbody\r\n");
  BOOST_TEST(f.lane->completed() == 0u);  // the hot path never read the spool back
  BOOST_TEST(f.admission.queuedMessages() == 0u);
  BOOST_TEST(f.admission.queuedBytes() == 0u);
}

BOOST_AUTO_TEST_CASE(outbound_mail_goes_to_the_tenants_outbound_target) {
  Fixture f;
  f.start();
  // A submission of tenant example to a foreign domain: its recipients carry the sending tenant.
  f.commit({{"rcpt@far.example", "example"}}, true,
           [](spool::MessageRecord& record, spool::Batch&) { record.origin = spool::Origin::Submission; });
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(f.outbound.jobs() == 1u);
  BOOST_TEST(f.target.jobs() == 0u);
  BOOST_TEST(f.outbound.job(0)->recipients == std::vector<std::string>{"rcpt@far.example"});
  BOOST_TEST((f.outbound.job(0)->record->origin == spool::Origin::Submission));
  // Inbound mail of the same tenant still goes to its [delivery] target.
  f.commit({{"u@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 2; }));
  BOOST_TEST(f.target.jobs() == 1u);
  BOOST_TEST(f.outbound.jobs() == 1u);
  // Read back from the spool (not hot), the message is still outbound.
  f.commit({{"later@far.example", "example"}}, false,
           [](spool::MessageRecord& record, spool::Batch&) { record.origin = spool::Origin::Api; });
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 3; }));
  BOOST_TEST(f.outbound.jobs() == 2u);
}

BOOST_AUTO_TEST_CASE(cold_message_is_read_from_the_spool) {
  Fixture f;
  f.start();
  f.commit({{"u@example.test", "example"}}, false);
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(f.lane->completed() == 1u);
  BOOST_TEST(*f.target.job(0)->body == "Subject: t\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(temporary_failure_is_retried_after_backoff) {
  Fixture f({delivery::Outcome::TempFail, delivery::Outcome::Delivered});
  f.start();
  spool::MessageRecord record = f.commit({{"u@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().deferred == 1; }));
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.attempts == 1;
  }));
  BOOST_TEST(read.recipients[0].last_reply == "451 later");
  BOOST_TEST(read.next_attempt_us >= read.received_at_us + 900000);
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }, 5));
  BOOST_TEST(f.target.secondsBetween(0, 1) >= 0.85);  // 1 s minus 10 % jitter
  BOOST_TEST(f.target.job(1)->attempt == 2u);
  BOOST_TEST(waitFor([&] { return f.read(record.id, read) == spool::Store::ReadStatus::NotFound; }));
}

BOOST_AUTO_TEST_CASE(permanent_failure_dead_letters_and_retry_requeues) {
  Fixture f({delivery::Outcome::PermFail, delivery::Outcome::Delivered});
  f.start();
  spool::MessageRecord record = f.commit({{"u@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().dead == 1; }));
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.state == spool::MessageState::Dead;
  }));
  BOOST_TEST(read.dead_reason == "permanent failure");
  BOOST_TEST((read.recipients[0].state == spool::RecipientState::Failed));
  BOOST_TEST(read.recipients[0].last_reply == "550 no such user");
  BOOST_TEST(f.scheduler->stats().queued == 0u);

  std::promise<scheduler::AdminStatus> retried;
  f.scheduler->retry(record.id, [&](scheduler::AdminStatus status, std::string) { retried.set_value(status); });
  BOOST_TEST((retried.get_future().get() == scheduler::AdminStatus::Ok));
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(f.scheduler->stats().dead == 0u);
}

BOOST_AUTO_TEST_CASE(expiry_dead_letters_pending_recipients) {
  Fixture f({delivery::Outcome::TempFail});
  f.settings.max_age = std::chrono::seconds(0);
  f.start();
  spool::MessageRecord record = f.commit({{"u@example.test", "example"}});
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.state == spool::MessageState::Dead;
  }));
  BOOST_TEST(read.dead_reason == "expired");
  BOOST_TEST(read.recipients[0].last_reply.find("expired after 0 s") == 0u);
  BOOST_TEST(read.recipients[0].last_reply.find("451 later") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(recipients_are_grouped_by_target_and_unroutable_ones_deferred) {
  Fixture f;
  f.start();
  spool::MessageRecord record = f.commit({{"a@example.test", "example"},
                                          {"b@other.test", "other"},
                                          {"c@example.test", "example"},
                                          {"d@gone.test", "gone"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 3; }));
  BOOST_TEST(f.target.jobs() == 1u);
  BOOST_TEST(f.other.jobs() == 1u);
  BOOST_TEST((f.target.job(0)->recipients == std::vector<std::string>{"a@example.test", "c@example.test"}));
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.recipients[3].attempts == 1 &&
           read.recipients[1].state == spool::RecipientState::Delivered;
  }));
  BOOST_TEST(read.attempts == 1u);  // one round, whatever the number of targets
  BOOST_TEST((read.recipients[3].state == spool::RecipientState::Pending));
  BOOST_TEST(read.recipients[3].last_reply == "no delivery route for tenant gone");
}

BOOST_AUTO_TEST_CASE(remove_and_show_through_the_admin_calls) {
  Fixture f({delivery::Outcome::TempFail});
  f.settings.retry_initial = std::chrono::seconds(60);
  f.settings.retry_max = std::chrono::seconds(60);
  f.start();
  spool::MessageRecord record = f.commit({{"u@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().deferred == 1 && f.scheduler->stats().active == 0; }));
  std::promise<std::pair<scheduler::AdminStatus, spool::MessageRecord>> shown;
  f.scheduler->show(record.id, [&](scheduler::AdminStatus status, spool::MessageRecord r, bool) {
    shown.set_value({status, std::move(r)});
  });
  auto [status, read] = shown.get_future().get();
  BOOST_TEST((status == scheduler::AdminStatus::Ok));
  BOOST_TEST(read.attempts == 1u);

  std::promise<std::vector<spool::MessageRecord>> listed;
  f.scheduler->list(10, [&](std::vector<spool::MessageRecord> records) { listed.set_value(std::move(records)); });
  BOOST_TEST(listed.get_future().get().size() == 1u);

  std::promise<scheduler::AdminStatus> removed;
  f.scheduler->remove(record.id, "cli:tester", [&](scheduler::AdminStatus s, std::string) { removed.set_value(s); });
  BOOST_TEST((removed.get_future().get() == scheduler::AdminStatus::Ok));
  BOOST_TEST(f.scheduler->stats().queued == 0u);
  BOOST_TEST((f.read(record.id, read) == spool::Store::ReadStatus::NotFound));

  std::promise<scheduler::AdminStatus> missing;
  f.scheduler->retry(mail::QueueId::generate(), [&](scheduler::AdminStatus s, std::string) { missing.set_value(s); });
  BOOST_TEST((missing.get_future().get() == scheduler::AdminStatus::NotFound));
}

BOOST_AUTO_TEST_CASE(delivery_memory_budget_bounds_bodies_in_flight) {
  Fixture f;
  HoldingTarget holding;
  f.settings.max_delivery_memory = 50;  // each test body is 20 bytes: two fit, the third waits
  f.openStore();
  f.control = std::make_unique<io::Loop>("control");
  f.lane = std::make_unique<io::Lane>("read", 1, 100);
  f.scheduler = std::make_unique<scheduler::Scheduler>(*f.control, *f.store, *f.lane, f.admission, f.settings,
                                                       [&](const std::string&, bool) { return &holding; });
  f.control->start();
  f.control->post([&] { f.scheduler->start(); });
  for (int i = 0; i < 3; ++i) {
    f.commit({{"u@example.test", "example"}});
  }
  BOOST_REQUIRE(waitFor([&] { return holding.held() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(holding.held() == 2u);
  BOOST_TEST(f.scheduler->stats().delivery_bytes == 40u);
  holding.releaseOne();
  BOOST_REQUIRE(waitFor([&] { return holding.held() == 2 && f.scheduler->stats().delivered == 1; }));
  holding.releaseOne();
  holding.releaseOne();
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 3; }));
  BOOST_TEST(f.scheduler->stats().delivery_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(recovery_rebuilds_the_queue_from_the_spool) {
  Fixture f;
  f.openStore();
  spool::MessageRecord queued = f.commit({{"u@example.test", "example"}});
  spool::MessageRecord finished = f.commit({{"v@example.test", "example"}});
  finished.recipients[0].state = spool::RecipientState::Delivered;
  spool::MessageRecord dead = f.commit({{"w@example.test", "example"}});
  dead.state = spool::MessageState::Dead;
  mail::QueueId orphan = mail::QueueId::generate();
  spool::Batch batch;
  batch.putMessage(finished);
  batch.putMessage(dead);
  batch.markOpen(orphan);
  batch.putBodyChunk(orphan, 0, std::string(1000, 'o'));
  std::promise<bool> written;
  f.store->submit(std::move(batch), true, [&](const spool::CommitStatus& s) { written.set_value(s.ok); });
  BOOST_REQUIRE(written.get_future().get());

  f.start(true);
  BOOST_TEST(f.recovered == 1u);
  BOOST_TEST(f.admission.queuedMessages() >= 0u);
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(f.target.job(0)->recipients == std::vector<std::string>{"u@example.test"});
  BOOST_TEST(f.scheduler->stats().dead == 1u);
  spool::MessageRecord read;
  BOOST_TEST((f.read(finished.id, read) == spool::Store::ReadStatus::NotFound));
  BOOST_TEST(f.store->openTransactions().empty());
}

// Quarantines a tenant's recipients of a record being committed (as the session does).
void quarantine(spool::MessageRecord& record, spool::Batch& batch, const std::string& tenant, bool legal_hold) {
  spool::QuarantineRecord entry;
  entry.tenant = tenant;
  entry.id = record.id;
  entry.reason = "virus";
  entry.expires_at_us = record.received_at_us + 86400000000;
  entry.legal_hold = legal_hold;
  for (spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.tenant == tenant) {
      recipient.state = spool::RecipientState::Quarantined;
      entry.recipients.push_back(recipient.address);
    }
  }
  if (!record.hasPending()) {
    record.state = spool::MessageState::Held;
  }
  batch.putQuarantine(entry);
}

BOOST_AUTO_TEST_CASE(each_recipient_expires_by_its_own_targets_max_age) {
  Fixture f({delivery::Outcome::TempFail});
  f.target.policy = delivery::RetryPolicy{std::chrono::seconds(1), std::chrono::seconds(1), std::chrono::seconds(0)};
  ScriptedTarget late({delivery::Outcome::TempFail, delivery::Outcome::Delivered});  // the queue's schedule
  f.targets["late"] = &late;
  f.start();
  spool::MessageRecord record = f.commit({{"a@example.test", "example"}, {"b@late.test", "late"}});
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.recipients[0].attempts == 1 &&
           read.recipients[1].attempts == 1;
  }));
  // The first attempts: "example" (max age 0) expired its recipient; "late" keeps its own.
  BOOST_TEST((read.recipients[0].state == spool::RecipientState::Failed));
  BOOST_TEST(read.recipients[0].last_reply.find("expired after 0 s") == 0u);
  BOOST_TEST((read.recipients[1].state == spool::RecipientState::Pending));
  BOOST_TEST((read.state == spool::MessageState::Queued));
  BOOST_TEST(read.recipients[1].next_attempt_us > read.received_at_us);
  BOOST_TEST(read.next_attempt_us == read.recipients[1].next_attempt_us);
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(late.jobs() == 2u);
  BOOST_TEST(f.target.jobs() == 1u);
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok && read.state == spool::MessageState::Dead;
  }));
  BOOST_TEST((read.recipients[1].state == spool::RecipientState::Delivered));
  BOOST_TEST(read.dead_reason == "expired");
}

BOOST_AUTO_TEST_CASE(each_recipient_backs_off_by_its_own_targets_schedule) {
  Fixture f({delivery::Outcome::TempFail, delivery::Outcome::Delivered});
  f.target.policy = delivery::RetryPolicy{std::chrono::seconds(1), std::chrono::seconds(1), std::chrono::seconds(3600)};
  f.settings.retry_initial = std::chrono::seconds(60);
  f.settings.retry_max = std::chrono::seconds(60);
  ScriptedTarget slow({delivery::Outcome::TempFail});
  f.targets["slow"] = &slow;
  f.start();
  spool::MessageRecord record = f.commit({{"a@example.test", "example"}, {"b@slow.test", "slow"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 1; }));
  BOOST_TEST(f.target.jobs() == 2u);
  BOOST_TEST(f.target.job(1)->recipients == std::vector<std::string>{"a@example.test"});
  BOOST_TEST(f.target.secondsBetween(0, 1) >= 0.85);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  BOOST_TEST(slow.jobs() == 1u);  // its own 60 s backoff
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(record.id, read) == spool::Store::ReadStatus::Ok &&
           read.recipients[0].state == spool::RecipientState::Delivered;
  }));
  BOOST_TEST(read.next_attempt_us >= read.received_at_us + 50000000);
}

BOOST_AUTO_TEST_CASE(a_hung_destination_holds_only_its_own_budget) {
  Fixture f;
  HoldingTarget hung(2);
  f.targets["hung"] = &hung;
  f.settings.max_active = 5;
  f.start();
  for (int i = 0; i < 20; ++i) {
    f.commit({{"u" + std::to_string(i) + "@hung.test", "hung"}}, i % 2 == 0);
  }
  BOOST_REQUIRE(waitFor([&] { return hung.held() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(hung.held() == 2u);
  BOOST_TEST(f.scheduler->stats().active == 2u);
  BOOST_TEST(f.scheduler->stats().ready == 18u);
  // Another destination's mail goes through at once, also a message shared with the hung one.
  f.commit({{"v@example.test", "example"}});
  spool::MessageRecord shared = f.commit({{"w@hung.test", "hung"}, {"x@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 2; }, 5));
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] {
    return f.read(shared.id, read) == spool::Store::ReadStatus::Ok &&
           read.recipients[1].state == spool::RecipientState::Delivered;
  }));
  BOOST_TEST((read.recipients[0].state == spool::RecipientState::Pending));
  BOOST_TEST((read.state == spool::MessageState::Queued));
  // The hung destination takes its next job when one of its own ends.
  hung.releaseOne();
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().delivered == 3 && hung.held() == 2; }));
  BOOST_TEST(f.scheduler->stats().ready == 18u);
  while (f.scheduler->stats().delivered < 23) {
    BOOST_REQUIRE(waitFor([&] { return hung.held() > 0; }));
    hung.releaseOne();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().queued == 0; }));
  BOOST_TEST(f.scheduler->stats().active == 0u);
  BOOST_TEST(f.scheduler->stats().ready == 0u);
}

BOOST_AUTO_TEST_CASE(new_settings_apply_without_a_restart) {
  Fixture f;
  HoldingTarget holding;
  f.targets["hold"] = &holding;
  f.settings.max_active = 1;
  f.start();
  for (int i = 0; i < 3; ++i) {
    f.commit({{"u@hold.test", "hold"}});
  }
  BOOST_REQUIRE(waitFor([&] { return holding.held() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(holding.held() == 1u);
  config::QueueSettings more = f.settings;
  more.max_active = 3;
  f.scheduler->updateSettings(more);
  BOOST_TEST(waitFor([&] { return holding.held() == 3; }));
}

BOOST_AUTO_TEST_CASE(dead_letters_and_audit_records_are_purged_after_their_retention_unless_on_hold) {
  Fixture f({delivery::Outcome::PermFail});
  f.settings.dead_letter_retention = std::chrono::seconds(1);
  f.settings.audit_retention = std::chrono::seconds(600);
  f.settings.purge_interval = std::chrono::seconds(1);
  f.openStore();
  // Audit records from an hour ago: one of a message on legal hold, one of another.
  const uint64_t hour_ago = mail::QueueId::generate().micros() - 3600000000;
  spool::MessageRecord held = f.commit({{"h@other.test", "other"}}, true, [](spool::MessageRecord& record, spool::Batch& batch) {
    quarantine(record, batch, "other", true);
  });
  spool::Batch old;
  old.putAudit(spool::AuditRecord{hour_ago, "system", "quarantine", "other", held.id.str(), "kept"});
  old.putAudit(spool::AuditRecord{hour_ago + 1, "cli:x", "release", "other", "00000000000000000000", "purged"});
  f.write(std::move(old));
  f.start(true);
  BOOST_TEST(f.store->auditRecords() == 2u);
  spool::MessageRecord dead = f.commit({{"d@example.test", "example"}});
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().dead_purged == 1; }));
  spool::MessageRecord read;
  BOOST_TEST((f.read(dead.id, read) == spool::Store::ReadStatus::NotFound));
  BOOST_TEST(f.scheduler->stats().dead == 0u);
  BOOST_TEST((f.read(held.id, read) == spool::Store::ReadStatus::Ok));  // held, never a dead letter
  BOOST_REQUIRE(waitFor([&] { return f.scheduler->stats().audit_purged == 1; }));
  std::vector<std::string> details;
  for (const spool::AuditRecord& record : f.audit()) {
    details.push_back(record.actor + " " + record.action + " " + record.id + " " + record.detail.substr(0, 15));
  }
  std::vector<std::string> expected{"system quarantine " + held.id.str() + " kept",
                                    "system purge " + dead.id.str() + " dead letter kep",
                                    "system purge  1 audit records"};
  std::sort(details.begin(), details.end());
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(details == expected, boost::test_tools::per_element());
  BOOST_TEST(f.store->auditRecords() == 3u);
}

BOOST_AUTO_TEST_CASE(queue_delete_audits_quarantine_removals_with_the_actor) {
  Fixture f;
  HoldingTarget holding;
  f.targets["hold"] = &holding;
  f.start();
  // A message held only for quarantine, and one whose other recipient is being delivered.
  spool::MessageRecord idle = f.commit({{"q@other.test", "other"}}, true, [](spool::MessageRecord& record,
                                                                          spool::Batch& batch) {
    quarantine(record, batch, "other", false);
  });
  spool::MessageRecord busy = f.commit({{"p@hold.test", "hold"}, {"q@other.test", "other"}}, true,
                                       [](spool::MessageRecord& record, spool::Batch& batch) {
                                         quarantine(record, batch, "other", false);
                                       });
  BOOST_REQUIRE(waitFor([&] { return holding.held() == 1; }));
  BOOST_TEST((f.remove(idle.id, "cli:alice") == scheduler::AdminStatus::Ok));
  BOOST_TEST((f.remove(busy.id, "cli:bob") == scheduler::AdminStatus::Accepted));
  holding.releaseOne();
  spool::MessageRecord read;
  BOOST_REQUIRE(waitFor([&] { return f.read(busy.id, read) == spool::Store::ReadStatus::NotFound; }));
  std::vector<std::string> actions;
  BOOST_REQUIRE(waitFor([&] { return f.audit().size() == 2; }));
  for (const spool::AuditRecord& record : f.audit()) {
    actions.push_back(record.actor + " " + record.action + " " + record.tenant + " " + record.id);
  }
  BOOST_TEST(actions == (std::vector<std::string>{"cli:alice delete other " + idle.id.str(),
                                                  "cli:bob delete other " + busy.id.str()}),
             boost::test_tools::per_element());
  BOOST_TEST(f.scheduler->stats().quarantined == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
