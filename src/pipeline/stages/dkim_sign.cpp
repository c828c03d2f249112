// The DKIM signing stage (RFC 6376 §5, RFC 8463 dual signing), last of the outbound list: once
// the content is complete it signs, on the auth lane (never the loop thread), exactly the bytes
// delivery sends after the signature — our Received: header field, then the content as stored
// (a submission's content is stored as the client sent it, or as the tracking stage, which this
// one waits for, replaced it; the stages before this one add no headerFields()) — with the keys of the AUTHENTICATED tenant for the From domain, never
// another tenant's. The DKIM-Signature fields go into record.headers through headerFields(),
// in front of the stored body. No key for the From domain: sent unsigned (logged
// dkim_sign=none); a key that cannot sign: 451 4.3.0, the client retries. Runs on the
// session's loop thread; signing on the auth lane, reporting back through reporter().
#include "mxgate/auth/dkim_signer.h"
#include "mxgate/base/log.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

class DkimSignStage : public Stage {
 public:
  explicit DkimSignStage(const Context& context) : config_(context.config), lane_(*context.services->auth_lane) {}

  bool needsMessage() const override { return true; }
  bool waitsForEarlier() const override { return true; }  // tracking may replace the content

  void finish(Transaction& transaction) override {
    const config::Tenant* tenant = config_.tenantById(transaction.tenant);
    if (tenant == nullptr || !transaction.message) {
      auth::DkimSigning none;
      none.error = tenant == nullptr ? "no tenant" : "no message";
      onSigned(transaction.id.str(), std::move(none));
      return;
    }
    auto signer = std::make_shared<auth::DkimSigner>(tenant->dkim);
    const bool queued = lane_.submit([signer, id = transaction.id.str(), received = transaction.received,
                                      message = transaction.message, post = reporter()]() mutable {
      signer->feed(received);
      signer->feed(*message);
      auth::DkimSigning signing = signer->finish();
      post([id = std::move(id), signing = std::move(signing)](Stage& stage) mutable {
        static_cast<DkimSignStage&>(stage).onSigned(id, std::move(signing));
      });
    });
    if (!queued) {
      auth::DkimSigning busy;
      busy.status = auth::DkimSigning::Status::Failed;
      busy.error = "signing queue full";
      onSigned(transaction.id.str(), std::move(busy));
    }
  }

  Decision decide(const Transaction&, const config::Tenant&) const override {
    if (signing_.status != auth::DkimSigning::Status::Failed) {
      return {};
    }
    return Decision{Action::TempFail, smtp::ReplyId::SigningTemporaryFailure, {}, "dkim_sign",
                    "dkim_sign=failed " + signing_.error, {}, {}};
  }

  std::string headerFields(const Transaction&) const override { return signing_.header_fields; }

 private:
  void onSigned(const std::string& id, auth::DkimSigning signing) {
    signing_ = std::move(signing);
    switch (signing_.status) {
      case auth::DkimSigning::Status::Signed:
        log::info(id, "dkim_sign").kv("dkim_sign", "signed").kv("domain", signing_.domain);
        break;
      case auth::DkimSigning::Status::NoKey:
        log::info(id, "dkim_sign").kv("dkim_sign", "none").kv("domain", signing_.domain).kv("detail", signing_.error);
        break;
      case auth::DkimSigning::Status::Failed:
        log::warn(id, "dkim_sign").kv("dkim_sign", "failed").kv("domain", signing_.domain).kv("detail", signing_.error);
        break;
    }
    finished();  // may destroy this stage
  }

  const config::Config& config_;
  io::Lane& lane_;
  auth::DkimSigning signing_;
};

}  // namespace

std::unique_ptr<Stage> makeDkimSignStage(const Context& context) { return std::make_unique<DkimSignStage>(context); }

}  // namespace mxgate::pipeline
