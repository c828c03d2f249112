// The queue manager (see include/mxgate/scheduler/scheduler.h). Runs on the control loop;
// spool reads go to the read lane; delivery results come back through the loop's inbox.
#include "mxgate/scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <random>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/events/event.h"
#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/spool/suppression.h"

namespace mxgate::scheduler {
namespace {

// A job that could not start (a lane was full) is due again after this.
constexpr uint64_t kUnstartedDelayUs = 1000000;

// The event webhook's type for a recipient's delivery outcome.
std::string_view deliveryEventType(delivery::Outcome outcome) {
  switch (outcome) {
    case delivery::Outcome::Delivered: return "message.delivered";
    case delivery::Outcome::TempFail: return "message.deferred";
    case delivery::Outcome::PermFail: return "message.bounced";
  }
  return "message.deferred";
}

std::string_view outcomeEvent(delivery::Outcome outcome) {
  switch (outcome) {
    case delivery::Outcome::Delivered: return "delivered";
    case delivery::Outcome::TempFail: return "deferred";
    case delivery::Outcome::PermFail: return "failed";
  }
  return "deferred";
}

uint64_t micros(std::chrono::seconds value) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(value).count());
}

// The tenants with quarantined recipients in a message: one quarantine entry each.
std::vector<std::string> quarantinedTenants(const spool::MessageRecord& record) {
  std::vector<std::string> tenants;
  for (const spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.state == spool::RecipientState::Quarantined &&
        std::find(tenants.begin(), tenants.end(), recipient.tenant) == tenants.end()) {
      tenants.push_back(recipient.tenant);
    }
  }
  return tenants;
}

// Deletes the quarantine entries of a message removed from the queue; returns how many.
uint64_t deleteQuarantineEntries(const spool::MessageRecord& record, const std::string& actor, uint64_t now,
                                 spool::Batch& batch) {
  const std::vector<std::string> tenants = quarantinedTenants(record);
  for (const std::string& tenant : tenants) {
    batch.deleteQuarantine(tenant, record.id);
    batch.putAudit(spool::AuditRecord{now, actor, "delete", tenant, record.id.str(), "message removed from the queue"});
  }
  return tenants.size();
}

// When the message is due again: its earliest pending recipient.
uint64_t nextAttempt(const spool::MessageRecord& record) {
  uint64_t next = UINT64_MAX;
  for (const spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.state == spool::RecipientState::Pending) {
      next = std::min(next, recipient.dueAt(record.next_attempt_us));
    }
  }
  return next == UINT64_MAX ? record.next_attempt_us : next;
}

bool anyExpired(const spool::MessageRecord& record) {
  return std::any_of(record.recipients.begin(), record.recipients.end(), [](const spool::RecipientRecord& recipient) {
    return recipient.state == spool::RecipientState::Failed && recipient.last_reply.starts_with(Scheduler::kExpiredReply);
  });
}

}  // namespace

// A job: the parts of one message for one target (or the message's scan), under way.
struct Scheduler::Job {
  mail::QueueId id;
  Destination* destination = nullptr;
  delivery::Target* target = nullptr;  // nullptr: the scan, or tenants without a target
  bool scan = false;
  std::vector<std::string> tenants;  // its parts
  std::vector<size_t> recipients;    // indexes into the record: this job's pending recipients
  config::QueueSettings retry;       // the target's retry schedule: its own, or the queue's
  std::shared_ptr<const config::Config> config;  // for the tenants' event settings
  std::vector<events::Event> events;             // written with the job's outcome
  uint64_t retry_after_us = 0;                   // a Retry-After the target was given
};

Scheduler::Scheduler(io::Loop& control, spool::Store& store, io::Lane& read_lane, spool::Admission& admission,
                     const config::QueueSettings& settings, TargetResolver resolver, InboundHooks inbound)
    : control_(control),
      store_(store),
      read_lane_(read_lane),
      admission_(admission),
      settings_(settings),
      resolver_(std::move(resolver)),
      inbound_(std::move(inbound)),
      random_state_(std::random_device{}() | 1) {}

Scheduler::~Scheduler() = default;

uint64_t Scheduler::backoffMicros(const config::QueueSettings& settings, uint32_t attempts) {
  uint64_t initial = micros(settings.retry_initial);
  uint64_t maximum = micros(settings.retry_max);
  uint64_t delay = initial;
  for (uint32_t i = 1; i < attempts && delay < maximum; ++i) {
    delay *= 2;
  }
  return std::min(delay, maximum);
}

uint64_t Scheduler::jitter(uint64_t micros) {
  // xorshift64: cheap, and spreading retries only needs to be roughly uniform.
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  uint64_t span = micros / 100 * settings_.retry_jitter_percent;
  if (span == 0) {
    return micros;
  }
  return micros - span + random_state_ % (2 * span + 1);
}

uint64_t Scheduler::recover() {
  const uint64_t now = nowMicros();
  uint64_t queued = 0;
  uint64_t corrupt = 0;
  uint64_t finished = 0;
  spool::Batch cleanup;
  store_.scanMessages([&](std::string_view key, spool::DecodeStatus status, spool::MessageRecord& record,
                          std::string_view raw) {
    if (status != spool::DecodeStatus::Ok) {
      log::error("-", "corrupt_record").kv("key_bytes", key.size()).kv("reason", spool::describe(status));
      cleanup.moveToCorrupt(key, raw);
      ++corrupt;
      return true;
    }
    if (record.state == spool::MessageState::Dead) {
      dead_letters_.emplace(record.dead_at_us, record.id);
      return true;
    }
    const std::optional<spool::MessageState> settled = record.settledState();
    if (settled == spool::MessageState::Held) {
      if (record.state != spool::MessageState::Held) {
        record.state = spool::MessageState::Held;
        cleanup.putMessage(record);
      }
      ++held_;
      return true;
    }
    if (settled != spool::MessageState::Queued) {
      // Every recipient reached a final state but the crash came before the record was updated.
      if (settled == spool::MessageState::Dead) {
        deadLetter(record, anyExpired(record) ? "expired" : "permanent failure", now);
        cleanup.putMessage(record);
      } else {
        cleanup.deleteMessage(record.id, record.body_chunks);
      }
      ++finished;
      return true;
    }
    addToIndex(record);
    ++queued;
    return true;
  });
  store_.scanQuarantine("", [this](spool::QuarantineRecord&) {
    ++quarantined_;
    return true;
  });
  uint64_t orphans = 0;
  for (const auto& id : store_.openTransactions()) {
    if (index_.count(id) == 0 && store_.dropOpenTransaction(id)) {
      ++orphans;
    }
  }
  if (!cleanup.empty()) {
    std::promise<spool::CommitStatus> written;
    auto result = written.get_future();
    store_.submit(std::move(cleanup), true, [&written](const spool::CommitStatus& status) { written.set_value(status); });
    spool::CommitStatus status = result.get();
    if (!status.ok) {
      log::error("-", "recovery_cleanup_failed").kv("error", status.error);
    }
  }
  log::info("-", "recovery")
      .kv("queued", queued)
      .kv("dead", dead_letters_.size())
      .kv("held", held_)
      .kv("quarantined", quarantined_)
      .kv("finished", finished)
      .kv("corrupt", corrupt)
      .kv("orphan_bodies", orphans);
  publishStats();
  return queued;
}

