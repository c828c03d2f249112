// An asynchronous HTTP client for webhook POSTs and small GETs (MTA-STS policies): libcurl's multi interface driven by one
// libuv loop (CURLMOPT_SOCKETFUNCTION → uv_poll_t per socket, CURLMOPT_TIMERFUNCTION →
// uv_timer_t). Redirects are never followed; only http and https; connections are reused
// (keep-alive) within one client; every connect is checked against the address policy
// (CURLOPT_OPENSOCKETFUNCTION), so a tenant's URL cannot reach loopback or private networks
// unless its policy allows it — also when a public name resolves to a private address. Proxies
// are never used, whatever *_proxy variables the environment holds.
//
// A GET can be held to https, to an address given in advance (CURLOPT_RESOLVE, no getaddrinfo)
// and to a CA file, and keeps its whole response body up to a cap.
//
// A Client belongs to one loop: construct it anywhere, call post(), get() and shutdown() on
// the loop thread only. done runs on the loop thread, exactly once per post() or get().
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
  bool https_only = false;     // refuse http
  std::string ca_file;         // trust anchors for https; "" = the system store
  // "host:port:address" entries (CURLOPT_RESOLVE): the host is reached at that address.
  std::vector<std::string> resolve;
  // Non-zero: the whole body (Response::body) is kept, and a longer one fails the request.
  size_t max_body = 0;
};

struct Response {
  int status = 0;           // HTTP status; 0 when no response arrived
  std::string error;        // transport error ("" when a response arrived)
  bool refused_address = false;  // the address policy refused every address of the host
  bool peer_unverified = false;  // https: the server's certificate did not verify
  std::string remote;       // the peer address, when connected
  std::string body_start;   // the first bytes of the response body (at most 512)
  uint64_t retry_after_s = 0;  // Retry-After in seconds (delta form), 0 when absent
  std::string body;          // the whole body, with Request::max_body
  std::string content_type;  // the Content-Type field's value, "" when absent
};

class Client {
 public:
  // max_connections: idle connections kept for reuse (keep-alive) and connections per host.
  Client(io::Loop& loop, uint32_t max_connections);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void post(Request request, std::function<void(Response)> done);
  // A GET of request.url (request.body unused).
  void get(Request request, std::function<void(Response)> done);
  // Fails every request under way (error "shutting down") and closes the handles and
  // connections. Required before the loop stops when post() was ever called.
  void shutdown();
  size_t inFlight() const { return in_flight_; }
  io::Loop& loop() { return loop_; }

  struct Transfer;
  struct Socket;

 private:
  void ensureStarted();
  void start(Request request, bool post, std::function<void(Response)> done);
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
