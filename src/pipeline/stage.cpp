// Stage helpers (see include/mxgate/pipeline/stage.h) and the verdict counters
// (include/mxgate/pipeline/services.h). Stage::finished runs on the stage's loop thread;
// the counters on any thread.
#include "mxgate/pipeline/stage.h"

#include <algorithm>

#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {

Decision decisionFor(config::CheckAction action, smtp::ReplyId reply, std::string argument, std::string reason,
                     std::string detail, std::string tag) {
  Decision decision;
  switch (action) {
    case config::CheckAction::Reject: decision.action = Action::Reject; break;
    case config::CheckAction::Quarantine: decision.action = Action::Quarantine; break;
    case config::CheckAction::Tag:
      decision.action = Action::Tag;
      decision.tags.push_back(std::move(tag));
      argument.clear();
      break;
    case config::CheckAction::Accept: return decision;
  }
  decision.reply = reply;
  decision.reply_argument = std::move(argument);
  decision.reason = std::move(reason);
  decision.detail = std::move(detail);
  return decision;
}

bool stopsMessage(config::CheckAction action) {
  return action == config::CheckAction::Reject || action == config::CheckAction::Quarantine;
}

void Stage::finished() {
  on_finished_();  // may destroy this stage: nothing after this line
}

void Counters::count(const Verdicts& verdicts) {
  if (!verdicts.checked) {
    return;
  }
  spf[static_cast<size_t>(verdicts.spf.result)].fetch_add(1, std::memory_order_relaxed);
  size_t best = 6;  // none
  for (const auto& signature : verdicts.dkim) {
    best = std::min(best, static_cast<size_t>(signature.result));  // Pass sorts first
  }
  dkim[best].fetch_add(1, std::memory_order_relaxed);
  dmarc[static_cast<size_t>(verdicts.dmarc.result)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace mxgate::pipeline
