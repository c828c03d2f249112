// A node drain (SIGTERM, SIGINT, `mxgate drain`): the SMTP listeners and the send API stop
// taking connections; SMTP sessions finish the message they are receiving (its 250 is real) and
// then get 421, the send API answers the requests under way, and the deliveries under way finish
// and record their outcomes; then the node stops. With until_empty the queue is delivered first
// (everything queued is due at once; a node being decommissioned). The drain ends when that is
// done or at its limit (node.shutdown_timeout, or the request's timeout; until_empty has none
// unless asked); what is left then stays in the spool for the next start. A second request
// changes the mode and the limit; a second SIGTERM stops at once (Node::run).
//
// The main thread drives it (poll() once per tick); request() and status() are thread-safe: the
// admin API calls them on the control loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "mxgate/admin/api.h"

namespace mxgate::app {

class Drain {
 public:
  struct Progress {
    uint64_t sessions = 0;  // SMTP sessions and send API connections open
    uint64_t active = 0;    // deliveries (and scans, spool reads for them) under way
    uint64_t queued = 0;    // messages in the queue
    bool paused = false;    // the queue has taken a drain's pause: no job starts any more
  };
  struct Hooks {
    // Main thread: closes the listeners and pauses the queue, or (deliver_queue) makes it all due.
    std::function<void(bool deliver_queue)> begin;
    // Any thread.
    std::function<Progress()> progress;
  };

  Drain(Hooks hooks, std::chrono::milliseconds default_timeout);

  // Thread-safe: the drain starts (or changes) at the main thread's next poll().
  void request(bool until_empty, std::optional<std::chrono::milliseconds> timeout, const std::string& actor);
  // Thread-safe.
  admin::DrainStatus status() const;
  // Main thread: the limit a SIGTERM's drain gets (node.shutdown_timeout as now configured).
  void setDefaultTimeout(std::chrono::milliseconds timeout);
  // Main thread, once per tick: starts what was requested; true when the node should stop now
  // (drained, or the limit has passed: both logged).
  bool poll();
  bool draining() const;

 private:
  struct Request {
    bool until_empty = false;
    std::optional<std::chrono::milliseconds> timeout;
    std::string actor;
  };
  static uint64_t nowMs();

  Hooks hooks_;
  mutable std::mutex mutex_;
  std::chrono::milliseconds default_timeout_;
  std::optional<Request> pending_;
  bool draining_ = false;
  bool until_empty_ = false;
  uint64_t started_ms_ = 0;
  std::optional<uint64_t> deadline_ms_;
};

}  // namespace mxgate::app
