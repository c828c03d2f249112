// The DKIM stage (RFC 6376, RFC 8463): hashes the content as it streams, prefetches the keys
// its signatures name through the async resolver once the header section has passed (so the
// lane's blocking lookups are usually cache hits), verifies at the end on the auth lane, and
// judges the result under the tenant's dkim_fail action: a temporary error where the tenant
// would stop the message gives 451 4.4.3, a failure 550 5.7.20 (RFC 7372). Runs on the
// session's loop thread; verification on the auth lane, reporting back through reporter().
#include <algorithm>

#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

class DkimStage : public Stage {
 public:
  explicit DkimStage(const Context& context) : services_(*context.services) {
    dns::Resolver* resolver = services_.resolver;
    verifier_ = std::make_unique<auth::DkimVerifier>(services_.dkim, [resolver](const std::string& name) {
      return resolver->queryBlocking(name, dns::RrType::TXT);
    });
  }

  void content(Transaction&, std::string_view content) override { verifier_->feed(content); }

  void headers(Transaction&, std::string_view) override {
    for (const std::string& name : verifier_->keyNames()) {
      services_.resolver->query(name, dns::RrType::TXT, [](dns::AnswerPtr) {});  // warm the cache
    }
  }

  void finish(Transaction&) override {
    std::shared_ptr<auth::DkimVerifier> verifier(std::move(verifier_));
    const bool queued = services_.auth_lane->submit([verifier, post = reporter()] {
      std::vector<auth::DkimSignature> signatures = verifier->finish();
      post([signatures = std::move(signatures)](Stage& stage) mutable {
        static_cast<DkimStage&>(stage).onVerified(std::move(signatures));
      });
    });
    if (!queued) {
      auth::DkimSignature busy;
      busy.result = auth::DkimResult::TempError;
      busy.reason = "verification queue full";
      signatures_ = {busy};
      finished();
    }
  }

  void conclude(Transaction& transaction) override { transaction.verdicts.dkim = std::move(signatures_); }

  Decision decide(const Transaction& transaction, const config::Tenant& tenant) const override {
    return judgeDkim(transaction.verdicts.dkim, tenant.inbound);
  }

 private:
  void onVerified(std::vector<auth::DkimSignature> signatures) {
    signatures_ = std::move(signatures);
    finished();  // may destroy this stage
  }

  Services& services_;
  std::unique_ptr<auth::DkimVerifier> verifier_;
  std::vector<auth::DkimSignature> signatures_;
};

}  // namespace

std::unique_ptr<Stage> makeDkimStage(const Context& context) { return std::make_unique<DkimStage>(context); }

Decision judgeDkim(const std::vector<auth::DkimSignature>& signatures, const config::InboundPolicy& policy) {
  if (signatures.empty() || std::any_of(signatures.begin(), signatures.end(), [](const auth::DkimSignature& sig) {
        return sig.result == auth::DkimResult::Pass;
      })) {
    return {};
  }
  const bool temporary = std::any_of(signatures.begin(), signatures.end(), [](const auth::DkimSignature& sig) {
    return sig.result == auth::DkimResult::TempError;
  });
  const auth::DkimSignature& first = signatures.front();
  const std::string detail =
      "dkim=" + std::string(auth::name(first.result)) + " header.d=" + first.domain + " (" + first.reason + ")";
  if (temporary) {
    if (stopsMessage(policy.dkim_fail)) {
      return Decision{Action::TempFail, smtp::ReplyId::CheckTemporaryFailure, "DKIM", "dkim", detail, {}, {}};
    }
    return {};
  }
  return decisionFor(policy.dkim_fail, smtp::ReplyId::DkimFailed, {}, "dkim", detail, "dkim=fail");
}

}  // namespace mxgate::pipeline
