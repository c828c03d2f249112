// Retention of what the spool keeps for people rather than for delivery (see
// include/mxgate/scheduler/scheduler.h): dead letters older than queue.dead_letter_retention
// and audit records older than queue.audit_retention are purged every queue.purge_interval,
// except what a legal hold protects (a message with a quarantine entry on hold, and its audit
// records). Each purged dead letter gets an audit record and a log line; each audit purge
// leaves one audit record and one log line saying how many went. Runs on the control loop;
// the scans run on the read lane.
#include <algorithm>
#include <unordered_set>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/scheduler/scheduler.h"

namespace mxgate::scheduler {
namespace {

// Work per purge round; a full round starts the next one at once.
constexpr size_t kPurgeBatch = 1000;

uint64_t retentionMicros(std::chrono::seconds retention) { return static_cast<uint64_t>(retention.count()) * 1000000; }

}  // namespace

void Scheduler::startPurgeTimer(uv_timer_t& timer, std::chrono::seconds interval, uv_timer_cb purge) {
  if (!timer_started_ || stopped_) {
    return;
  }
  const auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(interval);
  uv_timer_start(&timer, purge, static_cast<uint64_t>(milliseconds.count()), 0);
}

void Scheduler::armRetentionPurge() {
  startPurgeTimer(retention_timer_, settings_.purge_interval,
                  [](uv_timer_t* timer) { static_cast<Scheduler*>(timer->data)->purgeRetained(); });
}

void Scheduler::purgeRetained() {
  if (retention_purging_ || stopped_) {
    return;
  }
  retention_purging_ = true;
  const uint64_t now = nowMicros();
  const uint64_t dead_before = now - std::min(now, retentionMicros(settings_.dead_letter_retention));
  const uint64_t audit_before = now - std::min(now, retentionMicros(settings_.audit_retention));
  std::vector<mail::QueueId> dead;
  for (auto it = dead_letters_.begin(); it != dead_letters_.end() && it->first <= dead_before; ++it) {
    dead.push_back(it->second);
  }
  const bool queued = read_lane_.submit([this, dead = std::move(dead), dead_before, audit_before]() mutable {
    std::unordered_set<std::string> held;  // queue ids with a quarantine entry on legal hold
    store_.scanQuarantine("", [&held](spool::QuarantineRecord& entry) {
      if (entry.legal_hold) {
        held.insert(entry.id.str());
      }
      return true;
    });
    std::erase_if(dead, [&held](const mail::QueueId& id) { return held.count(id.str()) != 0; });
    bool more = dead.size() > kPurgeBatch;
    dead.resize(std::min(dead.size(), kPurgeBatch));
    std::vector<std::string> keys;
    size_t kept = 0;
    store_.scanAudit(0, false, [&](std::string_view key, spool::AuditRecord& record) {
      if (record.at_us >= audit_before) {
        return false;
      }
      if (held.count(record.id) != 0) {
        ++kept;
      } else {
        keys.emplace_back(key);
      }
      return keys.size() < kPurgeBatch;
    });
    more = more || keys.size() == kPurgeBatch;
    control_.post([this, dead = std::move(dead), keys = std::move(keys), kept, more, dead_before,
                   audit_before]() mutable {
      if (kept > 0) {
        log::info("-", "audit_retention_held").kv("records", kept).kv("why", "their messages are on legal hold");
      }
      // One more round at once when this one was full and went well; else at the next interval.
      auto remaining = std::make_shared<size_t>(dead.size() + 1);
      auto again = std::make_shared<bool>(more);
      auto finished = [this, remaining, again](bool ok) {
        *again = *again && ok;
        if (--*remaining != 0) {
          return;
        }
        retention_purging_ = false;
        if (*again) {
          purgeRetained();
        } else {
          armRetentionPurge();
        }
      };
      for (const mail::QueueId& id : dead) {
        removeMessage(id, "system", dead_before, [id, finished](AdminStatus status, const std::string& detail) {
          if (status != AdminStatus::Ok && status != AdminStatus::NotFound) {
            log::warn(id.str(), "dead_letter_purge_skipped").kv("why", detail);
          }
          finished(status == AdminStatus::Ok || status == AdminStatus::NotFound);
        });
      }
      purgeAudit(std::move(keys), audit_before, finished);
    });
  });
  if (!queued) {
    retention_purging_ = false;
    armRetentionPurge();
  }
}

void Scheduler::purgeAudit(std::vector<std::string> keys, uint64_t before_us, std::function<void(bool ok)> done) {
  if (keys.empty()) {
    done(true);
    return;
  }
  const uint64_t now = nowMicros();
  spool::Batch batch;
  for (const std::string& key : keys) {
    batch.deleteAudit(key);
  }
  const std::string detail = std::to_string(keys.size()) + " audit records written before " +
                             formatRfc3339(before_us, 0) + " removed after queue.audit_retention (" +
                             std::to_string(settings_.audit_retention.count()) + " s)";
  batch.putAudit(spool::AuditRecord{now, "system", "purge", "", "", detail});
  const size_t count = keys.size();
  store_.submit(std::move(batch), true, [this, count, detail, done](const spool::CommitStatus& status) {
    control_.post([this, count, detail, done, status] {
      if (status.ok) {
        audit_purged_ += count;
        log::info("-", "audit_purged").kv("records", count).kv("detail", detail);
      } else {
        log::error("-", "audit_purge_failed").kv("error", status.error);
      }
      publishStats();
      done(status.ok);
    });
  });
}

}  // namespace mxgate::scheduler