void Scheduler::start() {
  for (uv_timer_t* timer : {&timer_, &purge_timer_, &retention_timer_}) {
    uv_timer_init(control_.uv(), timer);
    timer->data = this;
  }
  timer_started_ = true;
  armTimer();
  armPurge();
  armRetentionPurge();
}

void Scheduler::stop() {
  stopped_ = true;
  if (timer_started_) {
    timer_started_ = false;
    for (uv_timer_t* timer : {&timer_, &purge_timer_, &retention_timer_}) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
    }
  }
}

void Scheduler::drain(bool deliver_queue) {
  control_.post([this, deliver_queue] {
    paused_ = !deliver_queue;
    log::info("-", "queue_drain").kv("mode", deliver_queue ? "deliver" : "pause").kv("queued", index_.size())
        .kv("active", active_);
    if (!deliver_queue) {
      publishStats();
      return;
    }
    const uint64_t now = nowMicros();
    for (auto& [id, entry] : index_) {
      if (locked_.count(id) != 0 || entry.delete_requested) {
        continue;
      }
      for (Part& part : entry.parts) {
        part.due_us = part.ready || part.active ? part.due_us : std::max(now, entry.send_at_us);
      }
      schedule(id, entry);
    }
    dispatchDue();
  });
}

void Scheduler::updateSettings(const config::QueueSettings& settings) {
  control_.post([this, settings] {
    const bool purge_changed = settings.quarantine_purge_interval != settings_.quarantine_purge_interval;
    const bool retention_changed = settings.purge_interval != settings_.purge_interval;
    settings_ = settings;
    // The hot cache gives back what is over its new bound.
    for (auto it = cache_.begin(); it != cache_.end() && hot_bytes_ > settings_.hot_cache_bytes;) {
      auto next = std::next(it);
      if (it->second.hot) {
        hot_bytes_ -= it->second.body->size();
        it->second.hot = false;
        it->second.body.reset();
        if (it->second.unwritten == 0) {
          cache_.erase(it);
        }
      }
      it = next;
    }
    if (timer_started_ && !stopped_) {
      if (purge_changed && !purging_) {
        armPurge();
      }
      if (retention_changed && !retention_purging_) {
        armRetentionPurge();
      }
    }
    log::info("-", "queue_settings_applied")
        .kv("max_active", settings_.max_active)
        .kv("max_age", settings_.max_age.count())
        .kv("retry_initial", settings_.retry_initial.count())
        .kv("retry_max", settings_.retry_max.count());
    publishStats();
    dispatchDue();
  });
}

// ---- The index ------------------------------------------------------------------------------

void Scheduler::addToIndex(const spool::MessageRecord& record) {
  Entry& entry = index_[record.id];
  entry.received_us = record.received_at_us;
  entry.send_at_us = record.send_at_us;
  entry.body_size = record.body_size;
  entry.body_chunks = record.body_chunks;
  entry.scan = record.stage == spool::Stage::Scan;
  entry.outbound = record.outbound();
  refreshParts(entry, record);
  queued_bytes_ += record.body_size;
  admission_.messageQueued(record.body_size);
  schedule(record.id, entry);
}

void Scheduler::eraseFromIndex(std::map<mail::QueueId, Entry>::iterator entry) {
  for (const Part& part : entry->second.parts) {
    ready_ -= part.ready ? 1 : 0;
  }
  queued_bytes_ -= entry->second.body_size;
  admission_.messageRemoved(entry->second.body_size);
  index_.erase(entry);
}

void Scheduler::refreshParts(Entry& entry, const spool::MessageRecord& record) {
  std::vector<Part> parts;
  if (entry.scan) {
    parts.push_back(entry.parts.size() == 1 && entry.parts.front().tenant.empty() ? entry.parts.front()
                                                                                    : Part{.tenant = "", .due_us = record.next_attempt_us});
  } else {
    for (const spool::RecipientRecord& recipient : record.recipients) {
      if (recipient.state != spool::RecipientState::Pending) {
        continue;
      }
      const uint64_t due = recipient.dueAt(record.next_attempt_us);
      auto part = std::find_if(parts.begin(), parts.end(), [&](const Part& p) { return p.tenant == recipient.tenant; });
      if (part != parts.end()) {
        part->due_us = part->ready || part->active ? part->due_us : std::min(part->due_us, due);
        continue;
      }
      auto kept = std::find_if(entry.parts.begin(), entry.parts.end(),
                               [&](const Part& p) { return p.tenant == recipient.tenant; });
      Part fresh = kept != entry.parts.end() ? *kept : Part{.tenant = recipient.tenant};
      if (!fresh.ready && !fresh.active) {
        fresh.due_us = due;
      }
      parts.push_back(std::move(fresh));
    }
  }
  for (const Part& old : entry.parts) {
    const bool stays = std::any_of(parts.begin(), parts.end(), [&](const Part& p) { return p.tenant == old.tenant; });
    ready_ -= old.ready && !stays ? 1 : 0;
  }
  entry.parts = std::move(parts);
}

