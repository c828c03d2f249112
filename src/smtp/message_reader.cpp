// DATA transparency and content checks: DotReader finds <CRLF>.<CRLF> and un-stuffs leading
// dots (RFC 5321 §4.1.1.4, §4.5.2), ContentFilter enforces the bare CR / bare LF / NUL policy
// (§2.3.8, RFC 5322 §2.3, RFC 3030 §3) and the header limits (§6.3 Received: loop count),
// DotStuffer does the outbound side. Each scans with memchr and appends runs of bytes in one
// call. Runs on a loop thread, one instance per session or message.
#include "mxgate/smtp/message_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "mxgate/base/ascii.h"

namespace mxgate::smtp {
namespace {

constexpr std::string_view kReceived = "received:";
constexpr std::string_view kCrLf = "\r\n";

// Index of the first `c` in data[from, size), or size.
size_t findByte(const char* data, size_t size, size_t from, char c) {
  const void* found = std::memchr(data + from, c, size - from);
  return found == nullptr ? size : static_cast<size_t>(static_cast<const char*>(found) - data);
}

}  // namespace

// ---- DotReader ------------------------------------------------------------------------

size_t DotReader::feed(std::string_view in, std::string& out) {
  const char* data = in.data();
  const size_t size = in.size();
  size_t pos = 0;
  size_t run = 0;  // start of the content bytes not yet appended
  while (pos < size && state_ != State::Done) {
    switch (state_) {
      case State::LineStart:
        if (data[pos] == '.') {
          out.append(data + run, pos - run);
          ++pos;
          run = pos;  // the dot is dropped: stuffing, or the terminator
          state_ = State::Dot;
        } else {
          state_ = State::InLine;
        }
        break;
      case State::Dot:
        if (data[pos] == '\r') {
          ++pos;
          run = pos;  // held back until we know it is not the terminator
          state_ = State::DotCr;
        } else {
          state_ = State::InLine;
        }
        break;
      case State::DotCr:
        if (data[pos] == '\n') {
          ++pos;
          run = pos;
          state_ = State::Done;
        } else {
          out.push_back('\r');  // run == pos here, so order is kept
          state_ = State::InLine;
        }
        break;
      case State::InLine:
      case State::Cr: {
        const size_t lf = findByte(data, size, pos, '\n');
        if (lf == size) {
          state_ = data[size - 1] == '\r' ? State::Cr : State::InLine;
          pos = size;
          break;
        }
        const bool crlf = lf > pos ? data[lf - 1] == '\r' : state_ == State::Cr;
        pos = lf + 1;
        state_ = crlf ? State::LineStart : State::InLine;  // a bare LF does not start a line
        break;
      }
      case State::Done:
        break;
    }
  }
  out.append(data + run, pos - run);
  return pos;
}

// ---- ContentFilter --------------------------------------------------------------------

void ContentFilter::feed(std::string_view in, std::string& out) {
  if (violation_ != ContentViolation::None) {
    return;
  }
  const char* data = in.data();
  const size_t size = in.size();
  size_t pos = 0;
  if (pending_cr_) {
    if (size == 0) {
      return;
    }
    pending_cr_ = false;
    if (data[0] == '\n') {
      if (!lineEnd(out)) {
        return;
      }
      pos = 1;
    } else if (!bareCr()) {
      return;
    }
  }
  size_t run = pos;  // start of the bytes not yet passed to text()
  size_t next_cr = findByte(data, size, pos, '\r');
  size_t next_lf = findByte(data, size, pos, '\n');
  size_t next_nul = policy_.reject_nul ? findByte(data, size, pos, '\0') : size;
  while (pos < size) {
    if (next_cr < pos) {
      next_cr = findByte(data, size, pos, '\r');
    }
    if (next_lf < pos) {
      next_lf = findByte(data, size, pos, '\n');
    }
    const size_t special = std::min({next_cr, next_lf, next_nul});
    if (special == size) {
      break;
    }
    const char c = data[special];
    if (c == '\r' && special + 1 < size && data[special + 1] == '\n') {
      pos = special + 2;
      if (in_headers_) {  // header lines are tracked one by one; body CRLFs stay in the run
        if (!text(data + run, special - run, out) || !lineEnd(out)) {
          return;
        }
        run = pos;
      }
      continue;
    }
    if (!text(data + run, special - run, out)) {
      return;
    }
    if (c == '\r' && special + 1 == size) {
      pending_cr_ = true;  // the LF may come with the next feed
      return;
    }
    if (c == '\r') {
      if (!bareCr()) {
        return;
      }
    } else if (c == '\n') {
      if (!bareLf(out)) {
        return;
      }
    } else {
      violation_ = ContentViolation::Nul;
      return;
    }
    pos = special + 1;
    run = pos;
  }
  text(data + run, size - run, out);
}

void ContentFilter::finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    if (violation_ == ContentViolation::None) {
      bareCr();
    }
  }
}

