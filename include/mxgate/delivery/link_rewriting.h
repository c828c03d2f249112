// Link rewriting for a tenant's inbound mail, whatever its delivery target: rewriteJobLinks()
// is the one place that turns a tenant's [links] policy into links::rewriteMessage settings
// (the webhook target calls it before building the payload), and LinkRewritingTarget puts it
// in front of a file or smtp target — the message is rewritten on the payload lane (after the
// authentication checks, whose verdicts are already in the header fields it carries) and the
// rewritten copy is handed to the inner target.
//
// Thread-safe; rewriting runs on the payload lane.
#pragma once

#include <memory>
#include <string>

#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::delivery {

// What rewriting needs from the node.
struct LinkContext {
  std::shared_ptr<const links::KeyRing> keys;  // the first key signs
  std::string host;                            // links.host; "" = rewriting unavailable
};

// The job's message (its header fields and body) with links rewritten per policy; nothing
// changed (result.changed false) when the mode is off or no key or host is configured.
links::Result rewriteJobLinks(const Job& job, const std::string& message, const config::LinkPolicy& policy,
                              const std::string& tenant, const LinkContext& context);

// "off", "safe_links" or "on", as in the policy file and the payload.
std::string_view linkModeName(config::LinkMode mode);

class LinkRewritingTarget : public Target {
 public:
  LinkRewritingTarget(Target& inner, const config::Tenant& tenant, LinkContext context, io::Lane& lane);

  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  std::optional<RetryPolicy> retryPolicy() const override { return inner_.retryPolicy(); }
  uint32_t concurrency() const override { return inner_.concurrency(); }
  const Target& destination() const override { return inner_.destination(); }
  std::string describe() const override;

 private:
  Target& inner_;
  std::string tenant_;
  config::LinkPolicy policy_;
  LinkContext context_;
  io::Lane& lane_;
};

}  // namespace mxgate::delivery
