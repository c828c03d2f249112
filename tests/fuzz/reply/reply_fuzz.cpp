// libFuzzer target for the SMTP client reply parser (RFC 5321 §4.2, RFC 3463 enhanced codes,
// EHLO keywords), the CVE-2020-8794 class: the input is fed in pieces whose sizes come from
// the first byte, exactly as a connection delivers it, and the result must equal feeding it
// whole; buffered memory stays bounded. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/smtp/reply_parser.h"

namespace {

using mxgate::smtp::Reply;
using mxgate::smtp::ReplyParser;

struct Session {
  ReplyParser parser;
  std::string buffer;
  std::vector<Reply> replies;
  ReplyParser::Status status = ReplyParser::Status::NeedMore;

  void receive(std::string_view bytes) {
    buffer.append(bytes);
    while (status != ReplyParser::Status::Error) {
      size_t consumed = 0;
      Reply reply;
      status = parser.feed(buffer, consumed, reply);
      if (consumed > buffer.size() ||
          (status == ReplyParser::Status::NeedMore && consumed != buffer.size()) ||
          (status == ReplyParser::Status::Complete && consumed == 0)) {
        __builtin_trap();
      }
      buffer.erase(0, consumed);
      if (status != ReplyParser::Status::Complete) {
        break;
      }
      check(reply);
      replies.push_back(std::move(reply));
    }
  }

  static void check(const Reply& reply) {
    if (reply.code < 200 || reply.code > 559 || reply.lines.empty() || reply.lines.size() > ReplyParser::kMaxLines) {
      __builtin_trap();
    }
    for (const std::string& line : reply.lines) {
      if (line.size() > ReplyParser::kMaxLineLength || line.find('\n') != std::string::npos) {
        __builtin_trap();
      }
    }
    if (!reply.enhanced.empty() &&
        (reply.enhanced[0] != static_cast<char>('0' + reply.code / 100) || !reply.lines[0].starts_with(reply.enhanced))) {
      __builtin_trap();
    }
    mxgate::smtp::parseEhloCapabilities(reply);
    reply.text();
  }
};

bool same(const std::vector<Reply>& a, const std::vector<Reply>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].code != b[i].code || a[i].enhanced != b[i].enhanced || a[i].lines != b[i].lines) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const size_t piece = 1 + data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  Session whole;
  whole.receive(stream);
  Session pieces;
  for (size_t pos = 0; pos < stream.size(); pos += piece) {
    pieces.receive(stream.substr(pos, piece));
    // The parser holds at most one partial line; the caller's buffer holds at most one piece
    // beyond what the parser refused after an error.
    if (pieces.status != ReplyParser::Status::Error && !pieces.buffer.empty()) {
      __builtin_trap();
    }
  }
  if (whole.status != pieces.status || !same(whole.replies, pieces.replies)) {
    __builtin_trap();
  }
  return 0;
}
