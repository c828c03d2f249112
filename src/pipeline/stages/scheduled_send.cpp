// The scheduled send stage of the outbound list (outbound_stages.h): an SMTP submission asks
// for a later delivery with one X-Mxgate-Send-At field (Unix seconds or an RFC 3339 date-time,
// at most queue.send_at_horizon ahead), the counterpart of the send API's send_at. The field
// never leaves the gateway: the session's forged-field stripper removes every X-Mxgate-* field
// from a submission before it is stored and signed. A field that is not a time, a repeated one
// or one beyond the horizon rejects the message (550 5.6.0) rather than sending it at once.
// Pure; runs on the session's loop thread.
#include "mxgate/auth/header_section.h"
#include "mxgate/base/clock.h"
#include "mxgate/pipeline/outbound_stages.h"

namespace mxgate::pipeline {
namespace {

constexpr std::string_view kField = "X-Mxgate-Send-At";

Decision reject(smtp::ReplyId reply, std::string argument, std::string detail) {
  return Decision{Action::Reject, reply, std::move(argument), "send_at", std::move(detail), {}, {}};
}

class ScheduledSendStage : public Stage {
 public:
  explicit ScheduledSendStage(const Context& context) : horizon_(context.config.queue.send_at_horizon) {}

  void headers(Transaction& transaction, std::string_view header_section) override {
    if (transaction.origin != spool::Origin::Submission) {
      return;  // the send API has its own send_at field
    }
    const std::vector<std::string> values = auth::fieldBodies(header_section, kField);
    if (values.empty()) {
      return;
    }
    if (values.size() > 1) {
      decision_ = reject(smtp::ReplyId::SendAtInvalid, "appears more than once", "repeated");
      return;
    }
    const std::optional<uint64_t> seconds = parseTimeSeconds(values.front());
    if (!seconds) {
      decision_ = reject(smtp::ReplyId::SendAtInvalid, "is neither Unix seconds nor an RFC 3339 date-time",
                         "unreadable");
      return;
    }
    const uint64_t horizon_us = static_cast<uint64_t>(horizon_.count()) * 1000000;
    if (*seconds * 1000000 > nowMicros() + horizon_us) {
      decision_ = reject(smtp::ReplyId::SendAtTooLate, std::to_string(horizon_.count()), "beyond the horizon");
      return;
    }
    transaction.send_at_us = *seconds * 1000000;
  }

  Decision decide(const Transaction&, const config::Tenant&) const override { return decision_; }

 private:
  std::chrono::seconds horizon_;
  Decision decision_;
};

}  // namespace

std::unique_ptr<Stage> makeScheduledSendStage(const Context& context) {
  return std::make_unique<ScheduledSendStage>(context);
}

}  // namespace mxgate::pipeline
