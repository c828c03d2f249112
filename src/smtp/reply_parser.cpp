// SMTP client side: reply parsing (RFC 5321 §4.2, §4.2.1 multi-line replies, §4.5.3.1.5
// line length), RFC 3463 / RFC 2034 enhanced status codes and the EHLO keyword list
// (§4.1.1.1, RFC 1870 SIZE). Line length and line count are bounded (CVE-2020-8794 class).
// Runs on a loop thread, one parser per client connection.
#include "mxgate/smtp/reply_parser.h"
#include "mxgate/base/ascii.h"


#include <cstring>
#include <limits>

namespace mxgate::smtp {
namespace {

// 1..3 digits at text[pos]; advances pos past them.
bool skipDigits(std::string_view text, size_t& pos) {
  const size_t start = pos;
  while (pos < text.size() && pos - start < 3 && ascii::isDigit(text[pos])) {
    ++pos;
  }
  return pos > start;
}

// "class.subject.detail" (RFC 3463 §2) at the start of text, followed by a space or the end.
std::string_view enhancedCode(std::string_view text, char class_digit) {
  if (text.size() < 5 || text[0] != class_digit || text[1] != '.') {
    return {};
  }
  size_t pos = 2;
  if (!skipDigits(text, pos) || pos >= text.size() || text[pos] != '.') {
    return {};
  }
  ++pos;
  if (!skipDigits(text, pos) || (pos < text.size() && text[pos] != ' ')) {
    return {};
  }
  return text.substr(0, pos);
}

// The EHLO "SIZE [n]" parameter (RFC 1870 §4): no value means 0 (no fixed limit); a value
// that is not a decimal number fitting in 64 bits makes the keyword unusable.
std::optional<uint64_t> parseSizeKeyword(std::string_view value) {
  uint64_t size = 0;
  for (char c : value) {
    if (!ascii::isDigit(c)) {
      return std::nullopt;
    }
    const auto digit = static_cast<uint64_t>(c - '0');
    if (size > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    size = size * 10 + digit;
  }
  return size;
}

}  // namespace

std::string Reply::text() const {
  std::string joined;
  for (const std::string& line : lines) {
    if (!joined.empty()) {
      joined.append(" / ");
    }
    joined.append(line);
  }
  return joined;
}

ReplyParser::Status ReplyParser::feed(std::string_view in, size_t& consumed, Reply& out) {
  consumed = 0;
  if (!error_.empty()) {
    return Status::Error;
  }
  const auto fail = [this](const char* why) {
    error_ = why;
    line_.clear();
    building_ = Reply{};
    return Status::Error;
  };
  while (consumed < in.size()) {
    const std::string_view rest = in.substr(consumed);
    const void* found = std::memchr(rest.data(), '\n', rest.size());
    const size_t take = found == nullptr ? rest.size()
                                         : static_cast<size_t>(static_cast<const char*>(found) - rest.data());
    // The line including its LF may not exceed kMaxLineLength; without the LF yet, a line
    // already kMaxLineLength long can no longer fit.
    if (take >= kMaxLineLength - line_.size()) {
      consumed += take;
      return fail("reply line too long");
    }
    line_.append(rest.data(), take);
    if (found == nullptr) {
      consumed = in.size();
      return Status::NeedMore;
    }
    consumed += take + 1;

    std::string_view line = line_;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() < 3 || (line.size() > 3 && line[3] != '-' && line[3] != ' ')) {
      return fail("malformed reply line");
    }
    if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || !ascii::isDigit(line[2])) {
      return fail("invalid reply code");
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    const bool last = line.size() == 3 || line[3] == ' ';
    const std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    if (building_.lines.empty()) {
      building_.code = code;
      building_.enhanced = enhancedCode(text, line[0]);
    } else if (code != building_.code) {
      return fail("reply code differs between lines");
    }
    if (building_.lines.size() >= kMaxLines) {
      return fail("too many reply lines");
    }
    building_.lines.emplace_back(text);
    line_.clear();
    if (last) {
      out = std::move(building_);
      building_ = Reply{};
      return Status::Complete;
    }
  }
  return Status::NeedMore;
}

EhloCapabilities parseEhloCapabilities(const Reply& reply) {
  EhloCapabilities caps;
  if (reply.code != 250) {
    return caps;
  }
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    const std::string_view line = reply.lines[i];
    const size_t space = line.find(' ');
    const std::string_view keyword = line.substr(0, space);
    if (ascii::equalsIgnoreCase(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (ascii::equalsIgnoreCase(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (ascii::equalsIgnoreCase(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (ascii::equalsIgnoreCase(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (ascii::equalsIgnoreCase(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (ascii::equalsIgnoreCase(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhanced_status_codes = true;
    } else if (ascii::equalsIgnoreCase(keyword, "SIZE")) {
      caps.size = parseSizeKeyword(space == std::string_view::npos ? std::string_view{} : line.substr(space + 1));
    }
  }
  return caps;
}

ReplyLine splitReplyLine(std::string_view reply) {
  ReplyLine parsed;
  if (reply.size() >= 3 && ascii::isDigit(reply[0]) && ascii::isDigit(reply[1]) && ascii::isDigit(reply[2]) &&
      (reply.size() == 3 || reply[3] == ' ' || reply[3] == '-')) {
    parsed.code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
    const char reply_class = reply[0];
    reply.remove_prefix(std::min<size_t>(4, reply.size()));
    const size_t space = reply.find(' ');
    const std::string_view first = reply.substr(0, space);
    const size_t dot = first.find('.');
    if (first.size() >= 5 && dot == 1 && first[0] == reply_class && first.find('.', dot + 1) != std::string_view::npos &&
        first.find_first_not_of("0123456789.") == std::string_view::npos) {
      parsed.enhanced = std::string(first);
      reply.remove_prefix(space == std::string_view::npos ? reply.size() : space + 1);
    }
  }
  parsed.text = std::string(reply);
  return parsed;
}

}  // namespace mxgate::smtp
