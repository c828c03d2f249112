// One stage of the message pipeline and what it sees: the transaction (envelope, recipients,
// the verdicts the checks found so far) and the decision it returns. A listener's stages form
// an ordered list that a transaction intake (intake.h) runs: start at MAIL, each recipient
// before its 250, the content as it streams and its header section once that has passed, the
// end of the content (asynchronous completion; a stage may replace the content there, e.g.
// outbound tracking, and a later stage that waits for earlier ones sees the replacement), then
// a decision per recipient tenant. A stage
// only returns decisions; the intake combines them and records the outcome in the spool.
//
// Stages live on their session's loop thread. Asynchronous work reports back through reporter(),
// which runs the report on that thread only if the transaction still exists; nothing here
// holds a pointer across threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/config/config.h"
#include "mxgate/mail/address.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/smtp/replies.h"
#include "mxgate/spf/spf.h"
#include "mxgate/spool/record.h"

namespace mxgate::pipeline {

struct Services;

// In order of severity; of one tenant's decisions the most severe wins.
enum class Action { Continue, Tag, Quarantine, TempFail, Reject };

struct Decision {
  Action action = Action::Continue;
  smtp::ReplyId reply = smtp::ReplyId::Queued;  // for Reject and TempFail
  std::string reply_argument;
  std::string reason;  // the check that decided: "spf", "dkim", "dmarc", "virus", "scan_failed"
  std::string detail;  // what decided, e.g. "dmarc=fail (p=reject) header.from=example.org"
  std::vector<std::string> tags;  // for the X-Mxgate-Tag header, e.g. "spf=fail"
  // A refused recipient: the event the intake records for it ("message.suppressed"), "" = none.
  std::string event;
  // A TempFail that knows when trying again can succeed (a tenant's sending limit): seconds.
  uint64_t retry_after_s = 0;
};

// A tenant's configured action for a failed check as a decision: reject and quarantine with
// reply, argument, reason and detail; tag with the tag (and no reply argument); accept continues.
Decision decisionFor(config::CheckAction action, smtp::ReplyId reply, std::string argument, std::string reason,
                     std::string detail, std::string tag);
// True for the actions that stop a message (reject, quarantine): a temporary error on such a
// check must not turn into a guess.
bool stopsMessage(config::CheckAction action);

// What the inbound checks found.
struct Verdicts {
  bool checked = false;  // SPF, DKIM and DMARC ran (a resolver was configured)
  spf::Outcome spf;
  std::vector<auth::DkimSignature> dkim;
  auth::FromDomain from;
  auth::DmarcOutcome dmarc;
  std::optional<scan::ScanResult> scan;  // scanned before the 250
};

struct Recipient {
  mail::Address address;
  std::string tenant;
};

// One mail transaction, from MAIL to the decision. Owned by the intake.
struct Transaction {
  mail::QueueId id;
  // Who sends: Inbound (relayed to the recipients' tenants), or an authenticated tenant's
  // submission (SMTP) or API message, which runs the outbound stages (outbound_stages.h).
  spool::Origin origin = spool::Origin::Inbound;
  std::string tenant;     // the authenticated (sending) tenant's id; "" inbound
  std::string auth_user;  // the authenticated user name; "" inbound
  std::vector<std::string> tags;                                // the sender's tags (API)
  std::vector<std::pair<std::string, std::string>> metadata;    // the sender's metadata (API)
  bool list_unsubscribe = false;  // the sender asked for RFC 8058 List-Unsubscribe (API)
  // Not delivered before this (µs since the epoch; 0 = at once): the API's send_at, or the
  // X-Mxgate-Send-At field of an SMTP submission (the scheduled send stage).
  uint64_t send_at_us = 0;
  std::string client_ip;
  std::string helo;
  std::string mail_from;  // the reverse path ("" for the null path)
  std::string mail_from_domain;
  std::vector<Recipient> recipients;  // accepted so far
  Verdicts verdicts;
  // The whole content at the end, when a stage needs it (Stage::needsMessage).
  std::shared_ptr<const std::string> message;
  // A stage replaced message (in its finish): the replacement is what is stored and delivered.
  bool message_replaced = false;
  // Our Received: header field, stored (and delivered) in front of the content.
  std::string received;

  bool outbound() const { return origin != spool::Origin::Inbound; }
};

// What a listener's stages are built from, for one transaction. The references outlive it.
struct Context {
  Services* services = nullptr;  // nullptr: no checks (unit tests)
  const config::Config& config;
  const config::Listener& listener;
  std::string_view authserv_id;  // ours, for Authentication-Results (RFC 8601)
};

class Stage {
 public:
  // Runs a report on the owning loop thread with this stage, if its transaction still exists.
  using Post = std::function<void(std::function<void(Stage&)>)>;

  virtual ~Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // MAIL FROM was accepted.
  virtual void start(Transaction&) {}
  // A recipient before its 250: a Reject or TempFail refuses it with the decision's reply.
  virtual Decision recipient(const Transaction&, const Recipient&) { return {}; }
  // The content as the client sent it, as it streams (canonical CRLF, our Received: not
  // included, forged Authentication-Results not yet removed).
  virtual void content(Transaction&, std::string_view) {}
  // The header section has passed (without its empty line), or the content ended without one.
  virtual void headers(Transaction&, std::string_view) {}
  // True: the stage needs the whole message at the end (transaction.message).
  virtual bool needsMessage() const { return false; }
  // The content is complete. The stage calls finished() exactly once when its work is done:
  // here, or later from a report.
  virtual void finish(Transaction&) { finished(); }
  // True: finish() is called only once every earlier stage has finished (it works on their
  // result, e.g. signing the final content); otherwise stages finish concurrently.
  virtual bool waitsForEarlier() const { return false; }
  // Every stage has finished: draw conclusions from what earlier stages found. List order.
  virtual void conclude(Transaction&) {}
  // The stage's decision for the recipients of one tenant.
  virtual Decision decide(const Transaction&, const config::Tenant&) const { return {}; }
  // Header fields the stage adds on top of an accepted message ("" for none).
  virtual std::string headerFields(const Transaction&) const { return {}; }

 protected:
  Stage() = default;
  // The way back to the loop thread, to hand to another thread: it holds no pointer to the
  // stage, and the report it runs gets the stage only if the transaction still exists.
  Post reporter() const { return post_; }
  void finished();

 private:
  friend class Intake;
  Post post_;
  std::function<void()> on_finished_;
};

}  // namespace mxgate::pipeline
