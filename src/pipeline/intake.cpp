// The transaction intake (see include/mxgate/pipeline/intake.h): runs the stage list and
// combines its decisions. Runs on the session's loop thread; stage reports arrive through Post.
#include "mxgate/pipeline/intake.h"

#include <algorithm>

#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {

void fold(Decision& decision, Decision contribution) {
  for (std::string& tag : contribution.tags) {
    decision.tags.push_back(std::move(tag));
  }
  if (contribution.action > decision.action) {
    decision.action = contribution.action;
    decision.reply = contribution.reply;
    decision.reply_argument = std::move(contribution.reply_argument);
    decision.reason = std::move(contribution.reason);
    decision.detail = std::move(contribution.detail);
  }
}

MessageDecision decideMessage(const std::vector<TenantDecision>& decisions) {
  MessageDecision message;
  const auto set = [&message](MessageDecision::Kind kind, const Decision& decision) {
    message.kind = kind;
    message.reply = decision.reply;
    message.reply_argument = decision.reply_argument;
    message.reason = decision.reason;
    message.detail = decision.detail;
  };
  for (const auto& [tenant, decision] : decisions) {
    if (decision.action == Action::TempFail) {
      set(MessageDecision::Kind::TempFail, decision);
      return message;
    }
  }
  const bool all_reject = !decisions.empty() && std::all_of(decisions.begin(), decisions.end(), [](const auto& entry) {
    return entry.decision.action == Action::Reject;
  });
  if (all_reject) {
    set(MessageDecision::Kind::Reject, decisions.front().decision);
    return message;
  }
  for (const auto& [tenant, decision] : decisions) {
    if (decision.action == Action::Reject || decision.action == Action::Quarantine) {
      message.quarantined.push_back(TenantQuarantine{tenant->id, decision.reason, decision.detail});
    }
    for (const std::string& tag : decision.tags) {
      if (std::find(message.tags.begin(), message.tags.end(), tag) == message.tags.end()) {
        message.tags.push_back(tag);
      }
    }
  }
  return message;
}

namespace {

// An authenticated tenant's message runs the outbound stages, everything else the inbound ones.
std::vector<std::unique_ptr<Stage>> stagesFor(const Context& context, const Transaction& transaction) {
  return transaction.outbound() ? outboundStages(context) : inboundStages(context);
}

}  // namespace

Intake::Intake(const Context& context, spool::Store& store, Transaction transaction, Post post)
    : context_(context),
      store_(store),
      transaction_(std::move(transaction)),
      post_(std::move(post)),
      stages_(stagesFor(context_, transaction_)) {
  start();
}

Intake::Intake(const Context& context, spool::Store& store, Transaction transaction, Post post,
               std::vector<std::unique_ptr<Stage>> stages)
    : context_(context),
      store_(store),
      transaction_(std::move(transaction)),
      post_(std::move(post)),
      stages_(std::move(stages)) {
  start();
}

Intake::~Intake() = default;

void Intake::start() {
  for (size_t index = 0; index < stages_.size(); ++index) {
    Stage& stage = *stages_[index];
    stage.post_ = [post = post_, index](std::function<void(Stage&)> report) {
      post([index, report = std::move(report)](Intake& intake) { report(*intake.stages_[index]); });
    };
    stage.on_finished_ = [this] { onStageFinished(); };
  }
  for (const auto& stage : stages_) {
    stage->start(transaction_);
  }
}

bool Intake::needsMessage() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const auto& stage) { return stage->needsMessage(); });
}

Decision Intake::addRecipient(Recipient recipient) {
  for (const auto& stage : stages_) {
    Decision decision = stage->recipient(transaction_, recipient);
    if (decision.action == Action::Reject || decision.action == Action::TempFail) {
      if (!decision.event.empty()) {
        recordRefusal(recipient, decision);
      }
      return decision;
    }
  }
  transaction_.recipients.push_back(std::move(recipient));
  return {};
}

void Intake::content(std::string_view content) {
  if (stages_.empty() || content.empty()) {
    return;
  }
  for (const auto& stage : stages_) {
    stage->content(transaction_, content);
  }
  if (headers_complete_) {
    return;
  }
  // Keep the header section (the session's header limit bounds it) and find its end: the
  // first empty line.
  size_t from = headers_.size();
  headers_.append(content);
  for (size_t pos = from; pos < headers_.size(); ++pos) {
    if (headers_[pos] != '\n' || pos == 0 || headers_[pos - 1] != '\r') {
      continue;
    }
    const size_t line_length = pos + 1 - line_start_;
    if (line_length == 2) {  // an empty line
      headers_.resize(line_start_);
      onHeadersComplete();
      return;
    }
    line_start_ = pos + 1;
  }
  const size_t max_header_size = context_.services != nullptr ? context_.services->max_header_size
                                                              : context_.config.smtp.max_header_size;
  if (headers_.size() > max_header_size + 2) {
    headers_.resize(line_start_);  // the session rejects such a message; stop collecting
    onHeadersComplete();
  }
}

void Intake::onHeadersComplete() {
  headers_complete_ = true;
  for (const auto& stage : stages_) {
    stage->headers(transaction_, headers_);
  }
}

void Intake::finish(std::shared_ptr<const std::string> message, Done done) {
  done_ = std::move(done);
  transaction_.message = std::move(message);
  if (!stages_.empty() && !headers_complete_) {
    onHeadersComplete();  // a message that is all header
  }
  next_finish_ = 0;
  finished_ = 0;
  advance();
}

void Intake::advance() {
  if (advancing_) {
    return;
  }
  advancing_ = true;
  while (next_finish_ < stages_.size() && (!stages_[next_finish_]->waitsForEarlier() || finished_ == next_finish_)) {
    stages_[next_finish_++]->finish(transaction_);
  }
  advancing_ = false;
  if (finished_ == stages_.size()) {
    complete();  // may destroy this object: nothing after this line
  }
}

void Intake::onStageFinished() {
  ++finished_;
  advance();
}

void Intake::complete() {
  for (const auto& stage : stages_) {
    stage->conclude(transaction_);
  }
  std::vector<TenantDecision> decisions;
  for (const Recipient& recipient : transaction_.recipients) {
    const config::Tenant* tenant = context_.config.tenantById(recipient.tenant);
    if (tenant == nullptr || std::any_of(decisions.begin(), decisions.end(),
                                         [tenant](const TenantDecision& entry) { return entry.tenant == tenant; })) {
      continue;
    }
    Decision decision;
    for (const auto& stage : stages_) {
      fold(decision, stage->decide(transaction_, *tenant));
    }
    decisions.push_back(TenantDecision{tenant, std::move(decision)});
  }
  MessageDecision decision = decideMessage(decisions);
  summary_ = summarize(transaction_.verdicts);
  if (decision.kind == MessageDecision::Kind::Accept) {
    header_fields_.clear();
    for (const auto& stage : stages_) {
      header_fields_ += stage->headerFields(transaction_);
    }
    header_fields_ += tagHeader(decision.tags);
    quarantined_ = decision.quarantined;
  }
  if (transaction_.message_replaced) {
    replaced_ = transaction_.message;
  }
  transaction_.message.reset();  // a scan copy is counted in admission's in-flight bytes
  Done done = std::move(done_);
  done_ = nullptr;
  done(decision);  // may destroy this object: nothing after this line
}

}  // namespace mxgate::pipeline
