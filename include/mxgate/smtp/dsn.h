// Delivery status notifications: the RFC 3464 report in an RFC 6522 multipart/report message,
// returned to the envelope sender when mail it sent cannot be delivered. The message has a
// human-readable part, the machine-readable message/delivery-status part (per-message fields,
// then one block per recipient) and the returned message's header section as
// text/rfc822-headers. Addresses or headers that are not ASCII (SMTPUTF8 mail) use the RFC 6533
// forms: utf-8 address types, message/global-delivery-status and message/global-headers.
// Text from elsewhere (remote replies, addresses) is cleaned of line breaks and control
// characters before it lands in a header field, so a peer cannot inject fields.
// Pure functions; any thread. The outbound relay's bounces use the same builder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::smtp {

enum class DsnAction { Failed, Delayed, Delivered, Relayed, Expanded };

struct DsnRecipient {
  std::string final_recipient;  // the envelope recipient
  DsnAction action = DsnAction::Failed;
  std::string status;      // RFC 3463 enhanced status code, e.g. "5.1.1"
  std::string remote_mta;  // the host that answered ("" when none did)
  std::string diagnostic;  // that host's SMTP reply, e.g. "550 5.1.1 No such user" ("" when none)
  uint64_t last_attempt_us = 0;
};

struct DsnReport {
  std::string reporting_mta;  // our host name
  std::string sender;         // the envelope sender the notification goes to
  std::string queue_id;       // the returned message's queue id (X-Mxgate-Queue-ID)
  uint64_t arrival_us = 0;
  uint64_t created_us = 0;
  std::vector<DsnRecipient> recipients;
  // The returned message's header section (without the blank line that ends it).
  std::string_view original_headers;
};

struct DsnMessage {
  std::string text;  // the RFC 5322 message, CRLF line ends
  bool utf8 = false;  // it carries UTF-8 addresses or headers: send it with SMTPUTF8 (RFC 6531)
};

// The whole notification: From MAILER-DAEMON at the reporting MTA, To the sender,
// Auto-Submitted: auto-replied (RFC 3834), a Message-ID and MIME boundary derived from the
// queue id and the creation time.
DsnMessage buildDsn(const DsnReport& report);

// The status for a recipient whose last reply was `reply` (as stored: "550 5.1.1 text" or our own
// error text): its enhanced code, else the reply code's class with ".0.0", else `fallback`.
std::string dsnStatus(std::string_view reply, std::string_view fallback);

}  // namespace mxgate::smtp