void Scheduler::schedule(const mail::QueueId& id, Entry& entry) {
  uint64_t due = kNever;
  for (const Part& part : entry.parts) {
    if (!part.ready && !part.active) {
      due = std::min(due, part.due_us);
    }
  }
  entry.due_us = due;
  if (due != kNever) {
    due_.emplace(due, id);
  }
}

void Scheduler::makeReady(const mail::QueueId& id, Entry& entry, uint64_t now) {
  for (Part& part : entry.parts) {
    if (part.ready || part.active || part.due_us > now) {
      continue;
    }
    part.ready = true;
    ++ready_;
    Destination& destination = entry.scan ? scan_ : destinationOf(resolver_(part.tenant, entry.outbound));
    destination.ready.push_back(Ready{id, part.tenant});
    listOrRelease(destination);
  }
  schedule(id, entry);
}

Scheduler::Destination& Scheduler::destinationOf(const delivery::Target* target) {
  const delivery::Target* key = target != nullptr ? &target->destination() : nullptr;
  Destination& destination = destinations_[key];
  destination.target = key;
  return destination;
}

uint32_t Scheduler::budget(const Destination& destination) const {
  return destination.target != nullptr ? std::max<uint32_t>(destination.target->concurrency(), 1)
                                       : settings_.max_active;
}

void Scheduler::listOrRelease(Destination& destination) {
  if (!destination.listed && !destination.ready.empty() && destination.active < budget(destination)) {
    destination.listed = true;
    rotation_.push_back(&destination);
    return;
  }
  if (&destination != &scan_ && !destination.listed && destination.ready.empty() && destination.active == 0) {
    destinations_.erase(destination.target);
  }
}

void Scheduler::enqueue(spool::MessageRecord record, std::shared_ptr<const std::string> body) {
  control_.post([this, record = std::move(record), body = std::move(body)]() mutable {
    if (stopped_) {
      return;  // it is in the spool; the next start recovers it
    }
    quarantined_ += quarantinedTenants(record).size();
    if (record.state == spool::MessageState::Held) {
      ++held_;
      publishStats();
      return;
    }
    mail::QueueId id = record.id;
    addToIndex(record);
    // A scheduled send is read from the spool when due, not held in memory until then.
    if (body && record.send_at_us == 0 && hot_bytes_ + body->size() <= settings_.hot_cache_bytes) {
      hot_bytes_ += body->size();
      Cached& cached = cache_[id];
      cached.record = std::move(record);
      cached.body = std::move(body);
      cached.hot = true;
    }
    dispatchDue();
  });
}

// ---- Dispatch -------------------------------------------------------------------------------

void Scheduler::armTimer() {
  if (!timer_started_ || stopped_) {
    return;
  }
  if (due_.empty() || active_ >= settings_.max_active || memory_bound_) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t now = nowMicros();
  uint64_t due = due_.begin()->first;
  uint64_t wait_ms = due > now ? (due - now + 999) / 1000 : 0;
  uv_timer_start(&timer_, &Scheduler::onTimer, wait_ms, 0);
}

void Scheduler::onTimer(uv_timer_t* timer) { static_cast<Scheduler*>(timer->data)->dispatchDue(); }

void Scheduler::dispatchDue() {
  if (stopped_) {
    return;
  }
  if (paused_) {
    publishStats();
    return;
  }
  const uint64_t now = nowMicros();
  while (!due_.empty() && due_.begin()->first <= now) {
    auto next = due_.begin();
    const mail::QueueId id = next->second;
    const uint64_t due = next->first;
    due_.erase(next);
    auto entry = index_.find(id);
    // Stale: removed, rescheduled, locked (unlock() schedules it again) or being deleted.
    if (entry == index_.end() || entry->second.due_us != due || locked_.count(id) != 0 ||
        entry->second.delete_requested) {
      continue;
    }
    makeReady(id, entry->second, now);
  }
  memory_bound_ = false;
  while (active_ < settings_.max_active && !rotation_.empty()) {
    if (!startNext(*rotation_.front())) {
      memory_bound_ = true;  // endJob() dispatches again when memory is released
      break;
    }
  }
  armTimer();
  publishStats();
}

bool Scheduler::startNext(Destination& destination) {
  while (!destination.ready.empty()) {
    const Ready next = destination.ready.front();
    auto entry = index_.find(next.id);
    Part* part = nullptr;
    if (entry != index_.end()) {
      for (Part& candidate : entry->second.parts) {
        part = candidate.tenant == next.tenant ? &candidate : part;
      }
    }
    if (part == nullptr || !part->ready) {
      destination.ready.pop_front();  // stale
      continue;
    }
    if (locked_.count(next.id) != 0 || entry->second.delete_requested) {
      destination.ready.pop_front();  // unlock() schedules it again; a deleted message never
      part->ready = false;
      --ready_;
      continue;
    }
    delivery::Target* target = nullptr;
    if (&destination != &scan_) {
      target = resolver_(next.tenant, entry->second.outbound);
      Destination& current = destinationOf(target);
      if (&current != &destination) {  // a reload gave the tenant another target
        destination.ready.pop_front();
        current.ready.push_back(next);
        listOrRelease(current);
        continue;
      }
    }
    if (entry->second.jobs == 0 && active_ > 0 &&
        delivery_bytes_ + entry->second.body_size > settings_.max_delivery_memory) {
      return false;
    }
    destination.ready.pop_front();
    rotation_.pop_front();
    destination.listed = false;
    startJob(destination, next.id, entry->second, *part, target);
    listOrRelease(destination);
    return true;
  }
  rotation_.pop_front();
  destination.listed = false;
  listOrRelease(destination);
  return true;
}

void Scheduler::startJob(Destination& destination, const mail::QueueId& id, Entry& entry, Part& part,
                         delivery::Target* target) {
  auto job = std::make_shared<Job>();
  job->id = id;
  job->destination = &destination;
  job->target = target;
  job->scan = entry.scan;
  job->retry = settings_;
  if (target != nullptr) {
    if (const std::optional<delivery::RetryPolicy> own = target->retryPolicy()) {
      job->retry.retry_initial = own->initial;
      job->retry.retry_max = own->max;
      job->retry.max_age = own->max_age;
    }
  }
  part.ready = false;
  part.active = true;
  --ready_;
  job->tenants.push_back(part.tenant);
  if (!entry.scan) {
    // The message's other ready parts for the same target go in this job (one file, one
    // transaction); their queue entries become stale.
    for (Part& other : entry.parts) {
      if (other.ready && resolver_(other.tenant, entry.outbound) == target) {
        other.ready = false;
        other.active = true;
        --ready_;
        job->tenants.push_back(other.tenant);
      }
    }
  }
  ++destination.active;
  ++active_;
  if (entry.jobs++ == 0) {
    delivery_bytes_ += entry.body_size;
  }
  acquire(job);
}

