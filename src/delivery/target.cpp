// Helpers shared by the delivery targets (see include/mxgate/delivery/target.h).
#include "mxgate/delivery/target.h"

namespace mxgate::delivery {

Result uniformResult(const Job& job, Outcome outcome, const std::string& reply, std::string remote) {
  Result result;
  result.remote = std::move(remote);
  result.recipients.assign(job.recipients.size(), RecipientResult{outcome, reply});
  return result;
}

Result heldResult(const Job& job, const std::string& limit, uint64_t until_us) {
  Result result = uniformResult(job, Outcome::TempFail, "4.4.5 held back by traffic shaping: " + limit);
  for (RecipientResult& recipient : result.recipients) {
    recipient.held_until_us = until_us;
  }
  return result;
}

Outcome outcomeForCode(int code) {
  if (code >= 200 && code < 300) {
    return Outcome::Delivered;
  }
  if (code >= 500 && code < 600) {
    return Outcome::PermFail;
  }
  return Outcome::TempFail;
}

}  // namespace mxgate::delivery
