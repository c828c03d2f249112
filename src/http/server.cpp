// Small HTTP/1.1 server with connection cap and timeouts (see include/mxgate/http/server.h).
// Loop thread only, except bind() and reading the counters.
#include "mxgate/http/server.h"

#include <unistd.h>

#include "mxgate/io/stream.h"

namespace mxgate::http {

std::string_view statusText(int status) {
  switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 202: return "202 Accepted";
    case 204: return "204 No Content";
    case 302: return "302 Found";
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 408: return "408 Request Timeout";
    case 409: return "409 Conflict";
    case 410: return "410 Gone";
    case 413: return "413 Content Too Large";
    case 415: return "415 Unsupported Media Type";
    case 422: return "422 Unprocessable Content";
    case 429: return "429 Too Many Requests";
    case 431: return "431 Request Header Fields Too Large";
    case 503: return "503 Service Unavailable";
    default: return "500 Internal Server Error";
  }
}

class Connection : public io::Stream::Handler {
 public:
  Connection(Server& server, uint64_t id)
      : server_(server), id_(id), stream_(server.loop(), *this), parser_(server.limits().request) {}

  // Accepts the pending connection: served when admitted, else answered 503 and closed.
  void start(uv_stream_t* listener, bool admitted) {
    if (stream_.accept(listener) != 0) {
      stream_.close();
      return;
    }
    if (!admitted) {
      server_.counters().refused.fetch_add(1, std::memory_order_relaxed);
      send(server_.errorResponse(503, "too many connections"), false);
      return;
    }
    admitted_ = true;
    server_.counters().open.fetch_add(1, std::memory_order_relaxed);
    if (std::shared_ptr<tls::Context> context = server_.tlsContext()) {
      stream_.startTls(std::move(context), tls::Session::Role::Server);
    }
    phase_ = Phase::Request;
    deadline_ms_ = server_.loop().now() + millis(server_.limits().header_timeout);
    stream_.startReading();
  }

  void close() { stream_.close(); }

  // The server drains: a connection without a request under way closes now; one with a request
  // closes once it is answered.
  void drain() {
    if (phase_ == Phase::Idle || (phase_ == Phase::Request && !request_bytes_)) {
      stream_.close();
      return;
    }
    keep_alive_ = false;
  }

  // Called once a second by the server: a request that has not arrived in time, or a
  // connection idle for too long, is closed.
  void checkTimeout(uint64_t now_ms) {
    if (phase_ == Phase::Busy || now_ms < deadline_ms_ || stream_.closing()) {
      return;
    }
    if (phase_ == Phase::Idle) {
      server_.counters().idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      stream_.close();
      return;
    }
    server_.counters().header_timeouts.fetch_add(1, std::memory_order_relaxed);
    if (!request_bytes_) {
      stream_.close();  // not a byte of a request: nothing to answer
      return;
    }
    send(server_.errorResponse(408, "request timeout"), false);
  }

  void onStreamData(std::string_view data) override {
    const uint64_t now = server_.loop().now();
    if (phase_ == Phase::Idle) {
      phase_ = Phase::Request;
      deadline_ms_ = now + millis(server_.limits().header_timeout);
    }
    in_.append(data);
    request_bytes_ = true;
    const RequestParser::Limits& limits = server_.limits().request;
    if (in_.size() > limits.max_header_bytes + limits.max_body_bytes + 4096) {
      send(server_.errorResponse(413, "request too large"), false);
      return;
    }
    processNext();
    if (phase_ == Phase::Request && parser_.inBody()) {
      deadline_ms_ = now + millis(server_.limits().idle_timeout);  // a body must keep arriving
    }
  }

  void onStreamEnd(std::string_view) override { stream_.close(); }
  void onStreamClosed() override {
    if (admitted_) {
      server_.counters().open.fetch_sub(1, std::memory_order_relaxed);
    }
    server_.forget(id_);
    delete this;
  }

 private:
  // Request: a request (or its first byte) is awaited or arriving, by deadline_ms_. Busy: the
  // handler is answering; no deadline. Idle: between requests, closed at deadline_ms_.
  enum class Phase { Request, Busy, Idle };

  static uint64_t millis(std::chrono::milliseconds duration) { return static_cast<uint64_t>(duration.count()); }