void Scheduler::acquire(const std::shared_ptr<Job>& job) {
  Cached& cached = cache_[job->id];
  if (cached.record && cached.body) {
    if (cached.hot) {
      cached.hot = false;
      hot_bytes_ -= cached.body->size();
    }
    if (job->scan) {
      scanThenDeliver(job);
    } else {
      deliver(job);
    }
    return;
  }
  cached.waiting.push_back(job);
  if (cached.reading) {
    return;
  }
  cached.reading = true;
  const mail::QueueId id = job->id;
  const bool queued = read_lane_.submit([this, id, known = cached.record] {
    spool::MessageRecord record;
    std::string error;
    auto body = std::make_shared<std::string>();
    auto status = spool::Store::ReadStatus::Ok;
    if (known) {
      record = *known;
    } else {
      status = store_.readMessage(id, record, error);
    }
    if (status == spool::Store::ReadStatus::Ok) {
      status = store_.readBody(record, *body, error);
    }
    if (status == spool::Store::ReadStatus::Corrupt) {
      std::string move_error;
      if (!store_.moveMessageToCorrupt(id, move_error)) {
        error += "; moving to corrupt failed: " + move_error;
      }
    }
    control_.post([this, id, status, error, record = std::move(record), body = std::move(body)]() mutable {
      onRead(id, status, error, std::move(record), std::move(body));
    });
  });
  if (!queued) {
    // Not from inside the dispatch that started the job: the job ends through the loop.
    cached.reading = false;
    std::vector<std::shared_ptr<Job>> waiting;
    waiting.swap(cached.waiting);
    control_.post([this, waiting] {
      for (const std::shared_ptr<Job>& job : waiting) {
        unstart(job, kUnstartedDelayUs);
      }
      dispatchDue();
    });
  }
}

void Scheduler::onRead(const mail::QueueId& id, spool::Store::ReadStatus status, const std::string& error,
                       spool::MessageRecord record, std::shared_ptr<const std::string> body) {
  Cached& cached = cache_[id];
  cached.reading = false;
  std::vector<std::shared_ptr<Job>> waiting;
  waiting.swap(cached.waiting);
  if (status == spool::Store::ReadStatus::Ok) {
    if (!cached.record) {
      cached.record = std::move(record);
    }
    cached.body = std::move(body);
    for (const std::shared_ptr<Job>& job : waiting) {
      if (job->scan) {
        scanThenDeliver(job);
      } else {
        deliver(job);
      }
    }
    return;
  }
  if (status == spool::Store::ReadStatus::IoError) {
    log::error(id.str(), "spool_read_failed").kv("error", error);
    for (const std::shared_ptr<Job>& job : waiting) {
      unstart(job, backoffMicros(settings_, 1));
    }
    dispatchDue();
    return;
  }
  log::error(id.str(), status == spool::Store::ReadStatus::Corrupt ? "moved_to_corrupt" : "vanished").kv("error", error);
  auto entry = index_.find(id);
  for (const std::shared_ptr<Job>& job : waiting) {
    releaseJob(job, entry->second);
  }
  cache_.erase(id);
  eraseFromIndex(entry);
  dispatchDue();
}

void Scheduler::releaseJob(const std::shared_ptr<Job>& job, Entry& entry) {
  Destination& destination = *job->destination;
  --destination.active;
  --active_;
  for (Part& part : entry.parts) {
    if (std::find(job->tenants.begin(), job->tenants.end(), part.tenant) != job->tenants.end()) {
      part.active = false;
    }
  }
  if (--entry.jobs == 0) {
    delivery_bytes_ -= entry.body_size;
  }
  listOrRelease(destination);
}

void Scheduler::unstart(const std::shared_ptr<Job>& job, uint64_t delay_us) {
  auto entry = index_.find(job->id);
  releaseJob(job, entry->second);
  const uint64_t due = nowMicros() + delay_us;
  for (Part& part : entry->second.parts) {
    if (std::find(job->tenants.begin(), job->tenants.end(), part.tenant) != job->tenants.end()) {
      part.due_us = due;
    }
  }
  schedule(job->id, entry->second);
  if (entry->second.jobs == 0) {
    retainCached(job->id);
  }
  armTimer();
}

// ---- The scan stage -------------------------------------------------------------------------

void Scheduler::scanThenDeliver(const std::shared_ptr<Job>& job) {
  Cached& cached = cache_.at(job->id);
  // A job ends through the loop, never inside the dispatch that started it.
  if (inbound_.scanner == nullptr) {
    log::warn(job->id.str(), "scan_skipped").kv("reason", "virus scanning is not configured");
    cached.record->stage = spool::Stage::Deliver;
    spool::Batch batch;
    batch.putMessage(*cached.record);
    control_.post([this, job, batch = std::move(batch)]() mutable { endJob(job, std::move(batch)); });
    return;
  }
  const bool queued = inbound_.scanner->scan(cached.body, [this, job](scan::ScanResult result) {
    control_.post([this, job, result = std::move(result)] { applyScan(job, result); });
  });
  if (!queued) {
    log::warn(job->id.str(), "scan_deferred").kv("reason", "scan lane full");
    control_.post([this, job] {
      unstart(job, kUnstartedDelayUs);
      dispatchDue();
    });
  }
}

