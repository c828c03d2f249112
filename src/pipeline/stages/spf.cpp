// The SPF stage (RFC 7208): checks the client's address against the MAIL FROM domain (or the
// HELO name for the null path) from MAIL on, and judges the result under the tenant's
// spf_fail / spf_softfail actions; a temporary DNS error where the tenant would stop the
// message gives 451 4.4.3 (RFC 7208 §8.6), and a failure 550 5.7.23 (RFC 7372). Runs on the
// session's loop thread; the check continues on the resolver's thread and reports back through
// reporter().
#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

class SpfStage : public Stage {
 public:
  explicit SpfStage(const Context& context) : services_(*context.services), hostname_(context.config.node.hostname) {}

  void start(Transaction& transaction) override {
    spf::check(*services_.spf_dns,
               spf::Request{transaction.client_ip, transaction.mail_from, transaction.helo, hostname_},
               [post = reporter()](spf::Outcome outcome) {
                 post([outcome = std::move(outcome)](Stage& stage) mutable {
                   static_cast<SpfStage&>(stage).onOutcome(std::move(outcome));
                 });
               });
  }

  void finish(Transaction&) override {
    finishing_ = true;
    if (outcome_) {
      finished();
    }
  }

  void conclude(Transaction& transaction) override { transaction.verdicts.spf = std::move(*outcome_); }

  Decision decide(const Transaction& transaction, const config::Tenant& tenant) const override {
    return judgeSpf(transaction.verdicts.spf, tenant.inbound);
  }

 private:
  void onOutcome(spf::Outcome outcome) {
    outcome_ = std::move(outcome);
    if (finishing_) {
      finished();  // may destroy this stage
    }
  }

  Services& services_;
  std::string hostname_;
  std::optional<spf::Outcome> outcome_;
  bool finishing_ = false;
};

}  // namespace

std::unique_ptr<Stage> makeSpfStage(const Context& context) { return std::make_unique<SpfStage>(context); }

Decision judgeSpf(const spf::Outcome& spf, const config::InboundPolicy& policy) {
  const std::string detail = "spf=" + std::string(spf::name(spf.result)) + " smtp." + spf.identity + "=" + spf.domain;
  switch (spf.result) {
    case spf::Result::Fail:
      return decisionFor(policy.spf_fail, smtp::ReplyId::SpfFailed, spf.domain, "spf", detail, "spf=fail");
    case spf::Result::SoftFail:
      return decisionFor(policy.spf_softfail, smtp::ReplyId::SpfFailed, spf.domain, "spf", detail, "spf=softfail");
    case spf::Result::TempError:
      if (stopsMessage(policy.spf_fail)) {
        return Decision{Action::TempFail, smtp::ReplyId::CheckTemporaryFailure, "SPF", "spf", detail, {}, {}};
      }
      return {};
    default: return {};
  }
}

}  // namespace mxgate::pipeline
