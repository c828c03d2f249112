// The `inbound.message.received` webhook payload (JSON, snake_case, UTF-8): queue id, tenant,
// envelope, the parsed message (addresses, bodies, ordered headers, attachments), the
// inbound checks' verdicts, the virus verdict, links rewritten, the RFC 3834 / DSN flags and
// the thread block with ticket hints (subject pattern, In-Reply-To/References, plus-address
// tag), each with its source. The field names follow the survey in
// shared/research/ecosystem.md §1.4; docs/webhooks (README) describes every field.
//
// Pure functions; safe on any thread. They run on the webhook payload lane.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/mime/message.h"
#include "mxgate/spool/record.h"

namespace mxgate::payload {

// A compiled ticket pattern (a Perl-compatible regular expression, GLib's GRegex; the default
// and the check of the policy file's text are config's, thread.ticket_pattern). The ticket
// id is the first capture group when the pattern has one, otherwise the whole match with one
// enclosing pair of [] removed.
class TicketPattern {
 public:
  // Empty pattern text: no subject hints. Throws std::invalid_argument with the compiler's
  // message when the text is not a valid expression.
  explicit TicketPattern(const std::string& pattern);
  ~TicketPattern();
  TicketPattern(const TicketPattern&) = delete;
  TicketPattern& operator=(const TicketPattern&) = delete;

  // The ticket id found in text, or "" when none.
  std::string find(std::string_view text) const;
  // The text with every match removed (for the normalized subject); unchanged for an empty
  // pattern.
  std::string removeMatches(std::string_view text) const;

 private:
  void* regex_ = nullptr;  // GRegex*
  bool has_group_ = false;
};

struct ThreadHint {
  std::string value;   // ticket id, message id or plus-address tag
  std::string source;  // "subject", "in_reply_to", "references", "plus_address"

  bool operator==(const ThreadHint&) const = default;
};

struct Thread {
  std::string ticket;  // the best ticket id: from the subject, else a plus tag that matches; "" = none
  std::vector<ThreadHint> hints;  // every hint, subject first, then in_reply_to, references, plus_address
  std::string subject_normalized;  // Re:/Fwd:/AW:/SV:/… prefixes and the ticket tag removed
};

// rcpt_to: the envelope recipients (local+tag@domain gives a plus_address hint "tag").
Thread threadHints(const mime::Message& message, const std::vector<std::string>& rcpt_to,
                   const TicketPattern& pattern);

struct Input {
  const spool::MessageRecord* record = nullptr;  // envelope, times, verdicts
  std::string tenant;
  std::vector<std::string> rcpt_to;       // this tenant's recipients of the message
  std::string authentication_results;     // our Authentication-Results field value ("" = none)
  const mime::Message* message = nullptr;
  const TicketPattern* ticket_pattern = nullptr;
  uint32_t links_rewritten = 0;
  std::string links_mode;                 // "off", "safe_links", "on"
  uint64_t inline_attachments_max = 1048576;  // attachments inline while their total stays below
  uint64_t timestamp_us = 0;              // when the payload is built (the envelope's "timestamp")
};

// The JSON document: {"type":"inbound.message.received","timestamp":...,"data":{...}}.
std::string buildInbound(const Input& input);

}  // namespace mxgate::payload