void Scheduler::applyScan(const std::shared_ptr<Job>& job, const scan::ScanResult& result) {
  const uint64_t now = nowMicros();
  const mail::QueueId& id = job->id;
  spool::MessageRecord& record = *cache_.at(id).record;
  std::shared_ptr<const config::Config> config = inbound_.config();
  std::vector<std::string> tags;
  spool::Batch batch;
  log::Line line(result.verdict == scan::Verdict::Clean ? log::Level::Info : log::Level::Warn, id.str(), "scanned");
  line.kv("verdict", scan::name(result.verdict)).kv("name", result.name).kv("us", result.micros);
  if (!result.error.empty()) {
    line.kv("error", result.error);
  }
  std::vector<std::string> decided;  // tenants already judged
  for (const spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.state != spool::RecipientState::Pending ||
        std::find(decided.begin(), decided.end(), recipient.tenant) != decided.end()) {
      continue;
    }
    decided.push_back(recipient.tenant);
    const config::Tenant* tenant = config->tenantById(recipient.tenant);
    const config::InboundPolicy policy = tenant != nullptr ? tenant->inbound : config::InboundPolicy{};
    const pipeline::Decision decision = pipeline::judgeScan(result, policy, config->scan.failure, false);
    for (const std::string& tag : decision.tags) {
      if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
        tags.push_back(tag);
      }
    }
    if (decision.action != pipeline::Action::Quarantine) {
      continue;
    }
    const spool::QuarantineRecord entry = pipeline::quarantineTenant(
        record, pipeline::TenantQuarantine{recipient.tenant, decision.reason, decision.detail}, tenant, now, batch);
    ++quarantined_;
    log::warn(id.str(), "quarantined").kv("tenant", entry.tenant).kv("reason", entry.reason).kv("detail", entry.detail);
  }
  record.headers += pipeline::tagHeader(tags);
  record.verdicts.virus = std::string(scan::name(result.verdict));
  record.verdicts.virus_name = result.name;
  record.stage = spool::Stage::Deliver;
  batch.putMessage(record);
  endJob(job, std::move(batch));
}

// ---- Delivery -------------------------------------------------------------------------------

void Scheduler::deliver(const std::shared_ptr<Job>& job) {
  const Cached& cached = cache_.at(job->id);
  const spool::MessageRecord& record = *cached.record;
  if (inbound_.config) {
    job->config = inbound_.config();
  }
  for (size_t i = 0; i < record.recipients.size(); ++i) {
    const spool::RecipientRecord& recipient = record.recipients[i];
    if (recipient.state == spool::RecipientState::Pending &&
        std::find(job->tenants.begin(), job->tenants.end(), recipient.tenant) != job->tenants.end()) {
      job->recipients.push_back(i);
    }
  }
  if (job->target == nullptr || job->recipients.empty()) {
    delivery::Result result;
    for (size_t i : job->recipients) {
      result.recipients.push_back({delivery::Outcome::TempFail, "no delivery route for tenant " + record.recipients[i].tenant});
    }
    // Through the loop: a backlog of unroutable mail must not recurse through dispatchDue().
    control_.post([this, job, result = std::move(result)]() mutable { onJobDone(job, std::move(result)); });
    return;
  }
  auto delivery_job = std::make_shared<delivery::Job>();
  delivery_job->record = std::make_shared<const spool::MessageRecord>(record);
  delivery_job->tenant = record.recipients[job->recipients.front()].tenant;
  delivery_job->id = job->id;
  delivery_job->mail_from = record.mail_from;
  delivery_job->headers = record.headers;
  delivery_job->body = cached.body;
  delivery_job->smtputf8 = record.smtputf8;
  delivery_job->eightbit = record.eightbit;
  uint32_t attempts = 0;
  for (size_t i : job->recipients) {
    delivery_job->recipients.push_back(record.recipients[i].address);
    attempts = std::max(attempts, record.recipients[i].attempts);
  }
  delivery_job->attempt = attempts + 1;
  job->target->deliver(delivery_job, [this, job](delivery::Result result) {
    control_.post([this, job, result = std::move(result)]() mutable { onJobDone(job, std::move(result)); });
  });
}

// A delivery event for one recipient (its outcome just recorded in recipient) when its tenant
// wants events; written with the job's outcome.
void Scheduler::addRecipientEvent(Job& job, const spool::MessageRecord& record, std::string_view type,
                                  const spool::RecipientRecord& recipient, const std::string& remote, uint64_t at_us,
                                  uint64_t next_attempt_us, const delivery::RecipientResult& peer,
                                  const bounce::Classification* classified) {
  if (!events::wanted(job.config.get(), recipient.tenant)) {
    return;
  }
  events::Fields fields;
  fields.queue_id = job.id.str();
  fields.recipients = {recipient.address};
  fields.mail_from = record.mail_from;
  fields.attempt = recipient.attempts;
  fields.reply = recipient.last_reply;
  fields.remote = remote;
  fields.remote_host = peer.remote_host;
  fields.remote_ip = peer.remote_ip;
  fields.tls_version = peer.tls_version;
  fields.tls_cipher = peer.tls_cipher;
  fields.tls_verified_by = peer.tls_verified_by;
  fields.next_attempt_us = next_attempt_us;
  fields.outbound = record.outbound();
  fields.tags = record.tags;
  fields.metadata = record.metadata;
  if (classified != nullptr) {
    fields.bounce_class = std::string(bounce::className(classified->cls));
    fields.bounce_label = classified->label;
  }
  job.events.push_back(events::make(type, recipient.tenant, at_us, fields));
}

