// MIME parsing of a stored message for the webhook payload: header fields in order, the
// addresses (RFC 5322 §3.4, RFC 2047 words decoded), the text and HTML bodies converted to
// UTF-8 (RFC 2045, RFC 2046 multipart/alternative, charset conversion), attachments with
// their decoded size and SHA-256 (RFC 2183 dispositions, RFC 2231 file names), the RFC 3834
// auto-reply signals, DSN detection (RFC 3464) and the part tree. GMime 3 does the MIME work;
// nothing here hand-parses MIME.
//
// parse() is a pure function of its input and safe on any thread once initialize() ran
// (each call uses its own GMime objects). It runs on the webhook payload lane.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::mime {

// Initializes GMime once per process (thread-safe; later calls do nothing).
void initialize();

struct Mailbox {
  std::string email;  // addr-spec as written (local part unchanged, domain as written)
  std::string name;   // display name, RFC 2047 decoded, UTF-8; "" when absent

  bool operator==(const Mailbox&) const = default;
};

struct HeaderField {
  std::string name;   // as written
  std::string value;  // unfolded, RFC 2047 decoded, UTF-8, leading white space removed

  bool operator==(const HeaderField&) const = default;
};

struct Attachment {
  std::string filename;      // RFC 2231 / RFC 2047 decoded, UTF-8; "" when the part has none
  std::string content_type;  // "type/subtype", lower case
  std::string disposition;   // "attachment" or "inline"
  std::string content_id;    // without the angle brackets; "" when absent
  uint64_t size = 0;         // decoded bytes
  std::string sha256;        // lower-case hex of the decoded bytes
  std::string content;       // the decoded bytes, only when content_kept
  bool content_kept = false;  // false once Limits::max_kept_attachment_bytes would be exceeded

  bool operator==(const Attachment&) const = default;
};

struct Limits {
  size_t max_parts = 1000;   // MIME parts walked; parts beyond are counted in skipped_parts
  size_t max_depth = 32;     // nesting of multiparts and message/rfc822 parts
  size_t max_header_fields = 1000;
  uint64_t max_body_bytes = 16777216;  // text and html each, after conversion (truncated beyond)
  uint64_t max_kept_attachment_bytes = 1048576;  // decoded attachment bytes kept in total
};

struct Message {
  std::vector<HeaderField> headers;  // the top-level header section, in order
  std::string message_id;            // with angle brackets, "" when absent
  std::vector<std::string> in_reply_to;  // message ids, with angle brackets
  std::vector<std::string> references;
  std::string date;     // the Date field as RFC 3339 with its offset; "" when absent or unparseable
  std::string subject;  // RFC 2047 decoded, UTF-8
  std::optional<Mailbox> from;  // the first From mailbox
  std::optional<Mailbox> sender;
  std::vector<Mailbox> reply_to;
  std::vector<Mailbox> to;
  std::vector<Mailbox> cc;
  std::string text;  // the message's text/plain body (not attachments), UTF-8
  std::string html;  // the message's text/html body, UTF-8
  std::vector<Attachment> attachments;  // every non-body leaf part, in order
  std::string auto_submitted;  // RFC 3834 Auto-Submitted keyword, lower case; "no" when absent
  bool is_auto_reply = false;  // Auto-Submitted other than "no", or the common auto-reply headers
  bool is_bounce = false;      // a delivery status notification (multipart/report; report-type=delivery-status)
  // The part tree, e.g. "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf)";
  // message/rfc822 parts show their message's tree inside parentheses.
  std::string structure;
  size_t part_count = 0;     // parts walked
  size_t skipped_parts = 0;  // parts beyond the limits
  bool truncated = false;    // some limit cut something off
};

// Parses a message (CRLF or LF line ends). Never fails: malformed input yields what a
// tolerant parser can recover (at worst, no fields and an empty body).
Message parse(std::string_view bytes, const Limits& limits = {});

}  // namespace mxgate::mime
