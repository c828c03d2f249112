// A small HTTP/1.1 server on one loop for mxgate's internal and public endpoints: requests are
// parsed with RequestParser (bounded), handed to one asynchronous handler, and answered in
// order, one at a time per connection, with keep-alive. The handler's respond() must run on the
// same loop; a response for a connection that has gone away is dropped.
//
// Limits (RFC 9112 §9.8, §9.3 persistence): at most max_connections are served at once (one
// more is answered 503 and closed); a request head must arrive within header_timeout of its
// first byte (of the accept, for a connection's first request: a slowloris head is cut), a body
// must not stall for idle_timeout, and a connection waiting for its next request is closed
// after idle_timeout. Deadlines are checked once a second. Counters may be read on any thread.
// drain() stops accepting: idle connections close, a request under way is answered with
// "Connection: close"; counters().open reaches 0 when the last one has gone.
// Optionally TLS from the first byte (the send API's api.tls).
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mxgate/http/request_parser.h"
#include "mxgate/io/listener.h"
#include "mxgate/io/loop.h"
#include "mxgate/tls/tls.h"

namespace mxgate::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Respond = std::function<void(Response)>;
using Handler = std::function<void(const Request& request, Respond respond)>;
// The answer the server itself gives (400, 408, 413, 431, 503) with a short reason.
using ErrorFormat = std::function<Response(int status, std::string_view reason)>;

// "200 OK", "404 Not Found", ...
std::string_view statusText(int status);

struct ServerLimits {
  RequestParser::Limits request;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{15000};
  uint32_t max_connections = 1000;
};

// Relaxed atomics: written on the server's loop, read by /metrics on the control loop.
struct ServerCounters {
  std::atomic<uint64_t> open{0};             // connections being served
  std::atomic<uint64_t> refused{0};          // answered 503: max_connections reached
  std::atomic<uint64_t> header_timeouts{0};  // closed with a request head or body unfinished
  std::atomic<uint64_t> idle_timeouts{0};    // closed while waiting for the next request
};

class Connection;

class Server {
 public:
  Server(io::Loop& loop, Handler handler, ServerLimits limits);
  ~Server();

  // Before start(): every connection speaks TLS from its first byte, with the context the
  // function returns when the connection is accepted (so a reload's new certificate applies to
  // the next connections).
  void useTls(std::function<std::shared_ptr<tls::Context>()> context) { tls_ = std::move(context); }
  // Before start(): the body of the server's own error answers (default: a line of text).
  void setErrorFormat(ErrorFormat format) { error_format_ = std::move(format); }
  Response errorResponse(int status, std::string_view reason) const;
  std::shared_ptr<tls::Context> tlsContext() const { return tls_ ? tls_() : nullptr; }

  // Binds on the calling thread; the port is known afterwards (useful with port 0).
  bool bind(const std::string& address, uint16_t port, std::string& error);
  uint16_t port() const { return port_; }
  // On the loop thread.
  void start();
  void drain();
  void stop();
  const ServerCounters& counters() const { return counters_; }

  // Used by connections (loop thread).
  const Handler& handler() const { return handler_; }
  const ServerLimits& limits() const { return limits_; }
  ServerCounters& counters() { return counters_; }
  io::Loop& loop() { return loop_; }
  Connection* find(uint64_t id);
  void forget(uint64_t id);
  bool draining() const { return draining_; }

 private:
  static void onSweep(uv_timer_t* timer);
  void closeListener();
  // The connections now open, to tell each something that may close it (and erase it).
  std::vector<Connection*> openConnections() const;

  io::Loop& loop_;
  Handler handler_;
  ServerLimits limits_;
  ServerCounters counters_;
  std::function<std::shared_ptr<tls::Context>()> tls_;
  ErrorFormat error_format_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<io::Listener> listener_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_id_ = 1;
  uv_timer_t sweep_{};
  bool draining_ = false;
  bool stopping_ = false;
};

}  // namespace mxgate::http
