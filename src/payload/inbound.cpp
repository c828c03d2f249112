// The `inbound.message.received` webhook payload (shared/research/ecosystem.md §1.4): a
// Standard Webhooks envelope {type, timestamp, data} around the queue id, tenant, SMTP envelope
// (RFC 5321), the parsed message, the RFC 8601 verdicts, the virus verdict, links rewritten,
// the RFC 3834 / RFC 3464 flags, the attachments (RFC 4648 §4 base64 inline up to a budget) and
// the thread hints. Times are RFC 3339 UTC with milliseconds.
//
// nlohmann::json writes the document; invalid UTF-8 is replaced (U+FFFD), never thrown on.
// Pure functions; any thread (webhook payload lane).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "mxgate/base/base64.h"
#include "mxgate/base/clock.h"
#include "mxgate/payload/inbound.h"

namespace mxgate::payload {
namespace {

using Json = nlohmann::ordered_json;

Json orNull(const std::string& text) { return text.empty() ? Json(nullptr) : Json(text); }

Json mailbox(const mime::Mailbox& box) { return Json{{"email", box.email}, {"name", box.name}}; }

Json mailbox(const std::optional<mime::Mailbox>& box) { return box ? mailbox(*box) : Json(nullptr); }

Json mailboxes(const std::vector<mime::Mailbox>& boxes) {
  Json out = Json::array();
  for (const mime::Mailbox& box : boxes) {
    out.push_back(mailbox(box));
  }
  return out;
}

Json strings(const std::vector<std::string>& values) {
  Json out = Json::array();
  for (const std::string& value : values) {
    out.push_back(value);
  }
  return out;
}

// record.tls is "<protocol> <cipher>", e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"; "" for plaintext.
Json tls(const std::string& description) {
  if (description.empty()) {
    return nullptr;
  }
  const size_t space = description.find(' ');
  return Json{{"version", description.substr(0, space)},
              {"cipher", space == std::string::npos ? std::string() : description.substr(space + 1)}};
}

Json envelope(const Input& input) {
  const spool::MessageRecord& record = *input.record;
  return Json{{"mail_from", record.mail_from},
              {"rcpt_to", strings(input.rcpt_to)},
              {"client_ip", record.client_address},
              {"helo", record.helo},
              {"tls", tls(record.tls)}};
}

// RFC 8601 results; a check that did not run ("" result) is null.
Json auth(const Input& input) {
  const spool::Verdicts& verdicts = input.record->verdicts;
  Json spf = verdicts.spf.empty() ? Json(nullptr) : Json{{"result", verdicts.spf}, {"domain", verdicts.spf_domain}};
  Json dkim = Json::array();
  for (const spool::DkimVerdict& signature : verdicts.dkim) {
    dkim.push_back(Json{{"result", signature.result},
                        {"domain", signature.domain},
                        {"selector", signature.selector},
                        {"algorithm", signature.algorithm}});
  }
  Json dmarc = verdicts.dmarc.empty() ? Json(nullptr)
                                      : Json{{"result", verdicts.dmarc},
                                             {"policy", verdicts.dmarc_policy},
                                             {"from_domain", verdicts.from_domain}};
  return Json{{"spf", std::move(spf)},
              {"dkim", std::move(dkim)},
              {"dmarc", std::move(dmarc)},
              {"authentication_results", orNull(input.authentication_results)}};
}

Json virus(const spool::Verdicts& verdicts) {
  return Json{{"verdict", verdicts.virus.empty() ? std::string("not_scanned") : verdicts.virus},
              {"signature", orNull(verdicts.virus_name)}};
}

// Content inline (base64) while the decoded sizes inlined so far stay within the budget; from
// the first attachment that does not fit (or whose content was not kept) on, none is inlined.
Json attachments(const mime::Message& message, uint64_t budget) {
  Json out = Json::array();
  bool inlining = true;
  uint64_t used = 0;  // never above budget
  for (const mime::Attachment& attachment : message.attachments) {
    Json content = nullptr;
    if (inlining && attachment.content_kept && attachment.size <= budget - used) {
      used += attachment.size;
      content = base64::encode(attachment.content);
    } else {
      inlining = false;
    }
    out.push_back(Json{{"filename", orNull(attachment.filename)},
                       {"content_type", attachment.content_type},
                       {"size", attachment.size},
                       {"sha256", attachment.sha256},
                       {"content_id", orNull(attachment.content_id)},
                       {"disposition", attachment.disposition},
                       {"content_base64", std::move(content)}});
  }
  return out;
}

Json thread(const Input& input) {
  static const TicketPattern kNoPattern("");
  const Thread hints =
      threadHints(*input.message, input.rcpt_to, input.ticket_pattern != nullptr ? *input.ticket_pattern : kNoPattern);
  Json list = Json::array();
  for (const ThreadHint& hint : hints.hints) {
    list.push_back(Json{{"value", hint.value}, {"source", hint.source}});
  }
  return Json{{"ticket", orNull(hints.ticket)},
              {"hints", std::move(list)},
              {"subject_normalized", hints.subject_normalized}};
}

Json headers(const mime::Message& message) {
  Json out = Json::array();
  for (const mime::HeaderField& field : message.headers) {
    out.push_back(Json{{"name", field.name}, {"value", field.value}});
  }
  return out;
}

}  // namespace

std::string buildInbound(const Input& input) {
  if (input.record == nullptr || input.message == nullptr) {
    throw std::invalid_argument("buildInbound needs a record and a parsed message");
  }
  const spool::MessageRecord& record = *input.record;
  const mime::Message& message = *input.message;
  Json data{{"id", record.id.str()},
            {"tenant", input.tenant},
            {"received_at", formatRfc3339(record.received_at_us, 3)},
            {"envelope", envelope(input)},
            {"message_id", orNull(message.message_id)},
            {"in_reply_to", strings(message.in_reply_to)},
            {"references", strings(message.references)},
            {"date", orNull(message.date)},
            {"subject", message.subject},
            {"from", mailbox(message.from)},
            {"sender", mailbox(message.sender)},
            {"reply_to", mailboxes(message.reply_to)},
            {"to", mailboxes(message.to)},
            {"cc", mailboxes(message.cc)},
            {"text", message.text},
            {"html", message.html},
            {"headers", headers(message)},
            {"auth", auth(input)},
            {"virus", virus(record.verdicts)},
            {"links", Json{{"mode", input.links_mode}, {"rewritten", input.links_rewritten}}},
            {"auto_submitted", message.auto_submitted},
            {"is_auto_reply", message.is_auto_reply},
            {"is_bounce", message.is_bounce || record.mail_from.empty()},
            {"attachments", attachments(message, input.inline_attachments_max)},
            {"thread", thread(input)},
            {"structure", message.structure},
            {"truncated", message.truncated}};
  const Json document{{"type", "inbound.message.received"},
                      {"timestamp", formatRfc3339(input.timestamp_us, 3)},
                      {"data", std::move(data)}};
  return document.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace mxgate::payload
