// The quarantine side of the scheduler (see include/mxgate/scheduler/scheduler.h): listing and
// showing entries, release (re-scan, then deliver), delete, legal hold, the purge of entries
// past their retention, and the audit log of every action. Runs on the control loop; spool
// reads run on the read lane and re-scans on the scan lane.
#include <algorithm>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/events/event.h"
#include "mxgate/scheduler/scheduler.h"

namespace mxgate::scheduler {
namespace {

constexpr size_t kMaxHeaderSection = 65536;
constexpr size_t kPurgeBatch = 1000;

// Writes record in the state its recipients leave it in, or deletes it when none is left;
// returns that state (nullopt: deleted).
std::optional<spool::MessageState> writeSettled(spool::MessageRecord& record, spool::Batch& batch) {
  const std::optional<spool::MessageState> settled = record.settledState();
  if (settled) {
    record.state = *settled;
    batch.putMessage(record);
  } else {
    batch.deleteMessage(record.id, record.body_chunks);
  }
  return settled;
}

std::string_view auditAction(QuarantineAction action) {
  switch (action) {
    case QuarantineAction::Release: return "release";
    case QuarantineAction::Delete: return "delete";
    case QuarantineAction::Hold: return "hold";
    case QuarantineAction::Unhold: return "unhold";
    case QuarantineAction::Purge: return "purge";
  }
  return "unknown";
}

enum class Lookup { Found, Missing, Ambiguous, Failed };

// On the read lane: the entry of (tenant, id); with no tenant named, the message's only entry
// (error lists the tenants when there are several).
Lookup findEntry(spool::Store& store, const std::string& tenant, const mail::QueueId& id,
                 spool::QuarantineRecord& entry, std::string& error) {
  if (!tenant.empty()) {
    switch (store.readQuarantine(tenant, id, entry, error)) {
      case spool::Store::ReadStatus::Ok: return Lookup::Found;
      case spool::Store::ReadStatus::NotFound: break;
      default: return Lookup::Failed;
    }
    error = "no quarantine entry for tenant " + tenant + " and message " + id.str();
    return Lookup::Missing;
  }
  std::vector<spool::QuarantineRecord> found;
  store.scanQuarantine("", [&](spool::QuarantineRecord& candidate) {
    if (candidate.id == id) {
      found.push_back(std::move(candidate));
    }
    return true;
  });
  if (found.empty()) {
    error = "message " + id.str() + " is not in quarantine";
    return Lookup::Missing;
  }
  if (found.size() > 1) {
    error = "message " + id.str() + " is quarantined for several tenants (";
    for (size_t i = 0; i < found.size(); ++i) {
      error += (i > 0 ? ", " : "") + found[i].tenant;
    }
    error += "): name one";
    return Lookup::Ambiguous;
  }
  entry = std::move(found.front());
  return Lookup::Found;
}

AdminStatus statusFor(Lookup lookup) {
  switch (lookup) {
    case Lookup::Found: return AdminStatus::Ok;
    case Lookup::Missing: return AdminStatus::NotFound;
    case Lookup::Ambiguous: return AdminStatus::Refused;
    case Lookup::Failed: return AdminStatus::Error;
  }
  return AdminStatus::Error;
}

std::string describeScan(const scan::ScanResult& result) {
  std::string text(scan::name(result.verdict));
  if (!result.name.empty()) {
    text += " " + result.name;
  } else if (!result.error.empty()) {
    text += " (" + result.error + ")";
  }
  return text;
}

}  // namespace

void Scheduler::quarantineList(QuarantineQuery query, QuarantineListFn done) {
  bool queued = read_lane_.submit([this, query = std::move(query), done] {
    std::vector<spool::QuarantineRecord> entries;
    store_.scanQuarantine(query.tenant, [&](spool::QuarantineRecord& entry) {
      if (query.reason.empty() || entry.reason == query.reason) {
        entries.push_back(std::move(entry));
      }
      return entries.size() < query.limit;
    });
    control_.post([done, entries = std::move(entries)]() mutable { done(std::move(entries)); });
  });
  if (!queued) {
    control_.post([done] { done({}); });
  }
}

void Scheduler::quarantineShow(const std::string& tenant, const mail::QueueId& id, QuarantineShowFn done) {
  bool queued = read_lane_.submit([this, tenant, id, done] {
    QuarantineDetail detail;
    std::string error;
    const Lookup lookup = findEntry(store_, tenant, id, detail.entry, error);
    if (lookup == Lookup::Found) {
      std::string body;
      if (store_.readMessage(id, detail.message, error) == spool::Store::ReadStatus::Ok &&
          store_.readBody(detail.message, body, error) == spool::Store::ReadStatus::Ok) {
        const size_t end = body.find("\r\n\r\n");
        detail.header_section = detail.message.headers + body.substr(0, end == std::string::npos ? body.size() : end + 2);
        detail.header_section.resize(std::min(detail.header_section.size(), kMaxHeaderSection));
      }
      const std::string text = id.str();
      store_.scanAudit(id.micros(), false, [&](std::string_view, spool::AuditRecord& record) {
        if (record.id == text) {
          detail.audit.push_back(std::move(record));
        }
        return true;
      });
    }
    control_.post([done, lookup, error, detail = std::move(detail)]() mutable {
      done(statusFor(lookup), lookup == Lookup::Found ? std::string() : error, std::move(detail));
    });
  });
  if (!queued) {
    control_.post([done] { done(AdminStatus::Busy, "spool read lane is full", {}); });
  }
}

void Scheduler::auditList(size_t limit, AuditFn done) {
  bool queued = read_lane_.submit([this, limit, done] {
    std::vector<spool::AuditRecord> records;
    store_.scanAudit(0, true, [&](std::string_view, spool::AuditRecord& record) {
      records.push_back(std::move(record));
      return records.size() < limit;
    });
    control_.post([done, records = std::move(records)]() mutable { done(std::move(records)); });
  });
  if (!queued) {
    control_.post([done] { done({}); });
  }
}

void Scheduler::quarantineAct(QuarantineAction action, const std::string& tenant, const mail::QueueId& id,
                              const std::string& actor, bool force, ActionFn done) {
  control_.post([this, action, tenant, id, actor, force, done] {
    if (!lock(id)) {
      done(AdminStatus::Busy, "a delivery attempt or another action on this message is under way; try again");
      return;
    }
    const bool rescan = action == QuarantineAction::Release && inbound_.scanner != nullptr;
    readQuarantined(tenant, id, rescan, done, [this, action, id, actor, force, rescan, done](Quarantined found) {
      switch (action) {
        case QuarantineAction::Hold:
        case QuarantineAction::Unhold: setHold(std::move(found), actor, action == QuarantineAction::Hold, done); return;
        case QuarantineAction::Delete:
        case QuarantineAction::Purge: discard(std::move(found), actor, action, done); return;
        case QuarantineAction::Release: break;
      }
      if (!found.message_found) {
        unlock(id);
        done(AdminStatus::Error, "the message is no longer in the spool; delete the entry");
        return;
      }
      if (!rescan) {
        release(std::move(found), actor, force, std::nullopt, done);
        return;
      }
      auto shared = std::make_shared<Quarantined>(std::move(found));
      const bool queued = inbound_.scanner->scan(shared->body, [this, shared, actor, force, done](scan::ScanResult result) {
        control_.post([this, shared, actor, force, done, result = std::move(result)] {
          release(std::move(*shared), actor, force, result, done);
        });
      });
      if (!queued) {
        unlock(id);
        done(AdminStatus::Busy, "the scan lane is full; try again");
      }
    });
  });
}

void Scheduler::readQuarantined(const std::string& tenant, const mail::QueueId& id, bool with_body, ActionFn done,
                                std::function<void(Quarantined)> apply) {
  bool queued = read_lane_.submit([this, tenant, id, with_body, done, apply] {
    Quarantined found;
    std::string error;
    Lookup lookup = findEntry(store_, tenant, id, found.entry, error);
    if (lookup == Lookup::Found) {
      found.message_found = store_.readMessage(id, found.message, error) == spool::Store::ReadStatus::Ok;
      if (found.message_found && with_body) {
        auto body = std::make_shared<std::string>();
        if (store_.readBody(found.message, *body, error) != spool::Store::ReadStatus::Ok) {
          lookup = Lookup::Failed;
          error = "cannot read the message body: " + error;
        }
        found.body = std::move(body);
      }
    }
    control_.post([this, id, done, apply, lookup, error, found = std::move(found)]() mutable {
      if (lookup != Lookup::Found) {
        unlock(id);
        done(statusFor(lookup), error);
        return;
      }
      apply(std::move(found));
    });
  });
  if (!queued) {
    unlock(id);
    done(AdminStatus::Busy, "spool read lane is full");
  }
}

void Scheduler::release(Quarantined found, const std::string& actor, bool force, std::optional<scan::ScanResult> rescan,
                        ActionFn done) {
  const uint64_t now = nowMicros();
  const spool::QuarantineRecord& entry = found.entry;
  spool::MessageRecord& record = found.message;
  if (rescan && rescan->verdict != scan::Verdict::Clean && !force) {
    const std::string why = "the re-scan says " + describeScan(*rescan);
    spool::Batch audit;
    audit.putAudit(spool::AuditRecord{now, actor, "release_refused", entry.tenant, record.id.str(), why});
    store_.submit(std::move(audit), false, nullptr);
    log::warn(record.id.str(), "quarantine_release_refused").kv("tenant", entry.tenant).kv("by", actor).kv("why", why);
    unlock(record.id);
    done(AdminStatus::Refused, why + "; release with force to deliver it anyway");
    return;
  }
  AdminChange change;
  change.id = record.id;
  change.message_changed = true;
  change.before = record.state;
  size_t released = 0;
  for (spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.tenant == entry.tenant && recipient.state == spool::RecipientState::Quarantined) {
      recipient.state = spool::RecipientState::Pending;
      recipient.next_attempt_us = 0;  // due with the message, now
      recipient.last_reply = "released from quarantine by " + actor;
      ++released;
    }
  }
  std::string detail = rescan ? "re-scan: " + describeScan(*rescan) : std::string("not re-scanned (no scanner)");
  if (force) {
    detail += "; forced";
  }
  if (rescan) {
    record.verdicts.virus = std::string(scan::name(rescan->verdict));
    record.verdicts.virus_name = rescan->name;
  }
  record.stage = spool::Stage::Deliver;
  record.requeued_at_us = now;  // the maximum age counts from the release
  record.next_attempt_us = now;
  change.after = writeSettled(record, change.batch);  // deleted if nothing was left to release
  change.batch.deleteQuarantine(entry.tenant, record.id);
  change.batch.putAudit(spool::AuditRecord{now, actor, "release", entry.tenant, record.id.str(), detail});
  if (inbound_.config && events::wanted(inbound_.config().get(), entry.tenant)) {
    events::Fields fields;
    fields.queue_id = record.id.str();
    fields.recipients = entry.recipients;
    fields.mail_from = record.mail_from;
    fields.reason = entry.reason;
    fields.detail = actor + ": " + detail;
    const events::Event event = events::make("message.released", entry.tenant, now, fields);
    change.batch.putEvent(event.key, event.record);
  }
  change.quarantine_delta = -1;
  change.detail = "released to " + std::to_string(released) + " recipient(s); " + detail;
  log::info(record.id.str(), "quarantine_released").kv("tenant", entry.tenant).kv("by", actor).kv("detail", detail);
  change.record = std::move(record);
  commitAdminChange(std::move(change), std::move(done));
}

