// The outbound stage list (see include/mxgate/pipeline/outbound_stages.h) and the tenant's
// sending limits. Runs on the session's loop thread (or the send API's) at MAIL.
#include "mxgate/pipeline/outbound_stages.h"

#include <fmt/format.h>

#include "mxgate/base/clock.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {

std::vector<std::unique_ptr<Stage>> outboundStages(const Context& context) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(makeSenderBindingStage(context));
  stages.push_back(makeScheduledSendStage(context));
  if (context.services != nullptr && context.services->suppressions != nullptr) {
    stages.push_back(makeSuppressionStage(context));  // after sender binding, before signing
  }
  if (context.services != nullptr && context.services->auth_lane != nullptr) {
    if (context.services->link_keys) {
      stages.push_back(makeTrackingStage(context));  // before signing: the signature covers it
    }
    stages.push_back(makeDkimSignStage(context));  // last: it signs what will be delivered
  }
  return stages;
}

Decision admitTenantMessage(Services* services, std::string_view tenant) {
  if (services == nullptr || services->tenant_limits == nullptr) {
    return {};
  }
  const shaping::Admission admission = services->tenant_limits->admit(tenant, nowMicros());
  if (admission.admitted) {
    return {};
  }
  Decision refused{Action::TempFail, smtp::ReplyId::TenantLimitExceeded,
                   fmt::format("the tenant's {} is used up, try again in {} s", admission.limit,
                               admission.retry_after_s),
                   "tenant_limit", admission.limit, {}, {}};
  refused.retry_after_s = admission.retry_after_s;
  return refused;
}

}  // namespace mxgate::pipeline
