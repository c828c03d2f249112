// The webhook delivery target (see include/mxgate/delivery/webhook_target.h). deliver() runs
// on any thread, buildPayload() on the payload lane, everything else on the target's loop.
#include "mxgate/delivery/webhook_target.h"

#include <chrono>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/base/redact.h"
#include "mxgate/mime/message.h"
#include "mxgate/webhook/signing.h"

namespace mxgate::delivery {
namespace {

constexpr size_t kReplyDetailBytes = 100;
// A Retry-After (RFC 9110 §10.2.3, on 429 and 503) is honoured up to a day.
constexpr uint64_t kMaxRetryAfterSeconds = 86400;

// The first line of a response body, shortened, for the recipient's last reply.
std::string detail(const std::string& body) {
  std::string line = body.substr(0, body.find_first_of("\r\n"));
  if (line.size() > kReplyDetailBytes) {
    line.resize(kReplyDetailBytes);
  }
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      c = ' ';
    }
  }
  return line;
}

// Our Authentication-Results field value from the header fields written in front of the body.
std::string authenticationResults(const std::string& headers) {
  constexpr std::string_view kName = "Authentication-Results:";
  if (!headers.starts_with(kName)) {
    return "";
  }
  std::string value;
  size_t pos = kName.size();
  while (pos < headers.size()) {
    size_t end = headers.find("\r\n", pos);
    if (end == std::string::npos) {
      end = headers.size();
    }
    value.append(headers, pos, end - pos);
    pos = end + 2;
    if (pos >= headers.size() || (headers[pos] != ' ' && headers[pos] != '\t')) {
      break;
    }
  }
  const size_t first = value.find_first_not_of(" \t");
  return first == std::string::npos ? "" : value.substr(first);
}

}  // namespace

std::string_view name(WebhookResult result) {
  switch (result) {
    case WebhookResult::Delivered: return "delivered";
    case WebhookResult::ClientError: return "http_4xx";
    case WebhookResult::ServerError: return "http_5xx";
    case WebhookResult::Gone: return "gone";
    case WebhookResult::Transport: return "transport_error";
    case WebhookResult::Refused: return "refused_address";
    case WebhookResult::Count: break;
  }
  return "unknown";
}

WebhookTarget::WebhookTarget(const config::Tenant& tenant, const WebhookContext& context, io::Loop& loop)
    : tenant_(tenant.id),
      settings_(tenant.delivery),
      shown_url_(redactUrl(tenant.delivery.url)),
      link_policy_(tenant.links),
      context_(context),
      loop_(loop),
      ticket_pattern_(tenant.thread.ticket_pattern),
      client_(std::make_unique<webhook::Client>(loop, tenant.delivery.max_connections)) {}

WebhookTarget::~WebhookTarget() = default;

std::optional<RetryPolicy> WebhookTarget::retryPolicy() const {
  return RetryPolicy{settings_.retry_initial, settings_.retry_max, settings_.max_age};
}

std::string WebhookTarget::describe() const { return "webhook:" + shown_url_; }

bool WebhookTarget::disabled() const {
  return context_.endpoints->disabled(spool::EndpointKind::Delivery, tenant_, settings_.url);
}

void WebhookTarget::deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) {
  if (disabled()) {
    done(uniformResult(*job, Outcome::PermFail, "webhook endpoint disabled after 410 Gone", shown_url_));
    return;
  }
  auto task = [this, job, done] {
    std::string error;
    std::shared_ptr<const std::string> body = buildPayload(*job, error);
    if (!body) {
      done(uniformResult(*job, Outcome::PermFail, error, shown_url_));
      return;
    }
    loop_.post([this, pending = Pending{job, std::move(body), done}]() mutable { start(std::move(pending)); });
  };
  if (!context_.payload_lane->submit(task)) {
    done(uniformResult(*job, Outcome::TempFail, "webhook payload lane is full", shown_url_));
  }
}

