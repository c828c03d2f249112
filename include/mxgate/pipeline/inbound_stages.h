// The inbound stage list — SPF (RFC 7208), DKIM (RFC 6376/8463), DMARC (RFC 7489) and, for
// listeners that opt in, the virus scan before the 250 — one file per stage under
// src/pipeline/stages/, and the judgement of each check's verdict under a tenant's [inbound]
// policy (pure, any thread; the scheduler judges the scan after the commit with judgeScan).
// Adding a check: a stage file, its line in inboundStages, and its config keys.
#pragma once

#include <memory>
#include <vector>

#include "mxgate/pipeline/stage.h"

namespace mxgate::pipeline {

// The stages of one transaction on an inbound listener, in order; empty on other listeners
// and without services.
std::vector<std::unique_ptr<Stage>> inboundStages(const Context& context);

std::unique_ptr<Stage> makeSpfStage(const Context& context);
std::unique_ptr<Stage> makeDkimStage(const Context& context);
std::unique_ptr<Stage> makeDmarcStage(const Context& context);
std::unique_ptr<Stage> makeScanStage(const Context& context);

Decision judgeSpf(const spf::Outcome& spf, const config::InboundPolicy& policy);
Decision judgeDkim(const std::vector<auth::DkimSignature>& signatures, const config::InboundPolicy& policy);
Decision judgeDmarc(const auth::FromDomain& from, const auth::DmarcOutcome& dmarc,
                    const config::InboundPolicy& policy);
// before_accept: the verdict came before the 250, so a virus may be rejected.
Decision judgeScan(const scan::ScanResult& scan, const config::InboundPolicy& policy, config::ScanFailure failure,
                   bool before_accept);

}  // namespace mxgate::pipeline
