// The node drain (see src/app/drain.h). poll() and setDefaultTimeout() on the main thread;
// request() and status() on any thread.
#include "drain.h"

#include "mxgate/base/log.h"

namespace mxgate::app {

Drain::Drain(Hooks hooks, std::chrono::milliseconds default_timeout)
    : hooks_(std::move(hooks)), default_timeout_(default_timeout) {}

uint64_t Drain::nowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void Drain::request(bool until_empty, std::optional<std::chrono::milliseconds> timeout, const std::string& actor) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_ = Request{until_empty, timeout, actor};
}

void Drain::setDefaultTimeout(std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_timeout_ = timeout;
}

bool Drain::draining() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return draining_;
}

admin::DrainStatus Drain::status() const {
  admin::DrainStatus status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status.draining = draining_ || pending_.has_value();
    status.until_empty = pending_ ? pending_->until_empty : until_empty_;
    if (draining_ && deadline_ms_) {
      const uint64_t now = nowMs();
      status.remaining_ms = *deadline_ms_ > now ? *deadline_ms_ - now : 0;
    }
  }
  const Progress progress = hooks_.progress();
  status.sessions = progress.sessions;
  status.active = progress.active;
  status.queued = progress.queued;
  return status;
}

bool Drain::poll() {
  const uint64_t now = nowMs();
  std::optional<Request> next;
  bool until_empty = false;
  std::optional<uint64_t> deadline;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    next.swap(pending_);
    if (next) {
      if (!draining_) {
        started_ms_ = now;
      }
      draining_ = true;
      until_empty_ = next->until_empty;
      if (next->timeout) {
        deadline_ms_ = now + static_cast<uint64_t>(next->timeout->count());
      } else if (next->until_empty) {
        deadline_ms_.reset();
      } else {
        deadline_ms_ = now + static_cast<uint64_t>(default_timeout_.count());
      }
    }
    if (!draining_) {
      return false;
    }
    until_empty = until_empty_;
    deadline = deadline_ms_;
  }
  if (next) {
    {
      log::Line line(log::Level::Info, "-", "draining");
      line.kv("mode", until_empty ? "until_empty" : "finish").kv("actor", next->actor);
      if (deadline) {
        line.kv("timeout_ms", *deadline - now);
      }
    }
    hooks_.begin(until_empty);
  }
  const Progress progress = hooks_.progress();
  const bool done = until_empty ? progress.queued == 0 : progress.paused;
  if (done && progress.sessions == 0 && progress.active == 0) {
    log::info("-", "drained").kv("ms", now - started_ms_).kv("queued", progress.queued);
    return true;
  }
  if (deadline && now >= *deadline) {
    log::warn("-", "drain_timeout")
        .kv("sessions", progress.sessions)
        .kv("active", progress.active)
        .kv("queued", progress.queued)
        .kv("kept", "queued mail stays in the spool for the next start");
    return true;
  }
  return false;
}

}  // namespace mxgate::app
