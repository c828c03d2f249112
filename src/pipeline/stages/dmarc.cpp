// The DMARC stage (RFC 7489): fetches the author domain's _dmarc record as soon as the From
// header has passed (and the organizational domain's when there is none, §6.6.3), evaluates
// alignment and policy once SPF and DKIM are in, and judges the result under the tenant's
// dmarc_reject / dmarc_quarantine / dmarc_none actions (550 5.7.1, §6.7; an ambiguous author is
// a failure, §6.6.1; a temporary error where the tenant would stop the message gives 451 4.4.3).
// It ends the authentication checks, so it writes our Authentication-Results (RFC 8601) and
// counts the verdicts. Runs on the session's loop thread; DNS answers report through reporter().
#include "mxgate/auth/authres.h"
#include "mxgate/base/ascii.h"
#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

bool hasDmarcRecord(const dns::AnswerPtr& answer) {
  if (!answer || answer->status != dns::Status::Ok) {
    return false;
  }
  for (const std::string& text : answer->texts) {
    if (ascii::startsWithIgnoreCase(text, "v=DMARC1")) {
      return true;
    }
  }
  return false;
}

class DmarcStage : public Stage {
 public:
  explicit DmarcStage(const Context& context) : services_(*context.services), authserv_id_(context.authserv_id) {}

  void headers(Transaction& transaction, std::string_view header_section) override {
    transaction.verdicts.from = auth::extractFromDomain(header_section);
    if (transaction.verdicts.from.status != auth::FromDomain::Status::Ok) {
      return;
    }
    from_domain_ = transaction.verdicts.from.domain;
    pending_ = true;
    services_.resolver->query("_dmarc." + from_domain_, dns::RrType::TXT, [post = reporter()](dns::AnswerPtr answer) {
      post([answer](Stage& stage) { static_cast<DmarcStage&>(stage).onAnswer(false, answer); });
    });
  }

  void finish(Transaction&) override {
    finishing_ = true;
    if (!pending_) {
      finished();
    }
  }

  void conclude(Transaction& transaction) override {
    Verdicts& verdicts = transaction.verdicts;
    verdicts.checked = true;
    verdicts.dmarc = auth::evaluateDmarc(verdicts.from, from_answer_, org_answer_, verdicts.spf,
                                         transaction.mail_from_domain, verdicts.dkim);
    services_.counters.count(verdicts);
  }

  Decision decide(const Transaction& transaction, const config::Tenant& tenant) const override {
    return judgeDmarc(transaction.verdicts.from, transaction.verdicts.dmarc, tenant.inbound);
  }

  std::string headerFields(const Transaction& transaction) const override {
    auth::AuthFacts facts;
    facts.spf = transaction.verdicts.spf;
    facts.mail_from = transaction.mail_from;
    facts.helo = transaction.helo;
    facts.dkim = transaction.verdicts.dkim;
    facts.dmarc = transaction.verdicts.dmarc;
    return auth::buildAuthenticationResults(authserv_id_, facts);
  }

 private:
  void onAnswer(bool organizational, dns::AnswerPtr answer) {
    if (organizational) {
      org_answer_ = std::move(answer);
    } else {
      from_answer_ = answer;
      // RFC 7489 §6.6.3: no record at the author domain -> the organizational domain's record.
      const std::string org = auth::organizationalDomain(from_domain_);
      if (!answer->temporary() && !hasDmarcRecord(answer) && !org.empty() && org != from_domain_) {
        services_.resolver->query("_dmarc." + org, dns::RrType::TXT, [post = reporter()](dns::AnswerPtr org_answer) {
          post([org_answer](Stage& stage) { static_cast<DmarcStage&>(stage).onAnswer(true, org_answer); });
        });
        return;
      }
    }
    pending_ = false;
    if (finishing_) {
      finished();  // may destroy this stage
    }
  }

  Services& services_;
  std::string authserv_id_;
  std::string from_domain_;
  bool pending_ = false;  // a _dmarc lookup is under way
  bool finishing_ = false;
  dns::AnswerPtr from_answer_;
  dns::AnswerPtr org_answer_;
};

}  // namespace

std::unique_ptr<Stage> makeDmarcStage(const Context& context) { return std::make_unique<DmarcStage>(context); }

Decision judgeDmarc(const auth::FromDomain& from, const auth::DmarcOutcome& dmarc,
                    const config::InboundPolicy& policy) {
  if (from.status == auth::FromDomain::Status::Multiple) {
    // RFC 7489 §6.6.1: an ambiguous author is the spoofing shape itself (CERT VU#517845).
    return decisionFor(policy.dmarc_reject, smtp::ReplyId::DmarcFailed, "the author (several From mailboxes)",
                       "dmarc", "dmarc=fail (multiple From mailboxes)", "dmarc=fail");
  }
  const std::string detail = "dmarc=" + std::string(auth::name(dmarc.result)) + " (p=" +
                             (dmarc.policy.empty() ? "none" : dmarc.policy) + ") header.from=" + dmarc.from_domain;
  if (dmarc.result == auth::DmarcResult::TempError) {
    if (stopsMessage(policy.dmarc_reject) || stopsMessage(policy.dmarc_quarantine)) {
      return Decision{Action::TempFail, smtp::ReplyId::CheckTemporaryFailure, "DMARC", "dmarc", detail, {}, {}};
    }
    return {};
  }
  if (dmarc.result != auth::DmarcResult::Fail) {
    return {};
  }
  const config::CheckAction action = dmarc.policy == "reject"       ? policy.dmarc_reject
                                     : dmarc.policy == "quarantine" ? policy.dmarc_quarantine
                                                                    : policy.dmarc_none;
  return decisionFor(action, smtp::ReplyId::DmarcFailed, dmarc.from_domain, "dmarc", detail, "dmarc=fail");
}

}  // namespace mxgate::pipeline
