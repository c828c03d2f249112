// Tenant policy decisions over inbound verdicts (see include/mxgate/inbound/policy.h).
// SMTP replies: RFC 7372 (5.7.20 no passing DKIM signature, 5.7.23 SPF validation failed),
// RFC 7489 §6.7 (550 5.7.1 for DMARC), RFC 3463 4.4.3 (directory server failure). Pure.
#include "mxgate/inbound/policy.h"

#include <algorithm>

#include "mxgate/events/event.h"

namespace mxgate::inbound {
namespace {

bool stops(config::CheckAction action) {
  return action == config::CheckAction::Reject || action == config::CheckAction::Quarantine;
}

// Collects contributions and keeps the most severe.
class Judge {
 public:
  void apply(config::CheckAction action, smtp::ReplyId reply, std::string argument, std::string reason,
             std::string detail, std::string tag) {
    switch (action) {
      case config::CheckAction::Reject:
        raise(Disposition::Reject, reply, std::move(argument), std::move(reason), std::move(detail));
        break;
      case config::CheckAction::Quarantine:
        raise(Disposition::Quarantine, reply, std::move(argument), std::move(reason), std::move(detail));
        break;
      case config::CheckAction::Tag:
        decision_.tags.push_back(std::move(tag));
        raise(Disposition::Tag, reply, {}, std::move(reason), std::move(detail));
        break;
      case config::CheckAction::Accept: break;
    }
  }

  void raise(Disposition disposition, smtp::ReplyId reply, std::string argument, std::string reason,
             std::string detail) {
    if (disposition > decision_.disposition) {
      decision_.disposition = disposition;
      decision_.reply = reply;
      decision_.reply_argument = std::move(argument);
      decision_.reason = std::move(reason);
      decision_.detail = std::move(detail);
    }
  }

  void tag(std::string tag) { decision_.tags.push_back(std::move(tag)); }

  Decision take() { return std::move(decision_); }

