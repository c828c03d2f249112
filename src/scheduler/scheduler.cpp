// The queue manager (see include/mxgate/scheduler/scheduler.h). Runs on the control loop;
// spool reads go to the read lane; delivery results come back through the loop's inbox.
#include "mxgate/scheduler/scheduler.h"

#include <chrono>
#include <future>
#include <random>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/events/event.h"
#include "mxgate/inbound/policy.h"

namespace mxgate::scheduler {
namespace {

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

}  // namespace

struct Scheduler::Attempt {
  mail::QueueId id;
  spool::MessageRecord record;
  std::shared_ptr<const std::string> body;
  std::vector<std::vector<size_t>> jobs;  // per job: indexes into record.recipients
  size_t outstanding = 0;
  // The retry schedule: the queue's, or the shortest max age among the targets' own.
  config::QueueSettings retry;
  std::shared_ptr<const config::Config> config;  // for the tenants' event settings
  std::vector<events::Event> events;             // written with the attempt's outcome
  uint64_t retry_after_us = 0;                   // the longest Retry-After a target was given
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
  uint64_t initial = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(settings.retry_initial).count());
  uint64_t maximum = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(settings.retry_max).count());
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
      ++dead_;
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
        deadLetter(record, "permanent failure", now);
        cleanup.putMessage(record);
      } else {
        cleanup.deleteMessage(record.id, record.body_chunks);
      }
      ++finished;
      return true;
    }
    record.next_attempt_us = std::max(record.next_attempt_us, now);
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
      .kv("dead", dead_)
      .kv("held", held_)
      .kv("quarantined", quarantined_)
      .kv("finished", finished)
      .kv("corrupt", corrupt)
      .kv("orphan_bodies", orphans);
  publishStats();
  return queued;
}

void Scheduler::start() {
  uv_timer_init(control_.uv(), &timer_);
  timer_.data = this;
  uv_timer_init(control_.uv(), &purge_timer_);
  purge_timer_.data = this;
  timer_started_ = true;
  armTimer();
  armPurge();
}

void Scheduler::stop() {
  stopped_ = true;
  if (timer_started_) {
    timer_started_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&purge_timer_), nullptr);
  }
}

void Scheduler::addToIndex(const spool::MessageRecord& record) {
  Entry& entry = index_[record.id];
  entry.due_us = record.next_attempt_us;
  entry.received_us = record.received_at_us;
  entry.body_size = record.body_size;
  entry.body_chunks = record.body_chunks;
  queued_bytes_ += record.body_size;
  admission_.messageQueued(record.body_size);
  due_.emplace(entry.due_us, record.id);
}

void Scheduler::eraseFromIndex(std::map<mail::QueueId, Entry>::iterator entry) {
  queued_bytes_ -= entry->second.body_size;
  admission_.messageRemoved(entry->second.body_size);
  index_.erase(entry);
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
    if (body && hot_bytes_ + body->size() <= settings_.hot_cache_bytes) {
      hot_bytes_ += body->size();
      hot_.emplace(id, Hot{std::move(record), std::move(body)});
    }
    dispatchDue();
    publishStats();
  });
}

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
  const uint64_t now = nowMicros();
  memory_bound_ = false;
  while (active_ < settings_.max_active && !due_.empty()) {
    auto next = due_.begin();
    if (next->first > now) {
      break;
    }
    auto entry = index_.find(next->second);
    if (entry == index_.end() || entry->second.active || entry->second.due_us != next->first ||
        locked_.count(next->second) != 0) {
      due_.erase(next);  // stale: removed, already running, rescheduled, or locked (unlock() re-adds it)
      continue;
    }
    if (active_ > 0 && delivery_bytes_ + entry->second.body_size > settings_.max_delivery_memory) {
      memory_bound_ = true;  // finishAttempt() dispatches again when memory is released
      break;
    }
    mail::QueueId id = next->second;
    due_.erase(next);
    entry->second.active = true;
    ++active_;
    delivery_bytes_ += entry->second.body_size;
    auto hot = hot_.find(id);
    if (hot != hot_.end()) {
      Hot cached = std::move(hot->second);
      hot_bytes_ -= cached.body->size();
      hot_.erase(hot);
      startAttempt(id, std::move(cached.record), std::move(cached.body));
    } else {
      loadAndStart(id);
    }
  }
  armTimer();
}

