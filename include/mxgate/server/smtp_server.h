// The SMTP listeners of the node. bind() opens one SO_REUSEPORT socket per listener per
// worker loop on the starting thread (so address errors surface at start-up); start() hands
// each loop its sockets. A LoopServer owns the sessions of one loop, keeps the id -> session
// registry used by completions, and sweeps timeouts once a second.
//
// A drain (node drain, SIGTERM) closes the listeners and lets each session finish the message
// it is receiving: a session in DATA or BDAT, or waiting for its commit, answers that message
// (its 250 is real) and then says 421 and closes; every other session says 421 at once. stop()
// ends what is left: content still arriving is discarded and the client told 421.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxgate/io/listener.h"
#include "mxgate/io/loop.h"
#include "mxgate/server/connection_limits.h"
#include "mxgate/server/runtime.h"

namespace mxgate::server {

class Session;

// Counters read by /metrics (relaxed atomics, any thread).
struct ServerCounters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> refused_connections{0};
  std::atomic<uint64_t> accepted_messages{0};
  std::atomic<uint64_t> accepted_bytes{0};
  std::atomic<uint64_t> rejected_messages{0};
  std::atomic<uint64_t> tempfailed_messages{0};
  std::atomic<uint64_t> rejected_recipients{0};
  std::atomic<uint64_t> protocol_errors{0};
  // Arriving header fields removed as forged: Authentication-Results naming one of our
  // authserv-ids, and X-Mxgate-* fields.
  std::atomic<uint64_t> removed_auth_results{0};
  std::atomic<uint64_t> removed_own_fields{0};
};

class LoopServer {
 public:
  LoopServer(io::Loop& loop, Runtime& runtime, ConnectionLimits& limits, ServerCounters& counters,
             uint32_t loop_index);
  ~LoopServer();

  io::Loop& loop() { return loop_; }
  Runtime& runtime() { return runtime_; }
  ConnectionLimits& limits() { return limits_; }
  ServerCounters& counters() { return counters_; }

  // On the loop thread.
  void addListener(int fd, const config::Listener& listener);
  void start();
  void drain();
  void stop();
  Session* find(uint64_t id);
  void forget(uint64_t id);

 private:
  struct Bound {
    config::Listener config;
    std::unique_ptr<io::Listener> listener;
  };
  void onConnection(uv_stream_t* server, const config::Listener& listener);
  void closeListeners();
  // The sessions now open, to tell each something that may close it (and erase it from sessions_).
  std::vector<Session*> openSessions() const;
  static void onSweep(uv_timer_t* timer);

  io::Loop& loop_;
  Runtime& runtime_;
  ConnectionLimits& limits_;
  ServerCounters& counters_;
  uint64_t next_id_;
  std::vector<std::unique_ptr<Bound>> listeners_;
  std::unordered_map<uint64_t, Session*> sessions_;
  uv_timer_t sweep_{};
  bool listening_ = true;
  bool stopping_ = false;
};

class SmtpServer {
 public:
  SmtpServer(Runtime& runtime, std::vector<io::Loop*> loops);
  ~SmtpServer();

  // Opens every listener on every loop (main thread). False with error on failure.
  bool bind(std::string& error);
  // Hands the sockets to the loops and starts accepting.
  void start();
  // Posts a drain to every loop: listeners close, sessions finish the message they are
  // receiving, then get 421. Thread-safe.
  void drain();
  // Posts the shutdown to every loop (listeners close, sessions get 421).
  void stop();

  ServerCounters& counters() { return counters_; }
  ConnectionLimits& limits() { return limits_; }
  // The port each listener bound to (index = config listener order); useful with port 0.
  const std::vector<uint16_t>& boundPorts() const { return bound_ports_; }

 private:
  Runtime& runtime_;
  std::vector<io::Loop*> loops_;
  ConnectionLimits limits_;
  ServerCounters counters_;
  std::vector<std::unique_ptr<LoopServer>> servers_;
  std::vector<std::vector<int>> fds_;  // [loop][listener]
  std::vector<uint16_t> bound_ports_;
};

}  // namespace mxgate::server