void Scheduler::discard(Quarantined found, const std::string& actor, QuarantineAction action, ActionFn done) {
  const uint64_t now = nowMicros();
  const spool::QuarantineRecord& entry = found.entry;
  if (entry.legal_hold) {  // a legal hold keeps the entry until it is lifted, whoever asks
    unlock(entry.id);
    done(AdminStatus::Refused, "on legal hold; unhold it first");
    return;
  }
  if (action == QuarantineAction::Purge && entry.expires_at_us > now) {
    unlock(entry.id);
    done(AdminStatus::Refused, "not expired");
    return;
  }
  AdminChange change;
  change.id = entry.id;
  change.quarantine_delta = -1;
  change.batch.deleteQuarantine(entry.tenant, entry.id);
  std::string detail = entry.reason + ": " + entry.detail;
  if (found.message_found) {
    spool::MessageRecord& record = found.message;
    change.message_changed = true;
    change.before = record.state;
    const std::string reply = action == QuarantineAction::Purge ? "purged from quarantine after its retention"
                                                                 : "deleted from quarantine by " + actor;
    for (spool::RecipientRecord& recipient : record.recipients) {
      if (recipient.tenant == entry.tenant && recipient.state == spool::RecipientState::Quarantined) {
        recipient.state = spool::RecipientState::Discarded;
        recipient.last_reply = reply;
      }
    }
    if (record.settledState() == spool::MessageState::Dead) {
      record.dead_reason = record.dead_reason.empty() ? "permanent failure" : record.dead_reason;
      record.dead_at_us = now;
    }
    change.after = writeSettled(record, change.batch);
    change.record = std::move(record);
  } else {
    detail += " (the message was no longer in the spool)";
  }
  change.batch.putAudit(
      spool::AuditRecord{now, actor, std::string(auditAction(action)), entry.tenant, entry.id.str(), detail});
  change.detail = action == QuarantineAction::Purge ? "purged" : "deleted";
  log::info(entry.id.str(), action == QuarantineAction::Purge ? "quarantine_purged" : "quarantine_deleted")
      .kv("tenant", entry.tenant)
      .kv("by", actor);
  commitAdminChange(std::move(change), std::move(done));
}