void Scheduler::onJobDone(const std::shared_ptr<Job>& job, delivery::Result result) {
  const uint64_t now = nowMicros();
  spool::MessageRecord& record = *cache_.at(job->id).record;
  job->retry_after_us = result.retry_after_s * 1000000;
  // The max age counts from acceptance, a scheduled send time or an admin's requeue, the latest.
  const uint64_t started = std::max({record.received_at_us, record.send_at_us, record.requeued_at_us});
  const uint64_t age = now > started ? now - started : 0;
  const uint64_t max_age = micros(job->retry.max_age);
  std::vector<FailedRecipient> failed;  // recipients that failed for good in this job
  spool::Batch batch;          // the outcome, written by endJob
  for (size_t k = 0; k < job->recipients.size(); ++k) {
    spool::RecipientRecord& recipient = record.recipients[job->recipients[k]];
    const delivery::RecipientResult outcome =
        k < result.recipients.size()
            ? result.recipients[k]
            : delivery::RecipientResult{delivery::Outcome::TempFail, "target returned no result"};
    if (outcome.outcome == delivery::Outcome::TempFail && outcome.held_until_us != 0) {
      // Held back by traffic shaping: not an attempt, no event; due again when the limit allows.
      recipient.next_attempt_us = std::max(outcome.held_until_us, now + 1);
      log::info(job->id.str(), "throttled").kv("to", recipient.address).kv("reason", outcome.reply)
          .kv("until", formatRfc3339(recipient.next_attempt_us, 3));
      continue;
    }
    recipient.attempts += 1;
    recipient.last_reply = outcome.reply;
    switch (outcome.outcome) {
      case delivery::Outcome::Delivered:
        recipient.state = spool::RecipientState::Delivered;
        ++delivered_;
        break;
      case delivery::Outcome::PermFail:
        recipient.state = spool::RecipientState::Failed;
        ++failed_;
        failed.push_back({job->recipients[k], outcome.remote_host});
        break;
      case delivery::Outcome::TempFail:
        ++deferred_;
        // Its own target's schedule: the next attempt, or expiry at that target's max age.
        if (age < max_age) {
          recipient.next_attempt_us =
              now + std::max(jitter(backoffMicros(job->retry, recipient.attempts)), job->retry_after_us);
        }
        break;
    }
    log::Line line(outcome.outcome == delivery::Outcome::Delivered ? log::Level::Info : log::Level::Warn,
                   job->id.str(), outcomeEvent(outcome.outcome));
    line.kv("to", recipient.address).kv("remote", result.remote).kv("attempt", recipient.attempts).kv("reply", outcome.reply);
    if (!outcome.tls_version.empty()) {
      line.kv("tls", outcome.tls_version)
          .kv("cipher", outcome.tls_cipher)
          .kv("verified_by", outcome.tls_verified_by);
    }
    std::optional<bounce::Classification> classified;
    if (outcome.outcome != delivery::Outcome::Delivered && job->config && job->config->bounce_rules) {
      classified = bounce::classify(*job->config->bounce_rules, outcome.reply,
                                    outcome.outcome == delivery::Outcome::PermFail);
      line.kv("class", bounce::className(classified->cls)).kv("label", classified->label);
    }
    // A hard bounce of a tenant's own (outbound) mail: the address goes on the tenant's
    // suppression list with the outcome.
    if (outcome.outcome == delivery::Outcome::PermFail && classified && classified->cls == bounce::Class::Hard &&
        record.outbound() &&
        spool::suppressHardBounce(store_, recipient.tenant, recipient.address, outcome.reply, job->id.str(), now,
                                  batch)) {
      log::warn(job->id.str(), "suppressed")
          .kv("tenant", recipient.tenant)
          .kv("to", recipient.address)
          .kv("label", classified->label);
    }
    const bool expires = outcome.outcome == delivery::Outcome::TempFail && age >= max_age;
    addRecipientEvent(*job, record, deliveryEventType(outcome.outcome), recipient, result.remote, now,
                      outcome.outcome == delivery::Outcome::TempFail && !expires ? recipient.next_attempt_us : 0,
                      outcome, classified ? &*classified : nullptr);
    if (expires) {
      recipient.state = spool::RecipientState::Failed;
      recipient.last_reply = std::string(kExpiredReply) + std::to_string(job->retry.max_age.count()) +
                             " s in the queue; last reply: " + recipient.last_reply;
      ++failed_;
      log::warn(job->id.str(), "expired").kv("to", recipient.address).kv("max_age", job->retry.max_age.count());
      addRecipientEvent(*job, record, "message.expired", recipient, "", now);
      failed.push_back({job->recipients[k], outcome.remote_host});
    }
  }
  if (result.endpoint_disabled && !job->recipients.empty()) {
    const std::string& tenant = record.recipients[job->recipients.front()].tenant;
    if (events::wanted(job->config.get(), tenant)) {
      events::Fields fields;
      fields.queue_id = job->id.str();
      fields.url = result.remote;
      fields.reason = "410 Gone";
      job->events.push_back(events::make("webhook.endpoint.disabled", tenant, now, fields));
    }
  }
  for (size_t i : job->recipients) {
    record.attempts = std::max(record.attempts, record.recipients[i].attempts);  // rounds, not jobs
  }
  for (const events::Event& event : job->events) {
    batch.putEvent(event.key, event.record);
  }
  if (!failed.empty()) {
    returnToSender(job->config.get(), record, failed, now, batch);
  }
  endJob(job, std::move(batch));
}

void Scheduler::deadLetter(spool::MessageRecord& record, const std::string& reason, uint64_t now) {
  record.state = spool::MessageState::Dead;
  record.dead_reason = reason;
  record.dead_at_us = now;
  dead_letters_.emplace(now, record.id);
  log::warn(record.id.str(), "dead_lettered").kv("reason", reason);
}

void Scheduler::endJob(const std::shared_ptr<Job>& job, spool::Batch batch) {
  const uint64_t now = nowMicros();
  const mail::QueueId id = job->id;
  auto entry = index_.find(id);
  releaseJob(job, entry->second);
  spool::MessageRecord& record = *cache_.at(id).record;
  entry->second.scan = record.stage == spool::Stage::Scan;
  refreshParts(entry->second, record);
  record.next_attempt_us = nextAttempt(record);
  for (const spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.state == spool::RecipientState::Pending) {
      record.last_reply = recipient.last_reply;
      break;
    }
  }
  if (entry->second.jobs > 0) {
    // Other jobs of this message are under way: record this one's outcome; the last settles it.
    batch.putMessage(record);
    writeQueued(id, std::move(batch));
    schedule(id, entry->second);
    dispatchDue();
    return;
  }
  bool sync = false;
  bool keep = false;
  if (entry->second.delete_requested) {
    batch.deleteMessage(record.id, record.body_chunks);
    quarantined_ -= deleteQuarantineEntries(record, entry->second.delete_actor, now, batch);
    sync = true;
    log::info(record.id.str(), "removed").kv("by", entry->second.delete_actor);
  } else if (const std::optional<spool::MessageState> settled = record.settledState();
             settled == spool::MessageState::Queued) {
    batch.putMessage(record);
    keep = true;
  } else if (settled == spool::MessageState::Held) {
    record.state = spool::MessageState::Held;
    if (anyExpired(record)) {
      record.dead_reason = "expired";  // dead-lettered when the quarantine lets go of it
    }
    batch.putMessage(record);
    ++held_;
    log::info(record.id.str(), "held").kv("reason", "only quarantined recipients remain");
  } else if (settled == spool::MessageState::Dead) {
    deadLetter(record, anyExpired(record) ? "expired" : "permanent failure", now);
    batch.putMessage(record);
  } else {
    batch.deleteMessage(record.id, record.body_chunks);
    log::info(record.id.str(), "done").kv("attempts", record.attempts);
  }
  if (keep) {
    writeQueued(id, std::move(batch));
    schedule(id, entry->second);
    retainCached(id);
  } else {
    // Deletes and state updates need no sync: losing one in a crash only repeats a delivery,
    // which the spool contract allows (receivers dedupe on the queue id); its events go with it.
    store_.submit(std::move(batch), sync, nullptr);
    cache_.erase(id);
    eraseFromIndex(entry);
  }
  dispatchDue();
}

