// The outbound stage list (see include/mxgate/pipeline/outbound_stages.h). Runs on the
// session's loop thread at MAIL.
#include "mxgate/pipeline/outbound_stages.h"

#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {

std::vector<std::unique_ptr<Stage>> outboundStages(const Context& context) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(makeSenderBindingStage(context));
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

}  // namespace mxgate::pipeline
