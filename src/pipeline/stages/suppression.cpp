// The suppression stage of the outbound list (outbound_stages.h): a recipient on the sending
// tenant's suppression list (spool/suppression.h: added by a hard bounce of earlier mail, or by
// the tenant's operator) is refused at RCPT with 550 5.1.1 saying it is suppressed, and the
// intake records a message.suppressed event for the tenant. Only the sending tenant's own list
// counts: another tenant's entry for the same address never refuses it. Runs on the session's
// loop thread; the lookup is the store's in-memory index (no spool read).
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

class SuppressionStage : public Stage {
 public:
  explicit SuppressionStage(const spool::SuppressionList& list) : list_(list) {}

  Decision recipient(const Transaction& transaction, const Recipient& recipient) override {
    const std::string address = recipient.address.str();
    if (!transaction.outbound() || !list_.suppressed(transaction.tenant, address)) {
      return {};
    }
    Decision decision;
    decision.action = Action::Reject;
    decision.reply = smtp::ReplyId::SuppressedRecipient;
    decision.reply_argument = address;
    decision.reason = "suppressed";
    decision.detail = "on tenant " + transaction.tenant + "'s suppression list";
    decision.event = "message.suppressed";
    return decision;
  }

 private:
  const spool::SuppressionList& list_;
};

}  // namespace

std::unique_ptr<Stage> makeSuppressionStage(const Context& context) {
  return std::make_unique<SuppressionStage>(*context.services->suppressions);
}

}  // namespace mxgate::pipeline
