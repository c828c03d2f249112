// HTTP/1.1 request parsing (RFC 9112) for mxgate's small HTTP endpoints (admin API, metrics,
// health; later the link redirector), on top of http-parser 2.9. One request at a time:
// feed() stops right after a complete request so pipelined requests are answered in order.
// Header and body sizes are bounded while parsing, never after buffering. One parser per
// connection, on its loop thread.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxgate::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // the request target as sent ("/v1/queue?limit=5")
  std::string path;    // target up to '?', percent-decoding not applied
  std::string query;   // after '?', or ""
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = true;
  std::string peer;  // the TCP peer's numeric address (filled in by the server)

  // The first header with this (lower-case) name, or "".
  std::string_view header(std::string_view name) const;
  // The values of every header with this (lower-case) name, in order.
  std::vector<std::string_view> headerValues(std::string_view name) const;
  // The value of a query parameter, or "" (no percent-decoding; our parameters are plain).
  std::string queryParam(std::string_view name) const;
};

class RequestParser {
 public:
  struct Limits {
    size_t max_header_bytes = 8192;  // request line plus headers
    size_t max_body_bytes = 65536;
  };
  enum class Status { NeedMore, Complete, Error };

  explicit RequestParser(Limits limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes of `in`; Complete: `out` holds the request and `consumed` says how many
  // bytes belonged to it. Error: errorStatus() is the HTTP status to answer (400, 413, 431).
  Status feed(std::string_view in, size_t& consumed, Request& out);
  int errorStatus() const { return error_status_; }
  // The head of the request being read is complete; its body is still arriving.
  bool inBody() const { return in_body_; }

 private:
  static int onMessageBegin(http_parser* parser);
  static int onUrl(http_parser* parser, const char* at, size_t length);
  static int onHeaderField(http_parser* parser, const char* at, size_t length);
  static int onHeaderValue(http_parser* parser, const char* at, size_t length);
  static int onHeadersComplete(http_parser* parser);
  static int onBody(http_parser* parser, const char* at, size_t length);
  static int onMessageComplete(http_parser* parser);
  bool chargeHeader(size_t length);

  Limits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  Request building_;
  size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool complete_ = false;
  bool in_body_ = false;
  int error_status_ = 400;
};

}  // namespace mxgate::http
