// What the intake records (see include/mxgate/pipeline/intake.h): the accepted message's
// recipients, added header fields, verdicts, message.accepted events and quarantine entries
// into its commit batch; message.rejected events for a refused one, and a refused recipient's
// event (message.suppressed). Spool format:
// queue/README.md. Runs on the session's loop thread (quarantineTenant, summarize and tagHeader
// are pure and also run on the scheduler's thread).
#include <algorithm>

#include "mxgate/base/clock.h"
#include "mxgate/events/event.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

// The event fields of a refusal: the transaction's envelope, the reply sent and the reason.
events::Fields refusalFields(const Transaction& transaction, smtp::ReplyId reply, const std::string& argument,
                             const std::string& reason) {
  events::Fields fields;
  fields.queue_id = transaction.id.str();
  fields.mail_from = transaction.mail_from;
  fields.remote = transaction.client_ip;
  fields.reply = smtp::renderReply(reply, argument);
  while (!fields.reply.empty() && (fields.reply.back() == '\n' || fields.reply.back() == '\r')) {
    fields.reply.pop_back();
  }
  fields.reason = reason;
  return fields;
}

}  // namespace

spool::QuarantineRecord quarantineTenant(spool::MessageRecord& record, const TenantQuarantine& quarantined,
                                         const config::Tenant* tenant, uint64_t now_us, spool::Batch& batch) {
  const std::chrono::seconds retention =
      tenant != nullptr ? tenant->inbound.quarantine_retention : config::InboundPolicy{}.quarantine_retention;
  spool::QuarantineRecord entry;
  entry.tenant = quarantined.tenant;
  entry.id = record.id;
  entry.reason = quarantined.reason;
  entry.detail = quarantined.detail;
  entry.quarantined_at_us = now_us;
  entry.expires_at_us = now_us + static_cast<uint64_t>(retention.count()) * 1000000;
  entry.mail_from = record.mail_from;
  entry.size = record.body_size;
  for (spool::RecipientRecord& recipient : record.recipients) {
    if (recipient.tenant == entry.tenant && recipient.state == spool::RecipientState::Pending) {
      recipient.state = spool::RecipientState::Quarantined;
      entry.recipients.push_back(recipient.address);
    }
  }
  batch.putQuarantine(entry);
  batch.putAudit(spool::AuditRecord{now_us, "system", "quarantine", entry.tenant, record.id.str(),
                                    entry.reason + ": " + entry.detail});
  if (tenant != nullptr && !tenant->events.url.empty()) {
    events::Fields fields;
    fields.queue_id = record.id.str();
    fields.recipients = entry.recipients;
    fields.mail_from = record.mail_from;
    fields.reason = entry.reason;
    fields.detail = entry.detail;
    const events::Event event = events::make("message.quarantined", entry.tenant, now_us, fields);
    batch.putEvent(event.key, event.record);
  }
  return entry;
}

spool::Verdicts summarize(const Verdicts& verdicts) {
  spool::Verdicts summary;
  if (verdicts.checked) {
    summary.spf = std::string(spf::name(verdicts.spf.result));
    summary.spf_domain = verdicts.spf.domain;
    for (const auth::DkimSignature& signature : verdicts.dkim) {
      summary.dkim.push_back(
          spool::DkimVerdict{std::string(auth::name(signature.result)), signature.domain, signature.selector,
                             signature.algorithm});
    }
    summary.dmarc = std::string(auth::name(verdicts.dmarc.result));
    summary.dmarc_policy = verdicts.dmarc.policy;
    summary.from_domain = verdicts.from.domain;
  }
  if (verdicts.scan) {
    summary.virus = std::string(scan::name(verdicts.scan->verdict));
    summary.virus_name = verdicts.scan->name;
  }
  return summary;
}

std::string tagHeader(const std::vector<std::string>& tags) {
  if (tags.empty()) {
    return {};
  }
  std::string header = "X-Mxgate-Tag: ";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) {
      header += ",\r\n ";  // one tag per line keeps every line short
    }
    for (char c : tags[i].substr(0, 200)) {
      const auto byte = static_cast<unsigned char>(c);
      header.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);  // names come from outside: no CR/LF
    }
  }
  header += "\r\n";
  return header;
}

void Intake::carryOutbound(events::Fields& fields) const {
  fields.outbound = transaction_.outbound();
  fields.tags = transaction_.tags;
  fields.metadata = transaction_.metadata;
}

void Intake::record(spool::MessageRecord& record, spool::Batch& batch, uint64_t now_us) {
  record.headers = std::move(header_fields_);
  record.verdicts = std::move(summary_);
  record.origin = transaction_.origin;
  record.auth_user = transaction_.auth_user;
  record.tags = transaction_.tags;
  record.metadata = transaction_.metadata;
  if (transaction_.send_at_us > now_us) {  // a time already past goes now
    record.send_at_us = transaction_.send_at_us;
    record.next_attempt_us = std::max(record.next_attempt_us, record.send_at_us);
  }
  if (context_.listener.role == config::ListenerRole::Inbound && context_.services != nullptr &&
      context_.services->scanner != nullptr && !context_.listener.scan_before_accept) {
    record.stage = spool::Stage::Scan;  // scanned after the commit
  }
  std::vector<std::pair<std::string, std::string>> addressed;
  for (const Recipient& recipient : transaction_.recipients) {
    spool::RecipientRecord entry;
    entry.address = recipient.address.str();
    entry.tenant = recipient.tenant;
    addressed.emplace_back(entry.address, entry.tenant);
    record.recipients.push_back(std::move(entry));
  }
  events::Fields accepted;
  accepted.queue_id = transaction_.id.str();
  accepted.mail_from = record.mail_from;
  accepted.remote = transaction_.client_ip;
  carryOutbound(accepted);
  events::addPerTenant("message.accepted", addressed, &context_.config, now_us, accepted, batch);
  for (const TenantQuarantine& entry : quarantined_) {
    quarantineTenant(record, entry, context_.config.tenantById(entry.tenant), now_us, batch);
  }
  if (!record.hasPending()) {
    record.state = spool::MessageState::Held;
  }
  quarantined_.clear();
}

void Intake::recordRejection(const MessageDecision& decision) {
  std::vector<std::pair<std::string, std::string>> addressed;
  for (const Recipient& recipient : transaction_.recipients) {
    addressed.emplace_back(recipient.address.str(), recipient.tenant);
  }
  events::Fields fields = refusalFields(transaction_, decision.reply, decision.reply_argument, decision.reason);
  carryOutbound(fields);
  spool::Batch batch;
  events::addPerTenant("message.rejected", addressed, &context_.config, nowMicros(), fields, batch);
  if (!batch.empty()) {
    store_.submit(std::move(batch), false, nullptr);
  }
}

void Intake::recordRefusal(const Recipient& recipient, const Decision& decision) {
  events::Fields fields = refusalFields(transaction_, decision.reply, decision.reply_argument, decision.reason);
  fields.detail = decision.detail;
  carryOutbound(fields);
  spool::Batch batch;
  events::addPerTenant(decision.event, {{recipient.address.str(), recipient.tenant}}, &context_.config, nowMicros(),
                       fields, batch);
  if (!batch.empty()) {
    store_.submit(std::move(batch), false, nullptr);
  }
}

}  // namespace mxgate::pipeline