void Scheduler::writeQueued(const mail::QueueId& id, spool::Batch batch) {
  ++cache_.at(id).unwritten;
  store_.submit(std::move(batch), false, [this, id](const spool::CommitStatus&) {
    control_.post([this, id] {
      auto cached = cache_.find(id);
      if (cached != cache_.end() && --cached->second.unwritten == 0 && !cached->second.body &&
          cached->second.waiting.empty() && !cached->second.reading) {
        auto entry = index_.find(id);
        if (entry == index_.end() || entry->second.jobs == 0) {
          cache_.erase(cached);
        }
      }
    });
  });
}

void Scheduler::retainCached(const mail::QueueId& id) {
  auto cached = cache_.find(id);
  if (cached == cache_.end()) {
    return;
  }
  Cached& c = cached->second;
  if (c.body && hot_bytes_ + c.body->size() <= settings_.hot_cache_bytes) {
    c.hot = true;
    hot_bytes_ += c.body->size();
    return;
  }
  c.body.reset();
  if (c.unwritten == 0) {
    cache_.erase(cached);
  }
}

void Scheduler::dropCached(const mail::QueueId& id) {
  auto cached = cache_.find(id);
  if (cached != cache_.end()) {
    hot_bytes_ -= cached->second.hot ? cached->second.body->size() : 0;
    cache_.erase(cached);
  }
}

void Scheduler::publishStats() {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.queued = index_.size();
  stats_.queued_bytes = queued_bytes_;
  stats_.active = active_;
  stats_.ready = ready_;
  stats_.dead = dead_letters_.size();
  stats_.held = held_;
  stats_.quarantined = quarantined_;
  stats_.oldest_us = index_.empty() ? 0 : index_.begin()->second.received_us;
  stats_.delivered = delivered_;
  stats_.deferred = deferred_;
  stats_.failed = failed_;
  stats_.hot_bytes = hot_bytes_;
  stats_.delivery_bytes = delivery_bytes_;
  stats_.dead_purged = dead_purged_;
  stats_.audit_purged = audit_purged_;
  stats_.dsn_queued = dsn_queued_;
  stats_.paused = paused_;
  stats_.dsn_not_sent = dsn_not_sent_;
}

QueueStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

// ---- Admin actions --------------------------------------------------------------------------

void Scheduler::list(size_t limit, ListFn done) {
  bool queued = read_lane_.submit([this, limit, done] {
    std::vector<spool::MessageRecord> records;
    store_.scanMessages([&](std::string_view, spool::DecodeStatus status, spool::MessageRecord& record,
                            std::string_view) {
      if (status == spool::DecodeStatus::Ok) {
        records.push_back(std::move(record));
      }
      return records.size() < limit;
    });
    control_.post([done, records = std::move(records)]() mutable { done(std::move(records)); });
  });
  if (!queued) {
    control_.post([done] { done({}); });
  }
}

void Scheduler::show(const mail::QueueId& id, ShowFn done) {
  bool queued = read_lane_.submit([this, id, done] {
    spool::MessageRecord record;
    std::string error;
    auto status = store_.readMessage(id, record, error);
    control_.post([this, id, done, status, record = std::move(record)]() mutable {
      auto entry = index_.find(id);
      bool active = entry != index_.end() && entry->second.jobs > 0;
      done(status == spool::Store::ReadStatus::Ok ? AdminStatus::Ok
           : status == spool::Store::ReadStatus::NotFound ? AdminStatus::NotFound
                                                            : AdminStatus::Error,
           std::move(record), active);
    });
  });
  if (!queued) {
    control_.post([done] { done(AdminStatus::Busy, {}, false); });
  }
}

void Scheduler::retry(const mail::QueueId& id, ActionFn done) {
  control_.post([this, id, done] {
    auto entry = index_.find(id);
    if (entry != index_.end()) {
      if (entry->second.jobs > 0) {
        done(AdminStatus::Busy, "a delivery attempt is under way");
        return;
      }
      const uint64_t now = nowMicros();
      for (Part& part : entry->second.parts) {
        part.due_us = part.ready ? part.due_us : now;
      }
      schedule(id, entry->second);
      log::info(id.str(), "retry_requested").kv("by", "admin");
      dispatchDue();
      done(AdminStatus::Ok, "scheduled for immediate delivery");
      return;
    }
    if (!lock(id)) {
      done(AdminStatus::Busy, "another action on this message is under way");
      return;
    }
    bool queued = read_lane_.submit([this, id, done] {
      spool::MessageRecord record;
      std::string error;
      auto status = store_.readMessage(id, record, error);
      control_.post([this, id, done, status, record = std::move(record)]() mutable {
        if (status == spool::Store::ReadStatus::NotFound) {
          unlock(id);
          done(AdminStatus::NotFound, "no such message");
          return;
        }
        if (status != spool::Store::ReadStatus::Ok || record.state != spool::MessageState::Dead) {
          unlock(id);
          done(AdminStatus::Refused, record.state == spool::MessageState::Held
                                         ? "message is held for quarantined recipients: use quarantine release"
                                         : "message is not dead-lettered and not queued");
          return;
        }
        const uint64_t now = nowMicros();
        const uint64_t dead_at = record.dead_at_us;
        record.state = spool::MessageState::Queued;
        record.dead_reason.clear();
        record.dead_at_us = 0;
        record.requeued_at_us = now;
        record.next_attempt_us = now;
        for (auto& recipient : record.recipients) {
          if (recipient.state == spool::RecipientState::Failed) {
            recipient.state = spool::RecipientState::Pending;
            recipient.next_attempt_us = 0;
          }
        }
        spool::Batch batch;
        batch.putMessage(record);
        store_.submit(std::move(batch), true, [this, done, record, dead_at](const spool::CommitStatus& status) {
          control_.post([this, done, record, dead_at, status] {
            if (!status.ok) {
              unlock(record.id);
              done(AdminStatus::Error, "spool write failed: " + status.error);
              return;
            }
            dead_letters_.erase({dead_at, record.id});
            addToIndex(record);
            log::info(record.id.str(), "requeued").kv("by", "admin");
            unlock(record.id);
            publishStats();
            done(AdminStatus::Ok, "dead letter requeued");
          });
        });
      });
    });
    if (!queued) {
      unlock(id);
      done(AdminStatus::Busy, "spool read lane is full");
    }
  });
}

