// Delivery status notifications for relayed inbound mail and for tenants' own outbound mail
// (see Scheduler::returnToSender):
// RFC 5321 §6.1 (once accepted, a message is delivered or its sender is told), RFC 3464 (the
// report, built by smtp::buildDsn), RFC 3834 §2 (never to the null sender). Control loop.
#include <algorithm>

#include "mxgate/base/log.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/smtp/dsn.h"

namespace mxgate::scheduler {
namespace {

// Whose failures go back to the sender. Inbound: only the mail of tenants relaying to an SMTP
// next hop — a webhook or file target is the tenant's own system, whose failures are dead
// letters to replay, not the sender's news. Outbound (a tenant's own authenticated mail): as
// its [outbound] policy says, dsn for SMTP submissions, api_dsn for the send API.
bool reportedToSender(const config::Config& config, const spool::MessageRecord& record, const std::string& tenant) {
  const config::Tenant* found = config.tenantById(tenant);
  if (found == nullptr) {
    return false;
  }
  switch (record.origin) {
    case spool::Origin::Inbound: return found->delivery.kind == config::DeliveryKind::Smtp;
    case spool::Origin::Submission: return found->outbound.dsn;
    case spool::Origin::Api: return found->outbound.api_dsn;
  }
  return false;
}

// The header section of the stored message (our Received: first), with our own fields in front.
std::string returnedHeaders(const spool::MessageRecord& record, const std::string* body) {
  std::string headers = record.headers;
  if (body != nullptr) {
    const size_t end = body->find("\r\n\r\n");
    headers.append(*body, 0, end == std::string::npos ? body->size() : end + 2);
  }
  return headers;
}

}  // namespace

void Scheduler::returnToSender(const config::Config* config, const spool::MessageRecord& record,
                               const std::vector<FailedRecipient>& failed, uint64_t now, spool::Batch& batch) {
  if (config == nullptr) {
    return;
  }
  std::vector<FailedRecipient> returned;
  std::copy_if(failed.begin(), failed.end(), std::back_inserter(returned), [&](const FailedRecipient& failure) {
    return reportedToSender(*config, record, record.recipients[failure.index].tenant);
  });
  if (returned.empty()) {
    return;
  }
  std::string_view not_sent;
  if (record.mail_from.empty()) {
    not_sent = "null_sender";
  } else if (!record.outbound() && record.verdicts.spf != "pass" && record.verdicts.dmarc != "pass") {
    // The sender may be forged: no backscatter. (An outbound sender is an authenticated
    // tenant's own address: sender binding checked it.)
    not_sent = "unauthenticated_sender";
  } else if (resolver_(std::string(delivery::kBounceRoute), false) == nullptr) {
    not_sent = "bounces_disabled";  // bounces.enabled = false
  }
  if (!not_sent.empty()) {
    ++dsn_not_sent_;
    log::warn(record.id.str(), "dsn_not_sent").kv("reason", not_sent).kv("from", record.mail_from).kv("rcpts", returned.size());
    return;
  }

  const auto cached = cache_.find(record.id);
  const std::string headers =
      returnedHeaders(record, cached != cache_.end() && cached->second.body ? cached->second.body.get() : nullptr);
  smtp::DsnReport report;
  report.reporting_mta = config->node.hostname;
  report.sender = record.mail_from;
  report.queue_id = record.id.str();
  report.arrival_us = record.received_at_us;
  report.created_us = now;
  report.original_headers = headers;
  for (const FailedRecipient& failure : returned) {
    const spool::RecipientRecord& recipient = record.recipients[failure.index];
    const bool expired = recipient.last_reply.starts_with(kExpiredReply);
    const config::Tenant* tenant = config->tenantById(recipient.tenant);
    // The exchanger that answered; for relayed inbound mail the tenant's next hop when none did.
    std::string remote_mta = failure.remote_host;
    if (remote_mta.empty() && !record.outbound()) {
      remote_mta = tenant->delivery.host;
    }
    report.recipients.push_back(smtp::DsnRecipient{recipient.address, smtp::DsnAction::Failed,
                                                   smtp::dsnStatus(recipient.last_reply, expired ? "4.4.7" : "5.0.0"),
                                                   std::move(remote_mta), recipient.last_reply, now});
  }
  smtp::DsnMessage dsn = smtp::buildDsn(report);

  spool::MessageRecord notification;
  notification.id = mail::QueueId::generate();
  notification.state = spool::MessageState::Queued;
  notification.received_at_us = now;
  notification.next_attempt_us = now;
  notification.smtputf8 = dsn.utf8;
  notification.eightbit = dsn.utf8;
  notification.body_size = dsn.text.size();
  notification.body_chunks = 1;
  notification.body_crc32 = spool::crc32(0, dsn.text);
  spool::RecipientRecord sender;
  sender.address = record.mail_from;
  sender.tenant = std::string(delivery::kBounceRoute);
  notification.recipients.push_back(std::move(sender));
  batch.putBodyChunk(notification.id, 0, dsn.text);
  batch.putMessage(notification);
  ++dsn_queued_;
  log::info(record.id.str(), "dsn_queued")
      .kv("dsn", notification.id.str())
      .kv("to", record.mail_from)
      .kv("rcpts", returned.size());
  enqueue(std::move(notification), std::make_shared<const std::string>(std::move(dsn.text)));
}

}  // namespace mxgate::scheduler