  // One request at a time: the next is parsed only after the current one is answered.
  void processNext() {
    if (phase_ == Phase::Busy || in_.empty() || stream_.closing()) {
      return;
    }
    size_t consumed = 0;
    Request request;
    auto status = parser_.feed(in_, consumed, request);
    in_.erase(0, consumed);
    if (status == RequestParser::Status::NeedMore) {
      return;
    }
    phase_ = Phase::Busy;
    if (status == RequestParser::Status::Error) {
      send(server_.errorResponse(parser_.errorStatus(), "bad request"), false);
      return;
    }
    keep_alive_ = request.keep_alive && !server_.draining();
    request.peer = stream_.peerAddress();
    Server* server = &server_;
    uint64_t id = id_;
    server_.handler()(request, [server, id](Response response) {
      if (Connection* connection = server->find(id)) {
        connection->send(std::move(response), connection->keep_alive_);
        connection->awaitNext();
      }
    });
  }

  // The response is out: wait for the next request (its head may already be buffered).
  void awaitNext() {
    if (stream_.closing() || !keep_alive_) {
      return;
    }
    const uint64_t now = server_.loop().now();
    const ServerLimits& limits = server_.limits();
    phase_ = in_.empty() ? Phase::Idle : Phase::Request;
    request_bytes_ = !in_.empty();
    deadline_ms_ = now + millis(phase_ == Phase::Idle ? limits.idle_timeout : limits.header_timeout);
    processNext();
  }

  void send(Response response, bool keep_alive) {
    std::string out = "HTTP/1.1 ";
    out += statusText(response.status);
    out += "\r\nContent-Type: " + response.content_type;
    out += "\r\nContent-Length: " + std::to_string(response.body.size());
    out += "\r\nCache-Control: no-store";
    for (const auto& [name, value] : response.headers) {
      out += "\r\n" + name + ": " + value;
    }
    out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    out += response.body;
    stream_.write(out);
    if (!keep_alive) {
      // Closed once sent; a peer that does not read it is cut off after idle_timeout.
      phase_ = Phase::Idle;
      deadline_ms_ = server_.loop().now() + millis(server_.limits().idle_timeout);
      stream_.closeGracefully();
    }
  }

  Server& server_;
  uint64_t id_;
  io::Stream stream_;
  RequestParser parser_;
  std::string in_;
  Phase phase_ = Phase::Busy;
  uint64_t deadline_ms_ = 0;
  bool request_bytes_ = false;  // bytes of the awaited request have arrived
  bool admitted_ = false;       // counted in ServerCounters::open
  bool keep_alive_ = true;
};

Server::Server(io::Loop& loop, Handler handler, ServerLimits limits)
    : loop_(loop), handler_(std::move(handler)), limits_(limits) {}

Response Server::errorResponse(int status, std::string_view reason) const {
  if (error_format_) {
    return error_format_(status, reason);
  }
  return Response{status, "text/plain; charset=utf-8", std::string(reason) + "\n", {}};
}

Server::~Server() {
  if (fd_ >= 0 && !listener_) {
    ::close(fd_);
  }
}

bool Server::bind(const std::string& address, uint16_t port, std::string& error) {
  fd_ = io::bindSocket(address, port, 128, port_, error);
  return fd_ >= 0;
}

void Server::start() {
  uv_timer_init(loop_.uv(), &sweep_);
  sweep_.data = this;
  uv_timer_start(&sweep_, &Server::onSweep, 1000, 1000);
  listener_ = std::make_unique<io::Listener>(loop_, fd_, [this](uv_stream_t* server) {
    if (stopping_ || draining_) {
      return;
    }
    uint64_t id = next_id_++;
    auto* connection = new Connection(*this, id);
    connections_.emplace(id, connection);
    connection->start(server, counters_.open.load(std::memory_order_relaxed) < limits_.max_connections);
  });
  listener_->start();
}

void Server::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  const uint64_t now = self->loop_.now();
  for (auto& [id, connection] : self->connections_) {
    connection->checkTimeout(now);
  }
}

std::vector<Connection*> Server::openConnections() const {
  std::vector<Connection*> open;
  for (const auto& [id, connection] : connections_) {
    open.push_back(connection);
  }
  return open;
}

void Server::closeListener() {
  if (listener_ && !draining_ && !stopping_) {
    listener_->close();
  }
}

void Server::drain() {
  if (draining_ || stopping_) {
    return;
  }
  closeListener();
  draining_ = true;
  for (Connection* connection : openConnections()) {
    connection->drain();
  }
}

void Server::stop() {
  if (stopping_) {
    return;
  }
  closeListener();
  stopping_ = true;
  if (listener_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
  }
  for (Connection* connection : openConnections()) {
    connection->close();
  }
}

Connection* Server::find(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void Server::forget(uint64_t id) { connections_.erase(id); }

}  // namespace mxgate::http
