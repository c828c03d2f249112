// HTTP/1.1 request parser over http-parser (see include/mxgate/http/request_parser.h).
#include "mxgate/http/request_parser.h"

#include "mxgate/base/ascii.h"

namespace mxgate::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

std::vector<std::string_view> Request::headerValues(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : headers) {
    if (key == name) {
      values.push_back(value);
    }
  }
  return values;
}

std::string Request::queryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(amp + 1);
  }
  return {};
}

RequestParser::RequestParser(Limits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_body = &RequestParser::onBody;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
}

bool RequestParser::chargeHeader(size_t length) {
  header_bytes_ += length;
  if (header_bytes_ > limits_.max_header_bytes) {
    error_status_ = 431;
    return false;
  }
  return true;
}

int RequestParser::onMessageBegin(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->building_ = Request();
  self->header_bytes_ = 0;
  self->in_value_ = false;
  self->in_body_ = false;
  return 0;
}

int RequestParser::onUrl(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (!self->chargeHeader(length)) {
    return 1;
  }
  self->building_.target.append(at, length);
  return 0;
}

int RequestParser::onHeaderField(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (!self->chargeHeader(length)) {
    return 1;
  }
  if (self->in_value_ || self->building_.headers.empty()) {
    self->building_.headers.emplace_back();
    self->in_value_ = false;
  }
  std::string& name = self->building_.headers.back().first;
  for (size_t i = 0; i < length; ++i) {
    name.push_back(ascii::toLower(at[i]));
  }
  return 0;
}

int RequestParser::onHeaderValue(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (!self->chargeHeader(length)) {
    return 1;
  }
  if (self->building_.headers.empty()) {
    return 1;
  }
  self->in_value_ = true;
  self->building_.headers.back().second.append(at, length);
  return 0;
}

int RequestParser::onHeadersComplete(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if ((parser->flags & F_CONTENTLENGTH) != 0 && parser->content_length > self->limits_.max_body_bytes) {
    self->error_status_ = 413;
    return -1;
  }
  Request& request = self->building_;
  request.method = http_method_str(static_cast<http_method>(parser->method));
  size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  request.query = question == std::string::npos ? std::string() : request.target.substr(question + 1);
  request.keep_alive = http_should_keep_alive(parser) != 0;
  self->in_body_ = true;
  return 0;
}

int RequestParser::onBody(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (self->building_.body.size() + length > self->limits_.max_body_bytes) {
    self->error_status_ = 413;
    return 1;
  }
  self->building_.body.append(at, length);
  return 0;
}

int RequestParser::onMessageComplete(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->complete_ = true;
  self->in_body_ = false;
  http_parser_pause(parser, 1);
  return 0;
}

RequestParser::Status RequestParser::feed(std::string_view in, size_t& consumed, Request& out) {
  complete_ = false;
  error_status_ = 400;
  consumed = http_parser_execute(&parser_, &settings_, in.data(), in.size());
  if (complete_) {
    http_parser_pause(&parser_, 0);
    out = std::move(building_);
    building_ = Request();
    return Status::Complete;
  }
  if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    return Status::Error;
  }
  return Status::NeedMore;
}

}  // namespace mxgate::http