void Scheduler::setHold(Quarantined found, const std::string& actor, bool hold, ActionFn done) {
  spool::QuarantineRecord& entry = found.entry;
  AdminChange change;
  change.id = entry.id;
  if (entry.legal_hold == hold) {
    unlock(entry.id);
    done(AdminStatus::Ok, hold ? "already on legal hold" : "not on legal hold");
    return;
  }
  entry.legal_hold = hold;
  change.batch.putQuarantine(entry);
  change.batch.putAudit(spool::AuditRecord{nowMicros(), actor, hold ? "hold" : "unhold", entry.tenant, entry.id.str(),
                                           hold ? "legal hold: never purged until unheld" : "legal hold lifted"});
  change.detail = hold ? "on legal hold" : "legal hold lifted";
  log::info(entry.id.str(), hold ? "quarantine_hold" : "quarantine_unhold").kv("tenant", entry.tenant).kv("by", actor);
  commitAdminChange(std::move(change), std::move(done));
}

void Scheduler::commitAdminChange(AdminChange change, ActionFn done) {
  auto shared = std::make_shared<AdminChange>(std::move(change));
  store_.submit(std::move(shared->batch), true, [this, shared, done](const spool::CommitStatus& status) {
    control_.post([this, shared, done, status] {
      AdminChange& change = *shared;
      if (!status.ok) {
        unlock(change.id);
        done(AdminStatus::Error, "spool write failed: " + status.error);
        return;
      }
      quarantined_ = static_cast<uint64_t>(static_cast<int64_t>(quarantined_) + change.quarantine_delta);
      if (change.message_changed) {
        held_ -= change.before == spool::MessageState::Held ? 1 : 0;
        held_ += change.after == spool::MessageState::Held ? 1 : 0;
        if (change.after == spool::MessageState::Dead) {
          dead_letters_.emplace(change.record.dead_at_us, change.id);
        }
        auto entry = index_.find(change.id);
        dropCached(change.id);  // the cached record is out of date
        if (change.after == spool::MessageState::Queued) {
          if (entry == index_.end()) {
            addToIndex(change.record);
          } else {
            entry->second.scan = change.record.stage == spool::Stage::Scan;
            refreshParts(entry->second, change.record);
            schedule(change.id, entry->second);
          }
        } else if (entry != index_.end()) {
          eraseFromIndex(entry);
        }
      }
      unlock(change.id);
      publishStats();
      done(AdminStatus::Ok, change.detail);
    });
  });
}

