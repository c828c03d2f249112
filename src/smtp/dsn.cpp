// Delivery status notifications (see include/mxgate/smtp/dsn.h): RFC 3464 fields, RFC 6522
// multipart/report, RFC 6533 for UTF-8 mail. Any thread.
#include "mxgate/smtp/dsn.h"

#include <fmt/format.h>

#include <algorithm>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/smtp/reply_parser.h"

namespace mxgate::smtp {
namespace {

// Longest text taken from elsewhere into one field (RFC 5322 lines stop at 998 octets).
constexpr size_t kMaxFieldText = 900;

// Text from a peer or a sender, made safe for one header line: control characters (CR and LF
// among them) become spaces, and it is cut at kMaxFieldText.
std::string fieldText(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxFieldText));
  for (char c : text.substr(0, kMaxFieldText)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? ' ' : c;
  }
  return out;
}

std::string_view actionName(DsnAction action) {
  switch (action) {
    case DsnAction::Failed: return "failed";
    case DsnAction::Delayed: return "delayed";
    case DsnAction::Delivered: return "delivered";
    case DsnAction::Relayed: return "relayed";
    case DsnAction::Expanded: return "expanded";
  }
  return "failed";
}

std::string subjectFor(const DsnReport& report) {
  const auto has = [&report](DsnAction action) {
    return std::any_of(report.recipients.begin(), report.recipients.end(),
                       [action](const DsnRecipient& recipient) { return recipient.action == action; });
  };
  if (has(DsnAction::Failed)) {
    return "Undelivered Mail Returned to Sender";
  }
  if (has(DsnAction::Delayed)) {
    return "Delayed Mail (still being retried)";
  }
  return "Successful Mail Delivery Report";
}

// The human-readable part: what happened to each recipient, in words.
std::string notification(const DsnReport& report) {
  std::string text = "This is the mail system at host " + fieldText(report.reporting_mta) + ".\r\n\r\n";
  const bool failed = std::any_of(report.recipients.begin(), report.recipients.end(),
                                  [](const DsnRecipient& recipient) { return recipient.action == DsnAction::Failed; });
  text += failed ? "Your message could not be delivered to one or more recipients.\r\n"
                   "It is attached below (its header section only).\r\n\r\n"
                 : "This is a report about the delivery of your message.\r\n\r\n";
  for (const DsnRecipient& recipient : report.recipients) {
    text += "<" + fieldText(recipient.final_recipient) + ">: " + std::string(actionName(recipient.action));
    if (!recipient.diagnostic.empty()) {
      text += recipient.remote_mta.empty() ? ": " : ": host " + fieldText(recipient.remote_mta) + " said: ";
      text += fieldText(recipient.diagnostic);
    }
    text += "\r\n";
  }
  return text;
}

// The message/delivery-status body (RFC 3464 §2.2 and §2.3).
std::string deliveryStatus(const DsnReport& report, bool utf8) {
  const std::string address_type = utf8 ? "utf-8" : "rfc822";
  std::string status = "Reporting-MTA: dns; " + fieldText(report.reporting_mta) + "\r\n";
  status += "X-Mxgate-Queue-ID: " + fieldText(report.queue_id) + "\r\n";
  status += "Arrival-Date: " + formatRfc5322(report.arrival_us) + "\r\n";
  for (const DsnRecipient& recipient : report.recipients) {
    status += "\r\nFinal-Recipient: " + address_type + "; " + fieldText(recipient.final_recipient) + "\r\n";
    status += "Action: " + std::string(actionName(recipient.action)) + "\r\n";
    status += "Status: " + fieldText(recipient.status) + "\r\n";
    if (!recipient.remote_mta.empty()) {
      status += "Remote-MTA: dns; " + fieldText(recipient.remote_mta) + "\r\n";
    }
    if (!recipient.diagnostic.empty()) {
      const bool smtp_reply = splitReplyLine(recipient.diagnostic).code != 0;
      status += std::string("Diagnostic-Code: ") + (smtp_reply ? "smtp; " : "X-Mxgate; ") +
                fieldText(recipient.diagnostic) + "\r\n";
    }
    if (recipient.last_attempt_us != 0) {
      status += "Last-Attempt-Date: " + formatRfc5322(recipient.last_attempt_us) + "\r\n";
    }
  }
  return status;
}

}  // namespace

std::string dsnStatus(std::string_view reply, std::string_view fallback) {
  const ReplyLine parsed = splitReplyLine(reply);
  if (!parsed.enhanced.empty()) {
    return parsed.enhanced;
  }
  if (parsed.code >= 200 && parsed.code < 600) {
    return std::to_string(parsed.code / 100) + ".0.0";
  }
  return std::string(fallback);
}

DsnMessage buildDsn(const DsnReport& report) {
  std::string headers(report.original_headers);
  if (!headers.empty() && !headers.ends_with("\r\n")) {
    headers += "\r\n";
  }
  bool utf8 = !ascii::isAscii(report.sender) || !ascii::isAscii(headers);
  for (const DsnRecipient& recipient : report.recipients) {
    utf8 = utf8 || !ascii::isAscii(recipient.final_recipient);
  }
  std::string boundary = fmt::format("{}.{}/{}", report.queue_id, report.created_us, report.reporting_mta);
  while (headers.find(boundary) != std::string::npos) {
    boundary += "=";  // never a line of the returned header section
  }
  const std::string host = fieldText(report.reporting_mta);

  DsnMessage dsn;
  dsn.utf8 = utf8;
  std::string& out = dsn.text;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
  out += "To: <" + fieldText(report.sender) + ">\r\n";
  out += "Subject: " + subjectFor(report) + "\r\n";
  out += "Date: " + formatRfc5322(report.created_us) + "\r\n";
  out += fmt::format("Message-ID: <{}.{}.dsn@{}>\r\n", fieldText(report.queue_id), report.created_us, host);
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  if (utf8) {
    out += "Content-Transfer-Encoding: 8bit\r\n";
  }
  out += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";
  out += "--" + boundary + "\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  out += notification(report);
  out += "\r\n--" + boundary + "\r\nContent-Description: Delivery report\r\nContent-Type: message/" +
         (utf8 ? "global-delivery-status" : "delivery-status") + "\r\n\r\n";
  out += deliveryStatus(report, utf8);
  out += "\r\n--" + boundary + "\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: " +
         (utf8 ? "message/global-headers" : "text/rfc822-headers") + "\r\n\r\n";
  out += headers;
  out += "\r\n--" + boundary + "--\r\n";
  return dsn;
}

}  // namespace mxgate::smtp
