// The `webhook` delivery target: each message is turned into the `inbound.message.received`
// JSON (links rewritten first when the tenant asks, then parsed with GMime) on the payload
// lane, signed per Standard Webhooks with the tenant's secrets, and POSTed to the tenant's
// URL by a libcurl client on the control loop (the worker loops carry the SMTP sessions), at
// most delivery.max_connections at once.
// 2xx → delivered; 410 → the endpoint is disabled (in the spool, so also after a restart) and
// the message fails (dead-lettered, kept, replayable); anything else → retried with the target's own backoff (delivery.retry_*), never
// sooner than a Retry-After asks, until delivery.max_age. webhook-id is "msg_<queue id>_<tenant>"
// on every attempt, so receivers deduplicate retries and the rare redelivery after a crash.
// The URL is shown, logged and reported (remote, events) only redacted: without its query and
// user information.
//
// deliver() is thread-safe; payloads are built on the payload lane, requests run on the loop.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <string>

#include "mxgate/config/config.h"
#include "mxgate/delivery/link_rewriting.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/links/rewriter.h"
#include "mxgate/payload/inbound.h"
#include "mxgate/webhook/client.h"
#include "mxgate/webhook/disabled_endpoints.h"

namespace mxgate::delivery {

// Outcomes of POST attempts, for the metrics (mxgate_webhook_attempts_total{result}).
enum class WebhookResult : size_t { Delivered, ClientError, ServerError, Gone, Transport, Refused, Count };
std::string_view name(WebhookResult result);

struct WebhookCounters {
  std::array<std::atomic<uint64_t>, static_cast<size_t>(WebhookResult::Count)> attempts{};
};

// What the node shares with every webhook target.
struct WebhookContext {
  io::Loop* loop = nullptr;  // where the HTTP clients run
  io::Lane* payload_lane = nullptr;  // payload building and link rewriting
  LinkContext links;
  WebhookCounters* counters = nullptr;
  webhook::DisabledEndpoints* endpoints = nullptr;  // endpoints disabled by a 410
};

class WebhookTarget : public Target {
 public:
  WebhookTarget(const config::Tenant& tenant, const WebhookContext& context, io::Loop& loop);
  ~WebhookTarget() override;

  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  std::optional<RetryPolicy> retryPolicy() const override;
  uint32_t concurrency() const override { return settings_.max_connections; }
  void shutdown() override;
  std::string describe() const override;

  // Disabled after a 410 until `mxgate webhooks replay` (DisabledEndpoints::enable()).
  bool disabled() const;
  const std::string& tenant() const { return tenant_; }
  // The URL as it may be shown: redacted.
  const std::string& shownUrl() const { return shown_url_; }

 private:
  struct Pending {
    std::shared_ptr<const Job> job;
    std::shared_ptr<const std::string> payload;
    std::function<void(Result)> done;
  };
  // Payload lane: rewrite, parse and build; nullptr with the reason in error when the message
  // cannot be sent.
  std::shared_ptr<const std::string> buildPayload(const Job& job, std::string& error) const;
  // Loop thread.
  void start(Pending pending);
  void finish(const Pending& pending, const webhook::Response& response);

  std::string tenant_;
  config::DeliveryTarget settings_;
  std::string shown_url_;
  config::LinkPolicy link_policy_;
  WebhookContext context_;
  io::Loop& loop_;
  payload::TicketPattern ticket_pattern_;
  std::unique_ptr<webhook::Client> client_;
  std::deque<Pending> waiting_;  // loop thread
  uint32_t in_flight_ = 0;       // loop thread
  bool stopped_ = false;         // loop thread
};

}  // namespace mxgate::delivery