void Scheduler::dropHot(const mail::QueueId& id) {
  auto hot = hot_.find(id);
  if (hot != hot_.end()) {
    hot_bytes_ -= hot->second.body ? hot->second.body->size() : 0;
    hot_.erase(hot);
  }
}

void Scheduler::loadAndStart(const mail::QueueId& id) {
  bool queued = read_lane_.submit([this, id] {
    spool::MessageRecord record;
    std::string error;
    auto body = std::make_shared<std::string>();
    auto status = store_.readMessage(id, record, error);
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
      auto entry = index_.find(id);
      if (entry == index_.end()) {
        return;
      }
      if (status == spool::Store::ReadStatus::Ok) {
        startAttempt(id, std::move(record), std::move(body));
        return;
      }
      --active_;
      delivery_bytes_ -= entry->second.body_size;
      if (status == spool::Store::ReadStatus::IoError) {
        log::error(id.str(), "spool_read_failed").kv("error", error);
        entry->second.active = false;
        entry->second.due_us = nowMicros() + backoffMicros(settings_, 1);
        due_.emplace(entry->second.due_us, id);
      } else {
        log::error(id.str(), status == spool::Store::ReadStatus::Corrupt ? "moved_to_corrupt" : "vanished")
            .kv("error", error);
        eraseFromIndex(entry);
      }
      publishStats();
      armTimer();
    });
  });
  if (!queued) {
    returnUnstarted(id, 1000000);
  }
}

void Scheduler::returnUnstarted(const mail::QueueId& id, uint64_t delay_us) {
  auto entry = index_.find(id);
  entry->second.active = false;
  --active_;
  delivery_bytes_ -= entry->second.body_size;
  entry->second.due_us = nowMicros() + delay_us;
  due_.emplace(entry->second.due_us, id);
  armTimer();
}

void Scheduler::startAttempt(const mail::QueueId& id, spool::MessageRecord record,
                             std::shared_ptr<const std::string> body) {
  if (record.stage == spool::Stage::Scan) {
    scanThenDeliver(id, std::move(record), std::move(body));
    return;
  }
  deliver(id, std::move(record), std::move(body));
}

void Scheduler::scanThenDeliver(const mail::QueueId& id, spool::MessageRecord record,
                                std::shared_ptr<const std::string> body) {
  if (inbound_.scanner == nullptr) {
    log::warn(id.str(), "scan_skipped").kv("reason", "virus scanning is not configured");
    record.stage = spool::Stage::Deliver;
    deliver(id, std::move(record), std::move(body));
    return;
  }
  auto shared_record = std::make_shared<spool::MessageRecord>(std::move(record));
  const bool queued = inbound_.scanner->scan(body, [this, id, shared_record, body](scan::ScanResult result) {
    control_.post([this, id, shared_record, body, result = std::move(result)] {
      applyScan(id, std::move(*shared_record), body, result);
    });
  });
  if (!queued) {
    log::warn(id.str(), "scan_deferred").kv("reason", "scan lane full");
    returnUnstarted(id, 1000000);
  }
}

void Scheduler::applyScan(const mail::QueueId& id, spool::MessageRecord record,
                          std::shared_ptr<const std::string> body, const scan::ScanResult& result) {
  const uint64_t now = nowMicros();
  std::shared_ptr<const config::Config> config = inbound_.config();
  inbound::Verdicts verdicts;
  verdicts.scan = result;
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
    const inbound::Decision decision = inbound::decide(verdicts, policy, config->scan.failure, false);
    for (const std::string& tag : decision.tags) {
      if (std::find(tags.begin(), tags.end(), tag) == tags.end()) {
        tags.push_back(tag);
      }
    }
    if (decision.disposition != inbound::Disposition::Quarantine) {
      continue;
    }
    const spool::QuarantineRecord entry = inbound::quarantineTenant(
        record, inbound::TenantQuarantine{recipient.tenant, decision.reason, decision.detail}, tenant, now, batch);
    ++quarantined_;
    log::warn(id.str(), "quarantined").kv("tenant", entry.tenant).kv("reason", entry.reason).kv("detail", entry.detail);
  }
  record.headers += inbound::tagHeader(tags);
  record.verdicts.virus = std::string(scan::name(result.verdict));
  record.verdicts.virus_name = result.name;
  record.stage = spool::Stage::Deliver;
  batch.putMessage(record);
  // Unsynced: losing it in a crash only repeats the scan.
  store_.submit(std::move(batch), false, nullptr);
  deliver(id, std::move(record), std::move(body));
}

