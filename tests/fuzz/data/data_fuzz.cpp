// libFuzzer target for message content (RFC 5321 §4.1.1.4, §4.5.2, §2.3.8; RFC 3030 §3):
// DotReader + ContentFilter (DATA) and ContentFilter alone (BDAT) in Reject and Normalize
// mode, fed in pieces and in one piece, plus DotStuffer round trips. The first 4 input
// bytes choose the piece sizes and the policy limits; the rest is the stream.
// Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/smtp/message_reader.h"

namespace {

using namespace mxgate;

struct Result {
  std::string output;
  size_t consumed = 0;
  bool done = false;
  smtp::ContentViolation violation = smtp::ContentViolation::None;
  size_t header_bytes = 0;
  uint32_t received = 0;
  bool in_headers = true;
  uint64_t output_bytes = 0;
  bool operator==(const Result&) const = default;
};

std::vector<std::string_view> pieces(std::string_view stream, size_t first, size_t second) {
  std::vector<std::string_view> out;
  for (size_t pos = 0, n = 0; pos < stream.size(); ++n) {
    const size_t length = n % 2 == 0 ? first : second;
    out.push_back(stream.substr(pos, length));
    pos += length;
  }
  return out;
}

void fillCounters(const smtp::ContentFilter& filter, Result& r) {
  r.violation = filter.violation();
  r.header_bytes = filter.headerBytes();
  r.received = filter.receivedCount();
  r.in_headers = filter.inHeaders();
  r.output_bytes = filter.outputBytes();
}

Result runData(const std::vector<std::string_view>& input, const smtp::ContentPolicy& policy) {
  Result r;
  smtp::DotReader reader;
  smtp::ContentFilter filter(policy);
  std::string unstuffed;
  for (std::string_view piece : input) {
    if (reader.done()) {
      break;
    }
    unstuffed.clear();
    r.consumed += reader.feed(piece, unstuffed);
    filter.feed(unstuffed, r.output);
  }
  r.done = reader.done();
  if (r.done) {
    filter.finish(r.output);
  }
  fillCounters(filter, r);
  return r;
}

Result runContent(const std::vector<std::string_view>& input, const smtp::ContentPolicy& policy) {
  Result r;
  smtp::ContentFilter filter(policy);
  for (std::string_view piece : input) {
    r.consumed += piece.size();
    filter.feed(piece, r.output);
  }
  filter.finish(r.output);
  fillCounters(filter, r);
  return r;
}

std::string stuff(const std::vector<std::string_view>& input) {
  smtp::DotStuffer stuffer;
  std::string out;
  for (std::string_view piece : input) {
    stuffer.feed(piece, out);
  }
  stuffer.finish(out);
  return out;
}

bool hasBareCrOrLf(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) ||
        (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))) {
      return true;
    }
  }
  return false;
}

// What the DotReader consumed ends in the one true terminator, or it consumed everything.
void checkTermination(std::string_view stream, const Result& r) {
  if (r.consumed > stream.size() || (!r.done && r.consumed != stream.size())) {
    __builtin_trap();
  }
  if (r.done) {
    const std::string_view used = stream.substr(0, r.consumed);
    const bool empty_message = used == ".\r\n";
    if (!empty_message && (used.size() < 5 || used.substr(used.size() - 5) != "\r\n.\r\n")) {
      __builtin_trap();
    }
  }
}

// Stuffing canonical content and reading it back gives the content (plus a final CRLF when
// it did not end with one).
void checkRoundTrip(const std::string& content, size_t first, size_t second) {
  const std::string wire = stuff(pieces(content, first, second));
  if (hasBareCrOrLf(wire)) {
    __builtin_trap();
  }
  smtp::DotReader reader;
  std::string back;
  size_t used = 0;
  for (std::string_view piece : pieces(wire, second, first)) {
    used += reader.feed(piece, back);
  }
  std::string expected = content;
  if (!expected.empty() && !expected.ends_with("\r\n")) {
    expected.append("\r\n");
  }
  if (!reader.done() || used != wire.size() || back != expected) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) {
    return 0;
  }
  const size_t first = 1 + data[0];
  const size_t second = 1 + data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 4), size - 4);
  const std::vector<std::string_view> split = pieces(stream, first, second);

  for (config::BareNewline mode : {config::BareNewline::Reject, config::BareNewline::Normalize}) {
    smtp::ContentPolicy policy;
    policy.bare_newline = mode;
    policy.reject_nul = (data[2] & 1) != 0;
    policy.max_received_headers = data[2] >> 1;
    policy.max_header_size = data[3] == 0 ? 102400 : size_t{data[3]} * 16;

    const Result whole = runData({stream}, policy);
    const Result data_split = runData(split, policy);
    const Result content = runContent({stream}, policy);
    const Result content_split = runContent(split, policy);
    if (!(whole == data_split) || !(content == content_split)) {
      __builtin_trap();
    }
    checkTermination(stream, whole);
    for (const Result* r : {&whole, &content}) {
      if (hasBareCrOrLf(r->output) || r->output_bytes != r->output.size() ||
          (r->header_bytes > policy.max_header_size)) {
        __builtin_trap();
      }
      if (mode == config::BareNewline::Normalize && (r->violation == smtp::ContentViolation::BareLf ||
                                                     r->violation == smtp::ContentViolation::BareCr)) {
        __builtin_trap();
      }
      if (policy.reject_nul && r->output.find('\0') != std::string::npos) {
        __builtin_trap();
      }
    }
    checkRoundTrip(whole.output, first, second);
    checkRoundTrip(content.output, second, first);
  }

  // Raw, non-canonical input: the stuffer still emits only CRLF, and a reader stops exactly
  // at its terminator.
  const std::string wire = stuff(split);
  if (hasBareCrOrLf(wire)) {
    __builtin_trap();
  }
  smtp::DotReader reader;
  std::string back;
  if (reader.feed(wire, back) != wire.size() || !reader.done()) {
    __builtin_trap();
  }
  return 0;
}