 private:
  Decision decision_;
};

void judgeSpf(const spf::Outcome& spf, const config::InboundPolicy& policy, Judge& judge) {
  const std::string detail = "spf=" + std::string(spf::name(spf.result)) + " smtp." + spf.identity + "=" + spf.domain;
  switch (spf.result) {
    case spf::Result::Fail:
      judge.apply(policy.spf_fail, smtp::ReplyId::SpfFailed, spf.domain, "spf", detail, "spf=fail");
      break;
    case spf::Result::SoftFail:
      judge.apply(policy.spf_softfail, smtp::ReplyId::SpfFailed, spf.domain, "spf", detail, "spf=softfail");
      break;
    case spf::Result::TempError:
      if (stops(policy.spf_fail)) {
        judge.raise(Disposition::TempFail, smtp::ReplyId::CheckTemporaryFailure, "SPF", "spf", detail);
      }
      break;
    default: break;
  }
}

void judgeDkim(const std::vector<auth::DkimSignature>& signatures, const config::InboundPolicy& policy,
               Judge& judge) {
  if (signatures.empty() || std::any_of(signatures.begin(), signatures.end(), [](const auth::DkimSignature& sig) {
        return sig.result == auth::DkimResult::Pass;
      })) {
    return;
  }
  const bool temporary = std::any_of(signatures.begin(), signatures.end(), [](const auth::DkimSignature& sig) {
    return sig.result == auth::DkimResult::TempError;
  });
  const auth::DkimSignature& first = signatures.front();
  const std::string detail =
      "dkim=" + std::string(auth::name(first.result)) + " header.d=" + first.domain + " (" + first.reason + ")";
  if (temporary) {
    if (stops(policy.dkim_fail)) {
      judge.raise(Disposition::TempFail, smtp::ReplyId::CheckTemporaryFailure, "DKIM", "dkim", detail);
    }
    return;
  }
  judge.apply(policy.dkim_fail, smtp::ReplyId::DkimFailed, {}, "dkim", detail, "dkim=fail");
}

void judgeDmarc(const auth::FromDomain& from, const auth::DmarcOutcome& dmarc, const config::InboundPolicy& policy,
                Judge& judge) {
  if (from.status == auth::FromDomain::Status::Multiple) {
    // RFC 7489 §6.6.1: an ambiguous author is the spoofing shape itself (CERT VU#517845).
    judge.apply(policy.dmarc_reject, smtp::ReplyId::DmarcFailed, "the author (several From mailboxes)", "dmarc",
                "dmarc=fail (multiple From mailboxes)", "dmarc=fail");
    return;
  }
  const std::string detail = "dmarc=" + std::string(auth::name(dmarc.result)) + " (p=" +
                             (dmarc.policy.empty() ? "none" : dmarc.policy) + ") header.from=" + dmarc.from_domain;
  if (dmarc.result == auth::DmarcResult::TempError) {
    if (stops(policy.dmarc_reject) || stops(policy.dmarc_quarantine)) {
      judge.raise(Disposition::TempFail, smtp::ReplyId::CheckTemporaryFailure, "DMARC", "dmarc", detail);
    }
    return;
  }
  if (dmarc.result != auth::DmarcResult::Fail) {
    return;
  }
  config::CheckAction action = dmarc.policy == "reject"       ? policy.dmarc_reject
                               : dmarc.policy == "quarantine" ? policy.dmarc_quarantine
                                                              : policy.dmarc_none;
  judge.apply(action, smtp::ReplyId::DmarcFailed, dmarc.from_domain, "dmarc", detail, "dmarc=fail");
}

void judgeScan(const scan::ScanResult& scan, const config::InboundPolicy& policy, config::ScanFailure failure,
               bool before_accept, Judge& judge) {
  switch (scan.verdict) {
    case scan::Verdict::Clean: return;
    case scan::Verdict::Infected: {
      // Before the 250 a hit is refused (the point of scanning there); after it there is no one
      // to reject to. tag and accept are the tenant's explicit choice either way.
      config::CheckAction action = policy.virus;
      if (action == config::CheckAction::Reject || action == config::CheckAction::Quarantine) {
        action = before_accept ? config::CheckAction::Reject : config::CheckAction::Quarantine;
      }
      judge.apply(action, smtp::ReplyId::VirusFound, scan.name, "virus", "virus=" + scan.name, "virus=" + scan.name);
      return;
    }
    case scan::Verdict::LimitExceeded:
    case scan::Verdict::Error: {
      const std::string detail = "virus-scan=" + std::string(scan::name(scan.verdict)) + " " +
                                 (scan.name.empty() ? scan.error : scan.name);
      if (failure == config::ScanFailure::Open) {
        judge.tag("virus-scan=" + std::string(scan::name(scan.verdict)));
        judge.raise(Disposition::Tag, smtp::ReplyId::Queued, {}, "scan_failed", detail);
      } else if (before_accept) {
        judge.raise(Disposition::TempFail, smtp::ReplyId::ScanTemporaryFailure, {}, "scan_failed", detail);
      } else {
        judge.raise(Disposition::Quarantine, smtp::ReplyId::Queued, {}, "scan_failed", detail);
      }
      return;
    }
  }
}

}  // namespace

Decision decide(const Verdicts& verdicts, const config::InboundPolicy& policy, config::ScanFailure scan_failure,
                bool scanned_before_accept) {
  Judge judge;
  if (verdicts.checked) {
    judgeSpf(verdicts.spf, policy, judge);
    judgeDkim(verdicts.dkim, policy, judge);
    judgeDmarc(verdicts.from, verdicts.dmarc, policy, judge);
  }
  if (verdicts.scan) {
    judgeScan(*verdicts.scan, policy, scan_failure, scanned_before_accept, judge);
  }
  return judge.take();
}

MessageDecision decideMessage(const Verdicts& verdicts, const std::vector<const config::Tenant*>& tenants,
                              config::ScanFailure scan_failure, bool scanned_before_accept) {
  MessageDecision message;
  std::vector<std::pair<const config::Tenant*, Decision>> decisions;
  decisions.reserve(tenants.size());
  for (const config::Tenant* tenant : tenants) {
    decisions.emplace_back(tenant, decide(verdicts, tenant->inbound, scan_failure, scanned_before_accept));
  }
  const auto set = [&message](MessageDecision::Kind kind, const Decision& decision) {
    message.kind = kind;
    message.reply = decision.reply;
    message.reply_argument = decision.reply_argument;
    message.reason = decision.reason;
    message.detail = decision.detail;
  };
  for (const auto& [tenant, decision] : decisions) {
    if (decision.disposition == Disposition::TempFail) {
      set(MessageDecision::Kind::TempFail, decision);
      return message;
    }
  }
  const bool all_reject = !decisions.empty() && std::all_of(decisions.begin(), decisions.end(), [](const auto& entry) {
    return entry.second.disposition == Disposition::Reject;
  });
  if (all_reject) {
    set(MessageDecision::Kind::Reject, decisions.front().second);
    return message;
  }
  for (const auto& [tenant, decision] : decisions) {
    if (decision.disposition == Disposition::Reject || decision.disposition == Disposition::Quarantine) {
      message.quarantined.push_back(TenantQuarantine{tenant->id, decision.reason, decision.detail});
    }
    for (const std::string& tag : decision.tags) {
      if (std::find(message.tags.begin(), message.tags.end(), tag) == message.tags.end()) {
        message.tags.push_back(tag);
      }
    }
  }
  return message;
}

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

}  // namespace mxgate::inbound