void Scheduler::deliver(const mail::QueueId& id, spool::MessageRecord record, std::shared_ptr<const std::string> body) {
  auto attempt = std::make_shared<Attempt>();
  attempt->id = id;
  attempt->record = std::move(record);
  attempt->body = std::move(body);
  attempt->retry = settings_;
  if (inbound_.config) {
    attempt->config = inbound_.config();
  }

  std::vector<delivery::Target*> targets;
  std::vector<size_t> unroutable;
  auto& recipients = attempt->record.recipients;
  for (size_t i = 0; i < recipients.size(); ++i) {
    if (recipients[i].state != spool::RecipientState::Pending) {
      continue;
    }
    delivery::Target* target = resolver_(recipients[i].tenant);
    if (target == nullptr) {
      unroutable.push_back(i);
      continue;
    }
    size_t job = 0;
    while (job < targets.size() && targets[job] != target) {
      ++job;
    }
    if (job == targets.size()) {
      if (const std::optional<delivery::RetryPolicy> own = target->retryPolicy()) {
        if (targets.empty() || own->max_age < attempt->retry.max_age) {
          attempt->retry.retry_initial = own->initial;
          attempt->retry.retry_max = own->max;
          attempt->retry.max_age = own->max_age;
        }
      }
      targets.push_back(target);
      attempt->jobs.emplace_back();
    }
    attempt->jobs[job].push_back(i);
  }
  for (size_t i : unroutable) {
    recipients[i].attempts += 1;
    recipients[i].last_reply = "no delivery route for tenant " + recipients[i].tenant;
    ++deferred_;
    log::warn(id.str(), "deferred").kv("to", recipients[i].address).kv("reply", recipients[i].last_reply);
  }
  attempt->outstanding = targets.size();
  if (targets.empty()) {
    finishAttempt(attempt);
    return;
  }
  const auto shared_record = std::make_shared<const spool::MessageRecord>(attempt->record);
  for (size_t job_index = 0; job_index < targets.size(); ++job_index) {
    auto job = std::make_shared<delivery::Job>();
    job->record = shared_record;
    job->tenant = recipients[attempt->jobs[job_index].front()].tenant;
    job->id = id;
    job->mail_from = attempt->record.mail_from;
    job->headers = attempt->record.headers;
    job->body = attempt->body;
    job->smtputf8 = attempt->record.smtputf8;
    job->eightbit = attempt->record.eightbit;
    job->attempt = attempt->record.attempts + 1;
    for (size_t i : attempt->jobs[job_index]) {
      job->recipients.push_back(recipients[i].address);
    }
    targets[job_index]->deliver(job, [this, attempt, job_index](delivery::Result result) {
      control_.post([this, attempt, job_index, result = std::move(result)]() mutable {
        onJobDone(attempt, job_index, std::move(result));
      });
    });
  }
}

// A delivery event for one recipient (its outcome just recorded in recipient) when its tenant
// wants events; written with the attempt's outcome.
void Scheduler::addRecipientEvent(Attempt& attempt, std::string_view type, const spool::RecipientRecord& recipient,
                                  const std::string& remote, uint64_t at_us) {
  if (!events::wanted(attempt.config.get(), recipient.tenant)) {
    return;
  }
  events::Fields fields;
  fields.queue_id = attempt.id.str();
  fields.recipients = {recipient.address};
  fields.mail_from = attempt.record.mail_from;
  fields.attempt = recipient.attempts;
  fields.reply = recipient.last_reply;
  fields.remote = remote;
  attempt.events.push_back(events::make(type, recipient.tenant, at_us, fields));
}

