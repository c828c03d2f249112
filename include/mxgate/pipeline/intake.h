// The transaction intake: one mail transaction from MAIL to its decision, driven by the SMTP
// session (src/server/session.*), which keeps the protocol and moves the bytes. The intake runs
// the listener's stage list (stage.h): starts it at MAIL, shows it each recipient and the
// content, finishes it at the end of data, gathers each stage's decision for each recipient
// tenant and combines them into one message decision. It records the outcome: the accepted
// message's recipients, Authentication-Results and tag header fields, verdicts, message.accepted
// events and quarantine entries go into the caller's commit batch (queue/README.md); a message
// every tenant rejects gets its message.rejected events.
//
// One reply answers the whole DATA, so: any tenant's temporary failure makes the message 451
// (the client retries for all); only when every tenant rejects is the message rejected; a
// tenant that rejects while another accepts gets its recipients quarantined instead. Tags of
// all tenants go into one X-Mxgate-Tag header field.
//
// An intake lives on its session's loop thread. Reports from other threads come back through
// the Post function the session provides, which runs them only if the session and this intake
// still exist; nothing holds a pointer across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/events/event.h"
#include "mxgate/pipeline/stage.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::pipeline {

struct TenantDecision {
  const config::Tenant* tenant;
  Decision decision;
};

struct TenantQuarantine {
  std::string tenant;
  std::string reason;
  std::string detail;
};

struct MessageDecision {
  enum class Kind { Accept, Reject, TempFail };
  Kind kind = Kind::Accept;
  smtp::ReplyId reply = smtp::ReplyId::Queued;  // for Reject and TempFail
  std::string reply_argument;
  std::string reason;  // for Reject and TempFail: the check that decided ("spf", "virus", ...)
  std::string detail;
  std::vector<TenantQuarantine> quarantined;  // tenants whose recipients go to quarantine
  std::vector<std::string> tags;
};

// Adds a stage's decision to a tenant's: a more severe action replaces the reply, reason and
// detail (the first of equals stays); tags accumulate.
void fold(Decision& decision, Decision contribution);

// The message's decision from its tenants' decisions (in recipient order).
MessageDecision decideMessage(const std::vector<TenantDecision>& decisions);

// Puts the recipients of `quarantined.tenant` still pending in record into quarantine: their
// state, the tenant's quarantine entry (expiring after its quarantine_retention), its audit
// record (actor "system") and, when the tenant wants events, a message.quarantined event go
// into batch, which the caller commits with the record. tenant: the tenant's policy (nullptr:
// the defaults). Returns the entry.
spool::QuarantineRecord quarantineTenant(spool::MessageRecord& record, const TenantQuarantine& quarantined,
                                         const config::Tenant* tenant, uint64_t now_us, spool::Batch& batch);

// The verdicts as kept with the message (record.verdicts) for listings and webhooks.
spool::Verdicts summarize(const Verdicts& verdicts);

// The X-Mxgate-Tag header field for the tags of a message ("" when there are none).
std::string tagHeader(const std::vector<std::string>& tags);

class Intake {
 public:
  // Runs a report on the owning loop thread, if this intake is still the session's current one.
  using Post = std::function<void(std::function<void(Intake&)>)>;
  // The message decision, on the loop thread; may destroy the intake.
  using Done = std::function<void(const MessageDecision&)>;

  // At MAIL: builds the transaction's stages (outboundStages for an authenticated tenant's
  // message, otherwise inboundStages) and starts them.
  Intake(const Context& context, spool::Store& store, Transaction transaction, Post post);
  // Tests: with the given stages.
  Intake(const Context& context, spool::Store& store, Transaction transaction, Post post,
         std::vector<std::unique_ptr<Stage>> stages);
  ~Intake();
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;

  const Transaction& transaction() const { return transaction_; }
  // Some stage needs the whole message at the end.
  bool needsMessage() const;

  // A recipient routed to its tenant: every stage sees it, and the first Reject or TempFail
  // refuses it (returned; with the decision's event, if any, written unsynced for the sending
  // tenant, or the recipient's tenant inbound); otherwise it joins the transaction and Continue
  // is returned.
  Decision addRecipient(Recipient recipient);
  // Our Received: header field, stored in front of the content (before the content starts).
  void setReceived(std::string received) { transaction_.received = std::move(received); }
  // The client's content as it streams (see Stage::content).
  void content(std::string_view content);
  // The content is complete; message: the whole content for stages that need it (or nullptr).
  // The stages are finished in list order, each at once unless it waits for the earlier ones.
  // done runs once every stage has finished, possibly before finish returns.
  void finish(std::shared_ptr<const std::string> message, Done done);
  // After done: the content a stage put in place of the client's (store and deliver this, not
  // what streamed in), or nullptr when the content stays as it came.
  const std::shared_ptr<const std::string>& replacedContent() const { return replaced_; }

  // The message was refused by every tenant (decision.kind Reject): message.rejected events
  // for the tenants that want them, written unsynced.
  void recordRejection(const MessageDecision& decision);
  // The message was accepted: its recipients, added header fields, verdicts, stage and the
  // accepted events and quarantine entries, into record and batch.
  void record(spool::MessageRecord& record, spool::Batch& batch, uint64_t now_us);

 private:
  void start();
  void recordRefusal(const Recipient& recipient, const Decision& decision);
  // An outbound transaction's events carry its tags and metadata.
  void carryOutbound(events::Fields& fields) const;
  void onHeadersComplete();
  void onStageFinished();
  // Finishes the stages whose turn has come; completes once all have finished (may destroy
  // this). Re-entered by a stage that finishes at once: the outer call carries on.
  void advance();
  void complete();

  Context context_;
  spool::Store& store_;
  Transaction transaction_;
  Post post_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::string headers_;  // the header section, collected for Stage::headers
  bool headers_complete_ = false;
  size_t line_start_ = 0;  // offset in headers_ of the current line
  size_t next_finish_ = 0;  // the next stage to finish()
  size_t finished_ = 0;     // stages whose finish has reported
  bool advancing_ = false;
  Done done_;
  // The outcome, for record().
  spool::Verdicts summary_;
  std::string header_fields_;
  std::vector<TenantQuarantine> quarantined_;
  std::shared_ptr<const std::string> replaced_;
};

}  // namespace mxgate::pipeline
