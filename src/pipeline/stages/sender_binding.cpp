// The sender binding stage of the outbound list: an authenticated tenant may send only as its
// own domains — the envelope sender at MAIL (bindEnvelopeSender, asked by the session before
// its 250), and once the header section has passed every From and Sender mailbox (RFC 5322
// §3.6.2) and the d= of any DKIM-Signature already present (RFC 6376 §3.5), which decide the
// whole message at the end of data. Pure checks; the stage runs on the session's loop thread.
#include "mxgate/auth/sender_domains.h"
#include "mxgate/pipeline/outbound_stages.h"

namespace mxgate::pipeline {
namespace {

constexpr std::string_view kReason = "sender_binding";

bool owns(const config::Config& config, std::string_view tenant, std::string_view domain) {
  const config::Tenant* owner = config.tenantForDomain(domain);
  return owner != nullptr && owner->id == tenant;
}

Decision reject(smtp::ReplyId reply, std::string argument, std::string detail) {
  return Decision{Action::Reject, reply, std::move(argument), std::string(kReason), std::move(detail), {}, {}};
}

class SenderBindingStage : public Stage {
 public:
  explicit SenderBindingStage(const Context& context) : config_(context.config) {}

  void headers(Transaction& transaction, std::string_view header_section) override {
    decision_ = bindHeaderSenders(config_, transaction.tenant, header_section);
  }

  Decision decide(const Transaction&, const config::Tenant&) const override { return decision_; }

 private:
  const config::Config& config_;
  Decision decision_;
};

}  // namespace

std::unique_ptr<Stage> makeSenderBindingStage(const Context& context) {
  return std::make_unique<SenderBindingStage>(context);
}

Decision bindEnvelopeSender(const config::Config& config, std::string_view tenant, const mail::Address& sender) {
  if (sender.isNull() || owns(config, tenant, sender.domain)) {
    return {};
  }
  return reject(smtp::ReplyId::SenderNotOwned, sender.str(), "mail_from=" + sender.str());
}

Decision bindHeaderSenders(const config::Config& config, std::string_view tenant, std::string_view header_section) {
  const auth::SenderDomains found = auth::extractSenderDomains(header_section);
  if (!found.unreadable.empty()) {
    return reject(smtp::ReplyId::HeaderSenderUnreadable, found.unreadable, "unreadable " + found.unreadable);
  }
  const auto check = [&](const std::vector<std::string>& domains, std::string_view what) -> Decision {
    for (const std::string& domain : domains) {
      if (!owns(config, tenant, domain)) {
        const std::string argument = std::string(what) + domain;
        return reject(smtp::ReplyId::HeaderSenderNotOwned, argument, argument);
      }
    }
    return {};
  };
  for (Decision decision : {check(found.from, "From domain "), check(found.sender, "Sender domain "),
                            check(found.dkim, "DKIM-Signature d=")}) {
    if (decision.action == Action::Reject) {
      return decision;
    }
  }
  return {};
}

}  // namespace mxgate::pipeline