void Scheduler::remove(const mail::QueueId& id, const std::string& actor, ActionFn done) {
  removeMessage(id, actor, std::nullopt, std::move(done));
}

void Scheduler::removeMessage(const mail::QueueId& id, const std::string& actor, std::optional<uint64_t> dead_before,
                              ActionFn done) {
  control_.post([this, id, actor, dead_before, done] {
    auto entry = index_.find(id);
    const bool active = entry != index_.end() && entry->second.jobs > 0;
    if (!active && !lock(id)) {
      done(AdminStatus::Busy, "another action on this message is under way");
      return;
    }
    bool queued = read_lane_.submit([this, id, actor, dead_before, done, active] {
      spool::MessageRecord record;
      std::string error;
      auto status = store_.readMessage(id, record, error);
      bool legal_hold = false;  // a quarantine entry on legal hold keeps the whole message
      if (status == spool::Store::ReadStatus::Ok) {
        for (const std::string& tenant : quarantinedTenants(record)) {
          spool::QuarantineRecord quarantined;
          legal_hold |= store_.readQuarantine(tenant, id, quarantined, error) == spool::Store::ReadStatus::Ok &&
                        quarantined.legal_hold;
        }
      }
      control_.post([this, id, actor, dead_before, done, status, active, legal_hold,
                     record = std::move(record)]() mutable {
        const auto release = [this, active, &id] {
          if (!active) {
            unlock(id);
          }
        };
        if (status != spool::Store::ReadStatus::Ok) {
          release();
          done(status == spool::Store::ReadStatus::NotFound ? AdminStatus::NotFound : AdminStatus::Error,
               status == spool::Store::ReadStatus::NotFound ? "no such message" : "cannot read message");
          return;
        }
        if (legal_hold) {
          release();
          done(AdminStatus::Refused, "a quarantine entry of this message is on legal hold; unhold it first");
          return;
        }
        if (dead_before && (record.state != spool::MessageState::Dead || record.dead_at_us > *dead_before)) {
          release();
          done(AdminStatus::Refused, "not a dead letter past its retention");
          return;
        }
        if (active) {
          auto entry = index_.find(id);
          if (entry == index_.end() || entry->second.jobs == 0) {
            done(AdminStatus::Busy, "the delivery attempt under way just ended; try again");
            return;
          }
          entry->second.delete_requested = true;
          entry->second.delete_actor = actor;
          done(AdminStatus::Accepted, "will be removed when the delivery attempt under way ends");
          return;
        }
        const uint64_t now = nowMicros();
        spool::Batch batch;
        batch.deleteMessage(record.id, record.body_chunks);
        const uint64_t entries = deleteQuarantineEntries(record, actor, now, batch);
        if (dead_before) {
          std::string tenants;
          for (const spool::RecipientRecord& recipient : record.recipients) {
            if (tenants.find(recipient.tenant) == std::string::npos) {
              tenants += (tenants.empty() ? "" : ",") + recipient.tenant;
            }
          }
          batch.putAudit(spool::AuditRecord{now, actor, "purge", tenants, record.id.str(),
                                            "dead letter kept for queue.dead_letter_retention (" +
                                                std::to_string(settings_.dead_letter_retention.count()) + " s)"});
        }
        store_.submit(std::move(batch), true,
                      [this, done, record, entries, actor, dead_before](const spool::CommitStatus& status) {
          control_.post([this, done, record, entries, actor, dead_before, status] {
            if (!status.ok) {
              unlock(record.id);
              done(AdminStatus::Error, "spool write failed: " + status.error);
              return;
            }
            auto entry = index_.find(record.id);
            if (entry != index_.end()) {
              eraseFromIndex(entry);
              dropCached(record.id);
            }
            if (record.state == spool::MessageState::Dead) {
              dead_letters_.erase({record.dead_at_us, record.id});
            }
            held_ -= record.state == spool::MessageState::Held ? 1 : 0;
            quarantined_ -= entries;
            unlock(record.id);
            if (dead_before) {
              ++dead_purged_;
              log::info(record.id.str(), "dead_letter_purged").kv("by", actor).kv("dead_reason", record.dead_reason);
            } else {
              log::info(record.id.str(), "removed").kv("by", actor);
            }
            publishStats();
            done(AdminStatus::Ok, dead_before ? "purged" : "removed");
          });
        });
      });
    });
    if (!queued) {
      if (!active) {
        unlock(id);
      }
      done(AdminStatus::Busy, "spool read lane is full");
    }
  });
}

bool Scheduler::lock(const mail::QueueId& id) {
  auto entry = index_.find(id);
  if (entry != index_.end() && entry->second.jobs > 0) {
    return false;
  }
  return locked_.insert(id).second;
}

void Scheduler::unlock(const mail::QueueId& id) {
  locked_.erase(id);
  auto entry = index_.find(id);
  if (entry != index_.end() && entry->second.jobs == 0) {
    schedule(id, entry->second);  // dispatchDue() dropped its pair and ready parts while locked
    dispatchDue();
  }
}

}  // namespace mxgate::scheduler