void Scheduler::onJobDone(const std::shared_ptr<Attempt>& attempt, size_t job, delivery::Result result) {
  const auto& indexes = attempt->jobs[job];
  for (size_t k = 0; k < indexes.size(); ++k) {
    auto& recipient = attempt->record.recipients[indexes[k]];
    delivery::RecipientResult outcome =
        k < result.recipients.size()
            ? result.recipients[k]
            : delivery::RecipientResult{delivery::Outcome::TempFail, "target returned no result"};
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
        break;
      case delivery::Outcome::TempFail: ++deferred_; break;
    }
    log::Line line(outcome.outcome == delivery::Outcome::Delivered ? log::Level::Info : log::Level::Warn,
                   attempt->id.str(), outcomeEvent(outcome.outcome));
    line.kv("to", recipient.address).kv("remote", result.remote).kv("attempt", recipient.attempts).kv("reply", outcome.reply);
    addRecipientEvent(*attempt, deliveryEventType(outcome.outcome), recipient, result.remote, nowMicros());
  }
  attempt->retry_after_us = std::max(attempt->retry_after_us, result.retry_after_s * 1000000);
  if (result.endpoint_disabled && !indexes.empty()) {
    const std::string& tenant = attempt->record.recipients[indexes.front()].tenant;
    if (events::wanted(attempt->config.get(), tenant)) {
      events::Fields fields;
      fields.queue_id = attempt->id.str();
      fields.url = result.remote;
      fields.reason = "410 Gone";
      attempt->events.push_back(events::make("webhook.endpoint.disabled", tenant, nowMicros(), fields));
    }
  }
  if (--attempt->outstanding == 0) {
    finishAttempt(attempt);
  }
}

void Scheduler::deadLetter(spool::MessageRecord& record, const std::string& reason, uint64_t now) {
  record.state = spool::MessageState::Dead;
  record.dead_reason = reason;
  record.dead_at_us = now;
  ++dead_;
  log::warn(record.id.str(), "dead_lettered").kv("reason", reason);
}

void Scheduler::finishAttempt(const std::shared_ptr<Attempt>& attempt) {
  const uint64_t now = nowMicros();
  auto entry = index_.find(attempt->id);
  spool::MessageRecord& record = attempt->record;
  record.attempts += 1;
  --active_;
  delivery_bytes_ -= record.body_size;
  spool::Batch batch;
  bool sync = false;
  bool keep = false;
  if (entry != index_.end() && entry->second.delete_requested) {
    batch.deleteMessage(record.id, record.body_chunks);
    quarantined_ -= deleteQuarantineEntries(record, "admin", now, batch);
    sync = true;
    log::info(record.id.str(), "removed").kv("by", "admin");
  } else if (const std::optional<spool::MessageState> settled = record.settledState();
             settled != spool::MessageState::Queued) {
    if (settled == spool::MessageState::Held) {
      record.state = spool::MessageState::Held;
      batch.putMessage(record);
      ++held_;
      log::info(record.id.str(), "held").kv("reason", "only quarantined recipients remain");
    } else if (settled == spool::MessageState::Dead) {
      deadLetter(record, "permanent failure", now);
      batch.putMessage(record);
    } else {
      batch.deleteMessage(record.id, record.body_chunks);
      log::info(record.id.str(), "done").kv("attempts", record.attempts);
    }
  } else {
    uint64_t age_base = std::max(record.received_at_us, record.requeued_at_us);
    const config::QueueSettings& retry = attempt->retry;
    uint64_t max_age = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(retry.max_age).count());
    if (now - age_base >= max_age) {
      for (auto& recipient : record.recipients) {
        if (recipient.state == spool::RecipientState::Pending) {
          recipient.state = spool::RecipientState::Failed;
          recipient.last_reply = "expired after " + std::to_string(retry.max_age.count()) +
                                 " s in the queue; last reply: " + recipient.last_reply;
          ++failed_;
          addRecipientEvent(*attempt, "message.expired", recipient, "", now);
        }
      }
      if (record.hasRecipientIn(spool::RecipientState::Quarantined)) {
        record.state = spool::MessageState::Held;
        record.dead_reason = "expired";  // dead-lettered when the quarantine lets go of it
        ++held_;
      } else {
        deadLetter(record, "expired", now);
      }
      batch.putMessage(record);
    } else {
      record.next_attempt_us = now + std::max(jitter(backoffMicros(retry, record.attempts)), attempt->retry_after_us);
      for (const auto& recipient : record.recipients) {
        if (recipient.state == spool::RecipientState::Pending) {
          record.last_reply = recipient.last_reply;
          break;
        }
      }
      batch.putMessage(record);
      keep = true;
    }
  }
  for (const events::Event& event : attempt->events) {
    batch.putEvent(event.key, event.record);
  }
  // Deletes and state updates need no sync: losing one in a crash only repeats a delivery,
  // which the spool contract allows (receivers dedupe on the queue id); its events go with it.
  store_.submit(std::move(batch), sync, nullptr);
  if (entry != index_.end()) {
    if (keep) {
      entry->second.active = false;
      entry->second.due_us = record.next_attempt_us;
      due_.emplace(record.next_attempt_us, record.id);
    } else {
      eraseFromIndex(entry);
    }
  }
  publishStats();
  dispatchDue();
}

