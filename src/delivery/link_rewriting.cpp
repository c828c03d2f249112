// Link rewriting in front of any delivery target (see include/mxgate/delivery/link_rewriting.h).
// deliver() on any thread; the rewrite on the payload lane.
#include "mxgate/delivery/link_rewriting.h"

namespace mxgate::delivery {

std::string_view linkModeName(config::LinkMode mode) {
  switch (mode) {
    case config::LinkMode::SafeLinks: return "safe_links";
    case config::LinkMode::On: return "on";
    case config::LinkMode::Off: break;
  }
  return "off";
}

links::Result rewriteJobLinks(const Job& job, const std::string& message, const config::LinkPolicy& policy,
                              const std::string& tenant, const LinkContext& context) {
  const links::Key* key = context.keys && !context.keys->keys.empty() ? &context.keys->keys.front() : nullptr;
  if (policy.mode == config::LinkMode::Off || key == nullptr || context.host.empty()) {
    return {};
  }
  links::Settings settings;
  settings.mode = policy.mode == config::LinkMode::On ? links::Mode::Track : links::Mode::SafeLinks;
  settings.host = context.host;
  settings.tenant = tenant;
  settings.key = key;
  settings.allow_hosts = policy.allow_hosts;
  settings.rewrite_text = policy.rewrite_text;
  return links::rewriteMessage(message, job.id.str(), settings);
}

LinkRewritingTarget::LinkRewritingTarget(Target& inner, const config::Tenant& tenant, LinkContext context,
                                         io::Lane& lane)
    : inner_(inner), tenant_(tenant.id), policy_(tenant.links), context_(std::move(context)), lane_(lane) {}

void LinkRewritingTarget::deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) {
  auto task = [this, job, done] {
    links::Result rewritten = rewriteJobLinks(*job, job->headers + *job->body, policy_, tenant_, context_);
    if (!rewritten.changed) {
      inner_.deliver(job, done);
      return;
    }
    auto copy = std::make_shared<Job>(*job);
    copy->headers.clear();  // they are at the front of the rewritten message
    copy->body = std::make_shared<const std::string>(std::move(rewritten.message));
    inner_.deliver(std::move(copy), done);
  };
  if (!lane_.submit(task)) {
    done(uniformResult(*job, Outcome::TempFail, "link rewriting lane is full", inner_.describe()));
  }
}

std::string LinkRewritingTarget::describe() const { return inner_.describe() + " (links " + std::string(linkModeName(policy_.mode)) + ")"; }

}  // namespace mxgate::delivery
