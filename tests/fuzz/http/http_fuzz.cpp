// Fuzz target: the HTTP request parser, fed in pieces whose sizes come from the first byte.
// Requests must respect the configured limits whatever the input.
#include <cstdint>
#include <string>

#include "mxgate/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  size_t piece = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  mxgate::http::RequestParser::Limits limits;
  limits.max_header_bytes = 512;
  limits.max_body_bytes = 256;
  mxgate::http::RequestParser parser(limits);
  std::string buffer;
  while (!input.empty()) {
    size_t take = std::min(piece, input.size());
    buffer.append(input.substr(0, take));
    input.remove_prefix(take);
    for (;;) {
      size_t consumed = 0;
      mxgate::http::Request request;
      auto status = parser.feed(buffer, consumed, request);
      if (status == mxgate::http::RequestParser::Status::Error) {
        return 0;
      }
      buffer.erase(0, consumed);
      if (status == mxgate::http::RequestParser::Status::NeedMore) {
        break;
      }
      if (request.body.size() > limits.max_body_bytes || request.target.size() > limits.max_header_bytes) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
