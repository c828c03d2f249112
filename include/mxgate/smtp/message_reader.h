// Message content on the way in: DATA transparency (RFC 5321 §4.1.1.4, §4.5.2) and the
// checks every byte of content passes through, whether it came by DATA or BDAT (RFC 3030).
//
// DotReader finds the one true end of data, <CRLF>.<CRLF>, and removes the leading dot of
// stuffed lines. Nothing else ends DATA: <LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, ... are content
// (SMTP smuggling, CVE-2023-51764). ContentFilter then enforces the byte policy (bare CR,
// bare LF, NUL), counts header bytes and Received: fields, and emits canonical CRLF text.
// Both are incremental: input may be split anywhere. Used on a loop thread, one per session.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"

namespace mxgate::smtp {

class DotReader {
 public:
  // Consumes bytes of `in` up to and including the terminator, appending content (the final
  // CRLF before the "." belongs to the content) to `out`. Returns the number of bytes of
  // `in` consumed; once done() the rest of `in` is the next command and is not consumed.
  size_t feed(std::string_view in, std::string& out);
  bool done() const { return state_ == State::Done; }

 private:
  enum class State { LineStart, Dot, DotCr, InLine, Cr, Done };
  State state_ = State::LineStart;
};

enum class ContentViolation {
  None,
  BareLf,           // a LF not preceded by CR (Reject mode)
  BareCr,           // a CR not followed by LF (Reject mode)
  Nul,              // a NUL byte (when reject_nul)
  HeaderTooLarge,   // header section larger than max_header_size
  TooManyReceived,  // more than max_received_headers Received: fields (mail loop)
};

struct ContentPolicy {
  config::BareNewline bare_newline = config::BareNewline::Reject;
  bool reject_nul = true;
  size_t max_header_size = 102400;
  uint32_t max_received_headers = 100;
};

class ContentFilter {
 public:
  explicit ContentFilter(const ContentPolicy& policy) : policy_(policy) {}

  // Appends the canonical form of `in` to `out`: in Normalize mode a bare LF becomes CRLF
  // and a bare CR is dropped. After the first violation nothing more is appended (the caller
  // keeps feeding so the stream stays in sync, then rejects the message).
  void feed(std::string_view in, std::string& out);
  // End of content: resolves a trailing CR that was waiting for its LF.
  void finish(std::string& out);

  ContentViolation violation() const { return violation_; }
  bool inHeaders() const { return in_headers_; }
  size_t headerBytes() const { return header_bytes_; }
  uint32_t receivedCount() const { return received_; }
  uint64_t outputBytes() const { return output_bytes_; }

 private:
  // Each returns false once a violation is recorded (output has stopped).
  bool text(const char* data, size_t length, std::string& out);
  bool headerText(const char* data, size_t length, std::string& out);
  bool lineEnd(std::string& out);
  bool bareCr();
  bool bareLf(std::string& out);
  void append(std::string& out, const char* data, size_t length);

  ContentPolicy policy_;
  ContentViolation violation_ = ContentViolation::None;
  bool pending_cr_ = false;
  bool in_headers_ = true;
  size_t line_length_ = 0;     // bytes of the current line so far (header field name check)
  std::string line_prefix_;    // first bytes of the current header line, for "Received:"
  size_t header_bytes_ = 0;
  uint32_t received_ = 0;
  uint64_t output_bytes_ = 0;
};

// The outbound direction (RFC 5321 §4.5.2): dot-stuffs canonical content for DATA and
// guarantees that no bare CR or LF reaches the wire (any that slipped into stored content
// are turned into CRLF). finish() appends the terminator, adding a CRLF first if the content
// did not end with one.
class DotStuffer {
 public:
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;
  bool pending_cr_ = false;
};

}  // namespace mxgate::smtp
