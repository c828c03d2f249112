// The tracking stage of the outbound list (outbound_stages.h), before DKIM signing: per the
// sending tenant's [tracking] policy it rewrites the message's http/https links into signed
// click links and adds an open pixel (links/rewriter.h, the same signed links and endpoint as
// inbound safe links), and adds RFC 8058 one-click unsubscribe — List-Unsubscribe with a signed
// https://<links.host>/u/ URL naming the tenant, the recipient and the queue id (RFC 2369), and
// List-Unsubscribe-Post: List-Unsubscribe=One-Click — when the policy or the send API asks for
// it, the message has exactly one recipient (the URL names one) and carries no List-Unsubscribe
// of its own (a List-Unsubscribe-Post of its own is not added twice). Every link carries the
// message's tags and metadata (links::Context), so the click, open and unsubscribe events name
// them after the message has left the spool. The result
// replaces the content (Transaction::message_replaced); the signing stage, which waits for this
// one, signs it. Runs on the session's loop thread; the rewrite on the auth lane.
#include "mxgate/auth/header_section.h"
#include "mxgate/base/log.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

links::Mode modeOf(const config::TrackingPolicy& policy) {
  if (policy.clicks) {
    return policy.opens ? links::Mode::Track : links::Mode::SafeLinks;
  }
  return policy.opens ? links::Mode::OpenPixel : links::Mode::Off;
}

class TrackingStage : public Stage {
 public:
  explicit TrackingStage(const Context& context)
      : config_(context.config), lane_(*context.services->auth_lane), keys_(context.services->link_keys) {}

  void headers(Transaction&, std::string_view header_section) override {
    own_unsubscribe_ = !auth::fieldBodies(header_section, "List-Unsubscribe").empty();
    own_post_ = !auth::fieldBodies(header_section, "List-Unsubscribe-Post").empty();
  }

  bool needsMessage() const override { return true; }

  void finish(Transaction& transaction) override {
    const config::Tenant* tenant = config_.tenantById(transaction.tenant);
    const links::Key* key = keys_ && !keys_->keys.empty() ? &keys_->keys.front() : nullptr;
    if (tenant == nullptr || !transaction.message || key == nullptr || config_.links.host.empty()) {
      finished();
      return;
    }
    links::Settings settings;
    settings.mode = modeOf(tenant->tracking);
    settings.host = config_.links.host;
    settings.tenant = tenant->id;
    settings.key = key;
    settings.context = links::Context{true, transaction.tags, transaction.metadata};
    std::string unsubscribe;
    if ((tenant->tracking.list_unsubscribe || transaction.list_unsubscribe) && !own_unsubscribe_) {
      if (transaction.recipients.size() == 1) {
        unsubscribe = links::signLink('u', settings.host, *key,
                                      links::LinkTarget{transaction.recipients.front().address.str(),
                                                        transaction.id.str(), 0, tenant->id, settings.context});
      } else {
        log::info(transaction.id.str(), "list_unsubscribe_skipped").kv("recipients", transaction.recipients.size());
      }
    }
    if (settings.mode == links::Mode::Off && unsubscribe.empty()) {
      finished();
      return;
    }
    if (!links::contextFits(settings.context)) {
      log::warn(transaction.id.str(), "tracking_context_too_large").kv("limit", links::kMaxContextBytes);
    }
    transaction_ = &transaction;
    // keys: the ring settings.key points into, kept alive for the lane task.
    const bool queued = lane_.submit([keys = keys_, settings = std::move(settings), id = transaction.id.str(),
                                      message = transaction.message, unsubscribe = std::move(unsubscribe),
                                      own_post = own_post_, post = reporter()]() mutable {
      links::Result result = links::rewriteMessage(*message, id, settings);
      std::string content;
      if (!unsubscribe.empty()) {
        content = "List-Unsubscribe: <" + unsubscribe + ">\r\n";
        if (!own_post) {
          content += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
        }
      }
      content += result.changed ? result.message : *message;
      if (!content.ends_with("\r\n")) {
        content += "\r\n";  // a pixel appended to HTML without </body> ends the message: the data ends in CRLF
      }
      post([content = std::make_shared<const std::string>(std::move(content)), rewritten = result.rewritten,
            listed = !unsubscribe.empty()](Stage& stage) {
        static_cast<TrackingStage&>(stage).onRewritten(content, rewritten, listed);
      });
    });
    if (!queued) {
      failed_ = true;
      log::warn(transaction.id.str(), "tracking").kv("detail", "auth lane full");
      finished();
    }
  }

  Decision decide(const Transaction&, const config::Tenant&) const override {
    if (!failed_) {
      return {};
    }
    return Decision{Action::TempFail, smtp::ReplyId::ResourceShortage, {}, "tracking", "tracking lane full",
                    {}, {}};
  }

 private:
  void onRewritten(std::shared_ptr<const std::string> content, uint32_t rewritten, bool listed) {
    log::info(transaction_->id.str(), "tracking").kv("links", rewritten).kv("list_unsubscribe", listed);
    transaction_->message = std::move(content);
    transaction_->message_replaced = true;
    finished();  // may destroy this stage
  }

  const config::Config& config_;
  io::Lane& lane_;
  std::shared_ptr<const links::KeyRing> keys_;
  bool own_unsubscribe_ = false;  // the message has a List-Unsubscribe field: it keeps it
  bool own_post_ = false;         // ... a List-Unsubscribe-Post field: not added twice
  bool failed_ = false;
  Transaction* transaction_ = nullptr;  // the stage's own transaction (same owner, same thread)
};

}  // namespace

std::unique_ptr<Stage> makeTrackingStage(const Context& context) { return std::make_unique<TrackingStage>(context); }

}  // namespace mxgate::pipeline
