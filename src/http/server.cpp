// Small HTTP/1.1 server (see include/mxgate/http/server.h). Loop thread only, except bind().
#include "mxgate/http/server.h"

#include <unistd.h>

#include "mxgate/io/stream.h"

namespace mxgate::http {

std::string_view statusText(int status) {
  switch (status) {
    case 200: return "200 OK";
    case 202: return "202 Accepted";
    case 204: return "204 No Content";
    case 302: return "302 Found";
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 409: return "409 Conflict";
    case 410: return "410 Gone";
    case 413: return "413 Content Too Large";
    case 431: return "431 Request Header Fields Too Large";
    case 503: return "503 Service Unavailable";
    default: return "500 Internal Server Error";
  }
}

class Connection : public io::Stream::Handler {
 public:
  Connection(Server& server, uint64_t id)
      : server_(server), id_(id), stream_(server.loop(), *this), parser_(server.limits()) {}

  void start(uv_stream_t* listener) {
    if (stream_.accept(listener) != 0) {
      stream_.close();
      return;
    }
    stream_.startReading();
  }

  void close() { stream_.close(); }

  void onStreamData(std::string_view data) override {
    in_.append(data);
    if (in_.size() > server_.limits().max_header_bytes + server_.limits().max_body_bytes + 4096) {
      send(Response{413, "text/plain; charset=utf-8", "request too large\n", {}}, false);
      return;
    }
    processNext();
  }

  void onStreamEnd(std::string_view) override { stream_.close(); }
  void onStreamClosed() override {
    server_.forget(id_);
    delete this;
  }

 private:
  // One request at a time: the next is parsed only after the current one is answered.
  void processNext() {
    if (busy_ || in_.empty() || stream_.closing()) {
      return;
    }
    size_t consumed = 0;
    Request request;
    auto status = parser_.feed(in_, consumed, request);
    in_.erase(0, consumed);
    if (status == RequestParser::Status::NeedMore) {
      return;
    }
    if (status == RequestParser::Status::Error) {
      send(Response{parser_.errorStatus(), "text/plain; charset=utf-8", "bad request\n", {}}, false);
      return;
    }
    busy_ = true;
    keep_alive_ = request.keep_alive;
    Server* server = &server_;
    uint64_t id = id_;
    server_.handler()(request, [server, id](Response response) {
      if (Connection* connection = server->find(id)) {
        connection->busy_ = false;
        connection->send(std::move(response), connection->keep_alive_);
        connection->processNext();
      }
    });
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
      stream_.closeGracefully();
    }
  }

  Server& server_;
  uint64_t id_;
  io::Stream stream_;
  RequestParser parser_;
  std::string in_;
  bool busy_ = false;
  bool keep_alive_ = true;
};

Server::Server(io::Loop& loop, Handler handler, RequestParser::Limits limits)
    : loop_(loop), handler_(std::move(handler)), limits_(limits) {}

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
  listener_ = std::make_unique<io::Listener>(loop_, fd_, [this](uv_stream_t* server) {
    if (stopping_) {
      return;
    }
    uint64_t id = next_id_++;
    auto* connection = new Connection(*this, id);
    connections_.emplace(id, connection);
    connection->start(server);
  });
  listener_->start();
}

void Server::stop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  if (listener_) {
    listener_->close(nullptr);
  }
  std::vector<Connection*> open;
  for (auto& [id, connection] : connections_) {
    open.push_back(connection);
  }
  for (Connection* connection : open) {
    connection->close();
  }
}

Connection* Server::find(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void Server::forget(uint64_t id) { connections_.erase(id); }

}  // namespace mxgate::http
