// The inbound stage list (see include/mxgate/pipeline/inbound_stages.h). Runs on the session's
// loop thread at MAIL.
#include "mxgate/pipeline/inbound_stages.h"

#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {

std::vector<std::unique_ptr<Stage>> inboundStages(const Context& context) {
  std::vector<std::unique_ptr<Stage>> stages;
  if (context.listener.role != config::ListenerRole::Inbound || context.services == nullptr) {
    return stages;
  }
  if (context.listener.auth_checks && context.services->resolver != nullptr) {
    stages.push_back(makeSpfStage(context));
    stages.push_back(makeDkimStage(context));
    stages.push_back(makeDmarcStage(context));  // after SPF and DKIM: it evaluates their results
  }
  if (context.listener.scan_before_accept && context.services->scanner != nullptr) {
    stages.push_back(makeScanStage(context));
  }
  return stages;
}

}  // namespace mxgate::pipeline