void Scheduler::armPurge() {
  startPurgeTimer(purge_timer_, settings_.quarantine_purge_interval,
                  [](uv_timer_t* timer) { static_cast<Scheduler*>(timer->data)->purgeExpired(); });
}

void Scheduler::purgeExpired() {
  if (purging_ || stopped_) {
    return;
  }
  purging_ = true;
  bool queued = read_lane_.submit([this] {
    const uint64_t now = nowMicros();
    std::vector<std::pair<std::string, mail::QueueId>> expired;
    store_.scanQuarantine("", [&](spool::QuarantineRecord& entry) {
      if (!entry.legal_hold && entry.expires_at_us <= now) {
        expired.emplace_back(entry.tenant, entry.id);
      }
      return expired.size() < kPurgeBatch;
    });
    control_.post([this, expired = std::move(expired)] {
      if (expired.empty()) {
        purging_ = false;
        armPurge();
        return;
      }
      auto remaining = std::make_shared<size_t>(expired.size());
      for (const auto& [tenant, id] : expired) {
        quarantineAct(QuarantineAction::Purge, tenant, id, "system", false,
                      [this, remaining, id = id](AdminStatus status, const std::string& detail) {
                        if (status != AdminStatus::Ok && status != AdminStatus::NotFound) {
                          log::warn(id.str(), "quarantine_purge_skipped").kv("why", detail);
                        }
                        if (--*remaining == 0) {
                          purging_ = false;
                          armPurge();
                        }
                      });
      }
    });
  });
  if (!queued) {
    purging_ = false;
    armPurge();
  }
}

}  // namespace mxgate::scheduler