bool ContentFilter::text(const char* data, size_t length, std::string& out) {
  if (in_headers_) {
    return headerText(data, length, out);
  }
  append(out, data, length);
  return true;
}

// Bytes of one header line (no CR or LF among them). Output stops exactly at the byte that
// breaks a limit, so the result does not depend on how the input was split.
bool ContentFilter::headerText(const char* data, size_t length, std::string& out) {
  if (length == 0) {
    return true;
  }
  const size_t room = policy_.max_header_size - header_bytes_;
  const size_t take = std::min(length, room);
  if (line_length_ < kReceived.size()) {
    const size_t prefix = std::min(kReceived.size() - line_length_, take);
    line_prefix_.append(data, prefix);
    if (line_prefix_.size() == kReceived.size() &&
        ascii::equalsIgnoreCase(line_prefix_, kReceived)) {
      if (received_ < std::numeric_limits<uint32_t>::max()) {
        ++received_;
      }
      if (received_ > policy_.max_received_headers) {
        append(out, data, prefix);
        header_bytes_ += prefix;
        line_length_ += prefix;
        violation_ = ContentViolation::TooManyReceived;
        return false;
      }
    }
  }
  append(out, data, take);
  header_bytes_ += take;
  line_length_ += take;
  if (take < length) {
    violation_ = ContentViolation::HeaderTooLarge;
    return false;
  }
  return true;
}

// A canonical CRLF in the output; in the header section it ends a field line, or (after an
// empty line) the header section itself.
bool ContentFilter::lineEnd(std::string& out) {
  if (in_headers_) {
    if (line_length_ == 0) {
      in_headers_ = false;
    } else {
      if (policy_.max_header_size - header_bytes_ < kCrLf.size()) {
        violation_ = ContentViolation::HeaderTooLarge;  // output stays canonical: no half CRLF
        return false;
      }
      header_bytes_ += kCrLf.size();
      line_length_ = 0;
      line_prefix_.clear();
    }
  }
  append(out, kCrLf.data(), kCrLf.size());
  return true;
}

bool ContentFilter::bareCr() {
  if (policy_.bare_newline == config::BareNewline::Reject) {
    violation_ = ContentViolation::BareCr;
    return false;
  }
  return true;  // Normalize: dropped
}

bool ContentFilter::bareLf(std::string& out) {
  if (policy_.bare_newline == config::BareNewline::Reject) {
    violation_ = ContentViolation::BareLf;
    return false;
  }
  return lineEnd(out);  // Normalize: becomes CRLF
}

void ContentFilter::append(std::string& out, const char* data, size_t length) {
  out.append(data, length);
  output_bytes_ += length;
}

// ---- DotStuffer -----------------------------------------------------------------------

void DotStuffer::feed(std::string_view in, std::string& out) {
  const char* data = in.data();
  const size_t size = in.size();
  size_t pos = 0;
  if (pending_cr_ && size > 0) {
    pending_cr_ = false;
    out.append(kCrLf);  // CRLF split across feeds, or a bare CR made canonical
    at_line_start_ = true;
    pos = data[0] == '\n' ? 1 : 0;
  }
  size_t run = pos;  // start of the bytes not yet appended
  size_t next_cr = findByte(data, size, pos, '\r');
  size_t next_lf = findByte(data, size, pos, '\n');
  while (pos < size) {
    if (at_line_start_) {
      at_line_start_ = false;
      if (data[pos] == '.') {
        out.append(data + run, pos - run);
        out.push_back('.');
        run = pos;
      }
    }
    if (next_cr < pos) {
      next_cr = findByte(data, size, pos, '\r');
    }
    if (next_lf < pos) {
      next_lf = findByte(data, size, pos, '\n');
    }
    const size_t end = std::min(next_cr, next_lf);
    if (end == size) {
      pos = size;
      break;
    }
    at_line_start_ = true;
    if (data[end] == '\r' && end + 1 < size && data[end + 1] == '\n') {
      pos = end + 2;  // canonical CRLF stays in the run
      continue;
    }
    out.append(data + run, end - run);
    pos = end + 1;
    run = pos;
    if (data[end] == '\r' && pos == size) {
      pending_cr_ = true;
      at_line_start_ = false;
      break;
    }
    out.append(kCrLf);  // bare CR or bare LF
  }
  out.append(data + run, pos - run);
}

void DotStuffer::finish(std::string& out) {
  if (pending_cr_ || !at_line_start_) {
    out.append(kCrLf);
  }
  out.append(".\r\n");
  pending_cr_ = false;
  at_line_start_ = true;
}

}  // namespace mxgate::smtp
