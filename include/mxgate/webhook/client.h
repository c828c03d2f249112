// An asynchronous HTTP client for webhook POSTs: libcurl's multi interface driven by one
// libuv loop (CURLMOPT_SOCKETFUNCTION → uv_poll_t per socket, CURLMOPT_TIMERFUNCTION →
// uv_timer_t). Redirects are never followed; only http and https; connections are reused
// (keep-alive) within one client; every connect is checked against the address policy
// (CURLOPT_OPENSOCKETFUNCTION), so a tenant's URL cannot reach loopback or private networks
// unless its policy allows it — also when a public name resolves to a private address. Proxies
// are never used, whatever *_proxy variables the environment holds.
//
// A Client belongs to one loop: construct it anywhere, call post() and shutdown() on the
// loop thread only. done runs on the loop thread, exactly once per post().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "mxgate/io/loop.h"

namespace mxgate::webhook {

struct Request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::shared_ptr<const std::string> body;
  std::chrono::milliseconds timeout{30000};          // the whole exchange
  std::chrono::milliseconds connect_timeout{10000};
  bool allow_private = false;  // may connect to loopback, private and other non-public addresses
};

struct Response {
  int status = 0;           // HTTP status; 0 when no response arrived
  std::string error;        // transport error ("" when a response arrived)
  bool refused_address = false;  // the address policy refused every address of the host
  std::string remote;       // the peer address, when connected
  std::string body_start;   // the first bytes of the response body (at most 512)
  uint64_t retry_after_s = 0;  // Retry-After in seconds (delta form), 0 when absent
};

class Client {
 public:
  // max_connections: idle connections kept for reuse (keep-alive) and connections per host.
  Client(io::Loop& loop, uint32_t max_connections);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void post(Request request, std::function<void(Response)> done);
  // Fails every request under way (error "shutting down") and closes the handles and
  // connections. Required before the loop stops when post() was ever called.
  void shutdown();
  size_t inFlight() const { return in_flight_; }
  io::Loop& loop() { return loop_; }

  struct Transfer;
  struct Socket;

 private:
  void ensureStarted();
  void checkDone();
  static int onSocket(void* easy, int fd, int what, void* user, void* socket_data);
  static int onTimerChange(void* multi, long timeout_ms, void* user);
  static void onTimer(uv_timer_t* timer);
  static void onPoll(uv_poll_t* poll, int status, int events);

  io::Loop& loop_;
  uint32_t max_connections_;
  void* multi_ = nullptr;  // CURLM*
  uv_timer_t* timer_ = nullptr;
  std::unordered_set<Transfer*> transfers_;
  size_t in_flight_ = 0;
  bool stopped_ = false;
};

}  // namespace mxgate::webhook