std::shared_ptr<const std::string> WebhookTarget::buildPayload(const Job& job, std::string& error) const {
  std::string message = job.headers + *job.body;
  links::Result rewritten = rewriteJobLinks(job, message, link_policy_, tenant_, context_.links);
  if (rewritten.changed) {
    message = std::move(rewritten.message);
  }
  mime::Limits limits;
  limits.max_kept_attachment_bytes = settings_.inline_attachments_max;
  const mime::Message parsed = mime::parse(message, limits);

  payload::Input input;
  input.record = job.record.get();
  input.tenant = tenant_;
  input.rcpt_to = job.recipients;
  input.authentication_results = authenticationResults(job.headers);
  input.message = &parsed;
  input.ticket_pattern = &ticket_pattern_;
  input.links_rewritten = rewritten.rewritten;
  input.links_mode = std::string(linkModeName(link_policy_.mode));
  input.inline_attachments_max = settings_.inline_attachments_max;
  // The event's time, not the attempt's: every retry posts the same bytes.
  input.timestamp_us = job.record->received_at_us;
  auto body = std::make_shared<std::string>(payload::buildInbound(input));
  if (body->size() > settings_.max_payload) {
    input.inline_attachments_max = 0;
    *body = payload::buildInbound(input);
  }
  if (body->size() > settings_.max_payload) {
    error = "webhook payload of " + std::to_string(body->size()) + " bytes exceeds delivery.max_payload (" +
            std::to_string(settings_.max_payload) + ")";
    return nullptr;
  }
  return body;
}

void WebhookTarget::start(Pending pending) {
  if (stopped_) {
    pending.done(uniformResult(*pending.job, Outcome::TempFail, "shutting down", shown_url_));
    return;
  }
  if (in_flight_ >= settings_.max_connections) {
    waiting_.push_back(std::move(pending));
    return;
  }
  ++in_flight_;
  const std::string id = webhook::messageWebhookId(pending.job->id.str(), tenant_);
  const uint64_t timestamp = nowMicros() / 1000000;
  webhook::Request request;
  request.url = settings_.url;
  request.body = pending.payload;
  request.timeout = settings_.timeout;
  request.connect_timeout = std::min(settings_.timeout, std::chrono::milliseconds(10000));
  request.allow_private = settings_.allow_private;
  request.headers = {"Content-Type: application/json; charset=utf-8", "webhook-id: " + id,
                     "webhook-timestamp: " + std::to_string(timestamp),
                     "webhook-signature: " +
                         webhook::signatureHeader(id, timestamp, *pending.payload, settings_.secret_keys)};
  client_->post(std::move(request), [this, pending](webhook::Response response) {
    --in_flight_;
    finish(pending, response);
    while (!waiting_.empty() && in_flight_ < settings_.max_connections && !stopped_) {
      Pending next = std::move(waiting_.front());
      waiting_.pop_front();
      start(std::move(next));
    }
  });
}

void WebhookTarget::finish(const Pending& pending, const webhook::Response& response) {
  const Job& job = *pending.job;
  const std::string remote = response.remote.empty() ? shown_url_ : response.remote;
  auto count = [this](WebhookResult result) {
    context_.counters->attempts[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  };
  if (response.status >= 200 && response.status < 300) {
    count(WebhookResult::Delivered);
    pending.done(uniformResult(job, Outcome::Delivered, "webhook HTTP " + std::to_string(response.status), remote));
    return;
  }
  if (response.status == 410) {
    count(WebhookResult::Gone);
    Result result = uniformResult(job, Outcome::PermFail, "webhook HTTP 410 Gone: endpoint disabled", shown_url_);
    if (context_.endpoints->disable(spool::EndpointKind::Delivery, tenant_, settings_.url, "HTTP 410")) {
      result.endpoint_disabled = true;
      log::warn(job.id.str(), "webhook_endpoint_disabled").kv("tenant", tenant_).kv("url", shown_url_);
    }
    pending.done(std::move(result));
    return;
  }
  std::string reply;
  if (response.status != 0) {
    count(response.status >= 500 ? WebhookResult::ServerError : WebhookResult::ClientError);
    reply = "webhook HTTP " + std::to_string(response.status);
    const std::string text = detail(response.body_start);
    if (!text.empty()) {
      reply += ": " + text;
    }
  } else {
    count(response.refused_address ? WebhookResult::Refused : WebhookResult::Transport);
    reply = "webhook: " + response.error;
  }
  Result result = uniformResult(job, Outcome::TempFail, reply, remote);
  result.retry_after_s = std::min<uint64_t>(response.retry_after_s, kMaxRetryAfterSeconds);
  pending.done(std::move(result));
}

void WebhookTarget::shutdown() {
  loop_.post([this] {
    stopped_ = true;
    std::deque<Pending> waiting;
    waiting.swap(waiting_);
    for (Pending& pending : waiting) {
      pending.done(uniformResult(*pending.job, Outcome::TempFail, "shutting down", shown_url_));
    }
    client_->shutdown();
  });
}

}  // namespace mxgate::delivery