void Scheduler::publishStats() {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.queued = index_.size();
  stats_.queued_bytes = queued_bytes_;
  stats_.active = active_;
  stats_.dead = dead_;
  stats_.held = held_;
  stats_.quarantined = quarantined_;
  stats_.oldest_us = index_.empty() ? 0 : index_.begin()->second.received_us;
  stats_.delivered = delivered_;
  stats_.deferred = deferred_;
  stats_.failed = failed_;
  stats_.hot_bytes = hot_bytes_;
  stats_.delivery_bytes = delivery_bytes_;
}

QueueStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

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
      bool active = entry != index_.end() && entry->second.active;
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
      if (entry->second.active) {
        done(AdminStatus::Busy, "a delivery attempt is under way");
        return;
      }
      entry->second.due_us = nowMicros();
      due_.emplace(entry->second.due_us, id);
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
        record.state = spool::MessageState::Queued;
        record.dead_reason.clear();
        record.dead_at_us = 0;
        record.requeued_at_us = now;
        record.next_attempt_us = now;
        for (auto& recipient : record.recipients) {
          if (recipient.state == spool::RecipientState::Failed) {
            recipient.state = spool::RecipientState::Pending;
          }
        }
        spool::Batch batch;
        batch.putMessage(record);
        store_.submit(std::move(batch), true, [this, done, record](const spool::CommitStatus& status) {
          control_.post([this, done, record, status] {
            if (!status.ok) {
              unlock(record.id);
              done(AdminStatus::Error, "spool write failed: " + status.error);
              return;
            }
            --dead_;
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

void Scheduler::remove(const mail::QueueId& id, ActionFn done) {
  control_.post([this, id, done] {
    auto entry = index_.find(id);
    const bool active = entry != index_.end() && entry->second.active;
    if (!active && !lock(id)) {
      done(AdminStatus::Busy, "another action on this message is under way");
      return;
    }
    bool queued = read_lane_.submit([this, id, done, active] {
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
      control_.post([this, id, done, status, active, legal_hold, record = std::move(record)]() mutable {
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
        if (active) {
          auto entry = index_.find(id);
          if (entry == index_.end() || !entry->second.active) {
            done(AdminStatus::Busy, "the delivery attempt under way just ended; try again");
            return;
          }
          entry->second.delete_requested = true;
          done(AdminStatus::Accepted, "will be removed when the delivery attempt under way ends");
          return;
        }
        spool::Batch batch;
        batch.deleteMessage(record.id, record.body_chunks);
        const uint64_t entries = deleteQuarantineEntries(record, "admin", nowMicros(), batch);
        store_.submit(std::move(batch), true, [this, done, record, entries](const spool::CommitStatus& status) {
          control_.post([this, done, record, entries, status] {
            if (!status.ok) {
              unlock(record.id);
              done(AdminStatus::Error, "spool write failed: " + status.error);
              return;
            }
            auto entry = index_.find(record.id);
            if (entry != index_.end()) {
              eraseFromIndex(entry);
              dropHot(record.id);
            }
            dead_ -= record.state == spool::MessageState::Dead ? 1 : 0;
            held_ -= record.state == spool::MessageState::Held ? 1 : 0;
            quarantined_ -= entries;
            unlock(record.id);
            log::info(record.id.str(), "removed").kv("by", "admin");
            publishStats();
            done(AdminStatus::Ok, "removed");
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
  if (entry != index_.end() && entry->second.active) {
    return false;
  }
  return locked_.insert(id).second;
}

void Scheduler::unlock(const mail::QueueId& id) {
  locked_.erase(id);
  auto entry = index_.find(id);
  if (entry != index_.end() && !entry->second.active) {
    due_.emplace(entry->second.due_us, id);  // dispatchDue() dropped its pair while locked
    dispatchDue();
  }
}

}  // namespace mxgate::scheduler
