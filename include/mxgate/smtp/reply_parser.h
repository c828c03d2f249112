// Parsing SMTP replies on the client side (RFC 5321 §4.2, RFC 3463 enhanced codes, RFC 2034,
// and the EHLO keyword list of §4.1.1.1). Multi-line replies are bounded in line length and
// line count so a hostile server cannot make us buffer without limit (CVE-2020-8794 class).
// Used on a loop thread, one parser per client connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::smtp {

struct Reply {
  int code = 0;                    // 200..599
  std::string enhanced;            // "2.0.0" when the first line carries one, else ""
  std::vector<std::string> lines;  // text of each line after "NNN-"/"NNN " (enhanced code kept)
  std::string text() const;        // the lines joined with " / ", for logs and error reports
};

class ReplyParser {
 public:
  static constexpr size_t kMaxLineLength = 4096;
  static constexpr size_t kMaxLines = 256;
  enum class Status { NeedMore, Complete, Error };

  // Consumes bytes from `in` (which need not hold a whole reply); sets consumed to the bytes
  // used. Complete: `out` holds the reply and the parser is ready for the next one; bytes
  // after it in `in` are not consumed. Error: malformed (bad code, codes differ between
  // lines, line or count limit exceeded); error() says why.
  Status feed(std::string_view in, size_t& consumed, Reply& out);
  const std::string& error() const { return error_; }

 private:
  std::string line_;
  Reply building_;
  std::string error_;
};

struct EhloCapabilities {
  bool pipelining = false;
  bool starttls = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool chunking = false;
  bool enhanced_status_codes = false;
  std::optional<uint64_t> size;  // SIZE with a value; 0 means "no fixed limit"
};

// Reads the keywords of a 250 reply to EHLO (the first line is the greeting, not a keyword).
EhloCapabilities parseEhloCapabilities(const Reply& reply);

// A reply as the queue keeps it, on one line ("451 4.3.0 text", or our own error text): code 451,
// enhanced "4.3.0" (only when its class matches the code's), text "text"; code 0 and the whole
// text when it does not start with a reply code.
struct ReplyLine {
  int code = 0;
  std::string enhanced;
  std::string text;
};
ReplyLine splitReplyLine(std::string_view reply);

}  // namespace mxgate::smtp
