// A small HTTP/1.1 server on one loop for mxgate's internal endpoints: requests are parsed
// with RequestParser (bounded), handed to one asynchronous handler, and answered in order,
// one at a time per connection, with keep-alive. The handler's respond() must run on the
// same loop; a response for a connection that has gone away is dropped.
#pragma once

#include <uv.h>

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

namespace mxgate::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Respond = std::function<void(Response)>;
using Handler = std::function<void(const Request& request, Respond respond)>;

// "200 OK", "404 Not Found", ...
std::string_view statusText(int status);

class Connection;

class Server {
 public:
  Server(io::Loop& loop, Handler handler, RequestParser::Limits limits);
  ~Server();

  // Binds on the calling thread; the port is known afterwards (useful with port 0).
  bool bind(const std::string& address, uint16_t port, std::string& error);
  uint16_t port() const { return port_; }
  // On the loop thread.
  void start();
  void stop();

  // Used by connections (loop thread).
  const Handler& handler() const { return handler_; }
  const RequestParser::Limits& limits() const { return limits_; }
  io::Loop& loop() { return loop_; }
  Connection* find(uint64_t id);
  void forget(uint64_t id);

 private:
  io::Loop& loop_;
  Handler handler_;
  RequestParser::Limits limits_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<io::Listener> listener_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace mxgate::http
