// The HTTP send API's requests from the API key to the 202 (see include/mxgate/api/send_api.h).
// The API's loop thread; the api lane builds messages; the credential lane checks keys.
#include "mxgate/api/send_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/digest.h"
#include "mxgate/base/log.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/server/commit.h"
#include "mxgate/spool/admission.h"

namespace mxgate::api {

namespace {

using nlohmann::json;

constexpr uint64_t kSweepMs = 100;
constexpr uint64_t kPurgeEveryMs = 60000;
constexpr size_t kPurgeBatch = 1000;
constexpr size_t kMaxIdempotencyKey = 255;
constexpr std::string_view kBearer = "bearer ";

http::Response jsonResponse(int status, const json& body) {
  return http::Response{status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

http::Response errorOf(const Error& error) {
  return http::Response{error.status, "application/json", errorJson(error), {}};
}

http::Response unauthorized(std::string message) {
  http::Response response = errorOf(Error{401, "unauthorized", std::move(message), ""});
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"mxgate\"");
  return response;
}

// 1 to 255 printable ASCII characters.
bool validIdempotencyKey(std::string_view key) {
  return !key.empty() && key.size() <= kMaxIdempotencyKey && std::all_of(key.begin(), key.end(), [](char c) {
    return c >= 0x20 && c <= 0x7e;
  });
}

bool hasEightBit(std::string_view bytes) {
  return std::any_of(bytes.begin(), bytes.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The request field a header sender binding refusal is about ("From domain x", "Sender domain
// x"): the raw message, or the JSON field that set the header (a JSON request cannot set a
// DKIM-Signature).
std::string headerSenderField(std::string_view detail, bool raw) {
  if (raw) {
    return "message_base64";
  }
  return detail.starts_with("Sender") ? "headers.Sender" : "from";
}

// A stage's refusal of a recipient as its status in the answer.
std::string_view recipientStatus(const pipeline::Decision& decision) {
  return decision.reason == "suppressed" ? "suppressed" : "refused";
}

}  // namespace

bool splitApiKey(std::string_view token, std::string& username, std::string& secret) {
  const size_t dot = token.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == token.size() ||
      token.substr(0, dot).find('.') == std::string_view::npos) {
    return false;
  }
  username.assign(token.substr(0, dot));
  secret.assign(token.substr(dot + 1));
  return true;
}

http::Response errorResponse(int status, std::string_view reason) {
  std::string code = status == 413 ? "too_large" : status == 408 ? "timeout" : status == 503 ? "unavailable" : "bad_request";
  return errorOf(Error{status, std::move(code), std::string(reason), ""});
}

// What the api lane made of a request: the stored answer to a repeated Idempotency-Key, or
// the built message (or its refusal).
struct SendApi::Prepared {
  std::optional<std::string> replay;
  Built built;
};

struct SendApi::Pending {
  http::Respond respond;
  std::string client_ip;
  bool raw = false;
  std::string path;
  std::string body;
  std::string idempotency_key;  // "" when the request has none
  std::string request_hash;     // with a key: SHA-256 hex of path NUL body
  std::string key_in_use;       // the entry in keys_in_use_ this request holds
  std::string response;         // the 202 body, once committed
  std::string username;
  std::string tenant;
  std::string cancel;  // DELETE /v1/messages/{id}: the id as given
  server::Snapshot snapshot;
  config::Listener listener;  // the API as a submission listener, for the stages
  Submission submission;
  std::shared_ptr<const std::string> message;
  std::unique_ptr<pipeline::Intake> intake;
  json recipients = json::array();  // [{address, status}] for the answer
};

SendApi::SendApi(io::Loop& loop, server::Runtime& runtime, io::Lane& lane)
    : loop_(loop), runtime_(runtime), lane_(lane) {}

SendApi::~SendApi() = default;

void SendApi::start() {
  uv_timer_init(loop_.uv(), &sweep_);
  sweep_.data = this;
  uv_timer_start(&sweep_, &SendApi::onSweep, kSweepMs, kSweepMs);
  started_ = true;
}

void SendApi::stop() {
  if (started_) {
    started_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
  }
  delayed_.clear();
  pending_.clear();
}

void SendApi::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<SendApi*>(timer->data);
  const uint64_t now = self->loop_.now();
  if (now >= self->next_purge_ms_) {
    self->next_purge_ms_ = now + kPurgeEveryMs;
    self->purgeIdempotency();
  }
  std::vector<Delayed> due;
  for (auto it = self->delayed_.begin(); it != self->delayed_.end();) {
    if (it->due_ms <= now) {
      due.push_back(std::move(*it));
      it = self->delayed_.erase(it);
    } else {
      ++it;
    }
  }
  for (Delayed& delayed : due) {
    delayed.respond(std::move(delayed.response));
  }
}

void SendApi::handle(const http::Request& request, http::Respond respond) {
  constexpr std::string_view kOneMessage = "/v1/messages/";
  const bool raw = request.path == "/v1/messages/raw";
  const bool one = !raw && request.path.starts_with(kOneMessage) && request.path.size() > kOneMessage.size();
  if (!raw && !one && request.path != "/v1/messages") {
    respond(errorOf(Error{404, "not_found",
                          "no such endpoint: POST /v1/messages or /v1/messages/raw, DELETE /v1/messages/{id}", ""}));
    return;
  }
  const std::string_view method = one ? "DELETE" : "POST";
  if (request.method != method) {
    http::Response response = errorOf(Error{405, "method_not_allowed", "use " + std::string(method), ""});
    response.headers.emplace_back("Allow", std::string(method));
    respond(std::move(response));
    return;
  }
  const std::string_view authorization = request.header("authorization");
  std::string username;
  std::string secret;
  if (!ascii::startsWithIgnoreCase(authorization, kBearer) ||
      !splitApiKey(authorization.substr(kBearer.size()), username, secret)) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    respond(unauthorized("an API key is required: Authorization: Bearer <tenant>.<name>.<secret>"));
    return;
  }
  const std::string_view idempotency_key = request.header("idempotency-key");
  if (!request.headerValues("idempotency-key").empty() && !validIdempotencyKey(idempotency_key)) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    respond(errorOf(Error{422, "invalid_field", "1 to 255 printable ASCII characters", "Idempotency-Key"}));
    return;
  }
  const uint64_t id = next_id_++;
  auto pending = std::make_unique<Pending>();
  pending->respond = std::move(respond);
  pending->client_ip = request.peer;
  pending->raw = raw;
  pending->cancel = one ? request.path.substr(kOneMessage.size()) : "";
  pending->path = request.path;
  pending->body = request.body;
  pending->idempotency_key = idempotency_key;
  pending->username = username;
  pending_.emplace(id, std::move(pending));
  runtime_.authenticator().authenticate(
      loop_, "-", request.peer, std::move(username), std::move(secret), auth::CredentialKind::Api,
      [this, id](auth::Authenticator::Result result) { onAuthenticated(id, result); });
}

void SendApi::answer(uint64_t id, http::Response response) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  const int status = response.status;
  // 200 answers only a cancellation (DELETE); 202 a message taken.
  (status == 202   ? counters_.accepted
   : status == 200 ? counters_.cancelled
   : status == 503 ? counters_.unavailable
                   : counters_.refused)
      .fetch_add(1, std::memory_order_relaxed);
  http::Respond respond = std::move(it->second->respond);
  if (!it->second->key_in_use.empty()) {
    keys_in_use_.erase(it->second->key_in_use);
  }
  pending_.erase(it);
  respond(std::move(response));
}

void SendApi::answerError(uint64_t id, const Error& error) {
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    log::info("-", "api_refused")
        .kv("user", it->second->username)
        .kv("client", it->second->client_ip)
        .kv("status", error.status)
        .kv("code", error.code)
        .kv("field", error.field);
  }
  answer(id, errorOf(error));
}

void SendApi::onAuthenticated(uint64_t id, const auth::Authenticator::Result& result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  Pending& pending = *it->second;
  pending.snapshot = runtime_.current();
  const config::Config& config = *pending.snapshot.config;
  switch (result.outcome) {
    case auth::Authenticator::Outcome::Accepted: break;
    case auth::Authenticator::Outcome::Locked: {
      http::Response response =
          errorOf(Error{429, "too_many_failures", "too many failed attempts; try again later", ""});
      response.headers.emplace_back("Retry-After", std::to_string(config.submission.auth_lockout.count()));
      answer(id, std::move(response));
      return;
    }
    case auth::Authenticator::Outcome::Unavailable:
      answer(id, errorOf(Error{503, "unavailable", "credentials cannot be checked now; try again", ""}));
      return;
    case auth::Authenticator::Outcome::Failed: {
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      http::Respond respond = std::move(pending.respond);
      pending_.erase(it);
      delayed_.push_back(Delayed{loop_.now() + static_cast<uint64_t>(result.delay.count()), std::move(respond),
                                 unauthorized("the API key is not valid")});
      return;
    }
  }
  pending.tenant = result.tenant;
  if (!pending.cancel.empty()) {
    cancel(id);
    return;
  }
  if (!pending.idempotency_key.empty()) {
    std::string key = spool::idempotencyKey(pending.tenant, pending.idempotency_key);
    if (!keys_in_use_.insert(key).second) {
      answerError(id, Error{409, "idempotency_key_in_use", "a request with this key is still being processed",
                            "Idempotency-Key"});
      return;
    }
    pending.key_in_use = std::move(key);
  }
  struct Job {
    std::string body;
    std::string path;
    std::string tenant;
    std::string idempotency_key;
    bool raw;
    size_t max_recipients;
    uint64_t max_size;
    std::string hostname;
  };
  auto job = std::make_shared<Job>(Job{std::move(pending.body), pending.path, pending.tenant, pending.idempotency_key,
                                       pending.raw, config.api.max_recipients, config.smtp.max_message_size,
                                       config.node.hostname});
  io::Loop* loop = &loop_;
  spool::Store* store = &runtime_.store();
  const bool queued = lane_.submit([this, loop, store, id, job] {
    auto prepared = std::make_shared<Prepared>();
    std::string request_hash;
    if (!job->idempotency_key.empty()) {
      std::string hashed = job->path;
      hashed += '\0';
      hashed += job->body;
      request_hash = base::sha256Hex(hashed);
      spool::IdempotencyRecord record;
      std::string error;
      const spool::Store::ReadStatus status = store->readIdempotency(job->tenant, job->idempotency_key, record, error);
      if (status == spool::Store::ReadStatus::IoError) {
        prepared->built.error = Error{503, "unavailable", "the idempotency key cannot be checked now; try again", ""};
      } else if (status == spool::Store::ReadStatus::Ok && record.expires_us > nowMicros()) {
        if (record.request_hash == request_hash) {
          prepared->replay = std::move(record.response);
        } else {
          prepared->built.error = Error{422, "idempotency_key_reused",
                                        "this key was used for another request (queue id " + record.queue_id + ")",
                                        "Idempotency-Key"};
        }
      }
    }
    if (!prepared->replay && prepared->built.error.code.empty()) {
      const Limits limits{job->max_recipients, job->max_size, job->hostname};
      prepared->built = job->raw ? buildFromRaw(job->body, limits) : buildFromJson(job->body, limits);
    }
    loop->post([this, id, prepared, request_hash = std::move(request_hash)] {
      auto found = pending_.find(id);
      if (found != pending_.end()) {
        found->second->request_hash = request_hash;
      }
      onPrepared(id, std::move(*prepared));
    });
  });
  if (!queued) {
    answer(id, errorOf(Error{503, "busy", "too many requests are being built; try again", ""}));
  }
}

void SendApi::cancel(uint64_t id) {
  const Pending& pending = *pending_.at(id);
  const std::optional<mail::QueueId> queue_id = mail::QueueId::parse(pending.cancel);
  const Error not_found{404, "not_found", "the tenant has no queued message with this id", "id"};
  if (!queue_id) {
    answerError(id, not_found);
    return;
  }
  io::Loop* loop = &loop_;
  scheduler::Scheduler* scheduler = &runtime_.scheduler();
  const std::string actor = "api:" + pending.username;
  // On the control loop: the message must be the tenant's own outbound mail, still queued and
  // not being delivered; then it is removed (audited with the key's user as the actor).
  scheduler->show(*queue_id, [this, loop, scheduler, id, queue_id = *queue_id, tenant = pending.tenant, actor,
                              not_found](scheduler::AdminStatus status, spool::MessageRecord record, bool active) {
    const bool own = status == scheduler::AdminStatus::Ok && record.outbound() && !record.recipients.empty() &&
                     std::all_of(record.recipients.begin(), record.recipients.end(),
                                 [&](const spool::RecipientRecord& recipient) { return recipient.tenant == tenant; });
    if (!own || record.state != spool::MessageState::Queued || !record.hasPending()) {
      loop->post([this, id, not_found] { answerError(id, not_found); });
      return;
    }
    if (active) {
      loop->post([this, id] {
        answerError(id, Error{409, "delivery_in_progress", "the message is being delivered now", "id"});
      });
      return;
    }
    scheduler->remove(queue_id, actor,
                      [this, loop, id, queue_id, not_found](scheduler::AdminStatus removed, std::string detail) {
      loop->post([this, id, queue_id, not_found, removed, detail = std::move(detail)] {
        if (removed != scheduler::AdminStatus::Ok) {
          answerError(id, removed == scheduler::AdminStatus::NotFound ? not_found
                                                                      : Error{409, "not_cancelled", detail, "id"});
          return;
        }
        answer(id, http::Response{200, "application/json",
                                  json{{"id", queue_id.str()}, {"status", "cancelled"}}.dump(), {}});
      });
    });
  });
}

void SendApi::purgeIdempotency() {
  spool::Store* store = &runtime_.store();
  lane_.submit([store] {
    const std::vector<std::string> expired = store->expiredIdempotency(nowMicros(), kPurgeBatch);
    if (expired.empty()) {
      return;
    }
    spool::Batch batch;
    for (const std::string& key : expired) {
      batch.deleteIdempotency(key);
    }
    store->submit(std::move(batch), false, nullptr);
    log::info("-", "idempotency_purged").kv("records", expired.size());
  });
}

void SendApi::onPrepared(uint64_t id, Prepared prepared) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  if (prepared.replay) {
    counters_.replayed.fetch_add(1, std::memory_order_relaxed);
    http::Response response{202, "application/json", std::move(*prepared.replay), {}};
    response.headers.emplace_back("Idempotent-Replayed", "true");
    answer(id, std::move(response));
    return;
  }
  Built& built = prepared.built;
  if (!built.ok) {
    answerError(id, built.error);
    return;
  }
  if (runtime_.admission().check() != spool::Admission::Verdict::Accept) {
    answer(id, errorOf(Error{503, "unavailable", "the queue cannot take messages now; try again later", ""}));
    return;
  }
  Pending& pending = *it->second;
  const config::Config& config = *pending.snapshot.config;
  if (config.tenantById(pending.tenant) == nullptr) {
    answerError(id, Error{403, "unknown_tenant", "the API key's tenant is not configured", ""});
    return;
  }
  const uint64_t horizon_us = static_cast<uint64_t>(config.queue.send_at_horizon.count()) * 1000000;
  if (built.submission.send_at_us > nowMicros() + horizon_us) {
    answerError(id, Error{422, "send_at_too_late",
                          "send_at may be at most queue.send_at_horizon (" +
                              std::to_string(config.queue.send_at_horizon.count()) + " s) ahead",
                          "send_at"});
    return;
  }
  pending.submission = std::move(built.submission);
  pending.message = std::make_shared<const std::string>(std::move(pending.submission.message));
  pending.listener.name = "api";
  pending.listener.role = config::ListenerRole::Submission;
  pending.listener.auth_checks = false;

  const pipeline::Decision binding =
      pipeline::bindEnvelopeSender(config, pending.tenant, pending.submission.mail_from);
  if (binding.action == pipeline::Action::Reject) {
    answerError(id, Error{403, "sender_not_allowed", binding.detail + " is not a domain of the API key's tenant",
                          pending.raw ? "mail_from" : "from"});
    return;
  }
  const pipeline::Decision limited = pipeline::admitTenantMessage(runtime_.inbound(), pending.tenant);
  if (limited.action == pipeline::Action::TempFail) {
    http::Response response = errorOf(Error{429, "rate_limited", limited.reply_argument, ""});
    response.headers.emplace_back("Retry-After", std::to_string(limited.retry_after_s));
    answer(id, std::move(response));
    return;
  }
  pipeline::Transaction transaction;
  transaction.id = mail::QueueId::generate();
  transaction.origin = spool::Origin::Api;
  transaction.tenant = pending.tenant;
  transaction.auth_user = pending.username;
  transaction.tags = pending.submission.tags;
  transaction.metadata = pending.submission.metadata;
  transaction.list_unsubscribe = pending.submission.list_unsubscribe;
  transaction.send_at_us = pending.submission.send_at_us;
  transaction.client_ip = pending.client_ip;
  transaction.mail_from = pending.submission.mail_from.str();
  transaction.mail_from_domain = pending.submission.mail_from.domain;
  io::Loop* loop = &loop_;
  pending.intake = std::make_unique<pipeline::Intake>(
      pipeline::Context{runtime_.inbound(), config, pending.listener, pending.snapshot.authserv_ids.front()},
      runtime_.store(), std::move(transaction), [this, loop, id](std::function<void(pipeline::Intake&)> report) {
        loop->post([this, id, report = std::move(report)] {
          auto found = pending_.find(id);
          if (found != pending_.end() && found->second->intake) {
            report(*found->second->intake);
          }
        });
      });
  size_t queued = 0;
  for (const mail::Address& address : pending.submission.recipients) {
    const pipeline::Decision decision = pending.intake->addRecipient(pipeline::Recipient{address, pending.tenant});
    json status = {{"address", address.str()}, {"status", "queued"}};
    if (decision.action == pipeline::Action::Reject || decision.action == pipeline::Action::TempFail) {
      status["status"] = recipientStatus(decision);
      status["reason"] = decision.detail.empty() ? decision.reason : decision.detail;
    } else {
      ++queued;
    }
    pending.recipients.push_back(std::move(status));
  }
  if (queued == 0) {
    json body = json::parse(errorJson(Error{422, "no_valid_recipients", "every recipient was refused", "to"}));
    body["recipients"] = pending.recipients;
    answer(id, jsonResponse(422, body));
    return;
  }
  pending.intake->content(*pending.message);
  std::shared_ptr<const std::string> whole = pending.intake->needsMessage() ? pending.message : nullptr;
  pending.intake->finish(std::move(whole), [this, id](const pipeline::MessageDecision& decision) {
    switch (decision.kind) {
      case pipeline::MessageDecision::Kind::Accept: commit(id); return;
      case pipeline::MessageDecision::Kind::TempFail:
        answerError(id, Error{503, "unavailable", "the message cannot be taken now (" + decision.reason + ")", ""});
        return;
      case pipeline::MessageDecision::Kind::Reject: {
        auto found = pending_.find(id);
        if (found != pending_.end()) {
          found->second->intake->recordRejection(decision);
        }
        const bool binding = decision.reason == "sender_binding";
        const bool raw = found != pending_.end() && found->second->raw;
        answerError(id, Error{binding ? 403 : 422, binding ? "sender_not_allowed" : "rejected",
                              decision.detail.empty() ? decision.reason : decision.detail,
                              binding ? headerSenderField(decision.detail, raw) : ""});
        return;
      }
    }
  });
}

void SendApi::commit(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  Pending& pending = *it->second;
  if (const auto& replaced = pending.intake->replacedContent()) {
    pending.message = replaced;  // e.g. with tracking links: what the DKIM signature covers
  }
  const std::string& message = *pending.message;
  const uint64_t now = nowMicros();
  spool::MessageRecord record;
  record.id = pending.intake->transaction().id;
  record.state = spool::MessageState::Queued;
  record.received_at_us = now;
  record.next_attempt_us = now;
  record.mail_from = pending.submission.mail_from.str();
  record.client_address = pending.client_ip;
  record.listener = "api";
  record.smtputf8 = pending.submission.smtputf8;
  record.eightbit = hasEightBit(message);
  spool::Batch batch;
  record.body_size = message.size();
  record.body_chunks = batch.putBody(record.id, message, pending.snapshot.config->spool.chunk_size);
  record.body_crc32 = spool::crc32(0, message);
  pending.intake->record(record, batch, now);
  pending.response = json{{"id", record.id.str()}, {"recipients", pending.recipients}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  if (!pending.idempotency_key.empty()) {
    const uint64_t window_us =
        static_cast<uint64_t>(pending.snapshot.config->api.idempotency_window.count()) * 1000000;
    batch.putIdempotency(spool::IdempotencyRecord{pending.tenant, pending.idempotency_key, pending.request_hash,
                                                  record.id.str(), pending.response, now, now + window_us});
  }
  io::Loop* loop = &loop_;
  server::commitAccepted(runtime_, std::move(batch), std::move(record), pending.message,
                         [this, loop, id](const spool::CommitStatus& status) {
                           loop->post([this, id, status] { onCommitted(id, status); });
                         });
}

void SendApi::onCommitted(uint64_t id, const spool::CommitStatus& status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return;
  }
  Pending& pending = *it->second;
  const mail::QueueId queue_id = pending.intake->transaction().id;
  if (!status.ok) {
    log::error(queue_id.str(), "commit_failed").kv("client", pending.client_ip).kv("error", status.error);
    answer(id, errorOf(Error{503, "unavailable", "the message could not be stored; try again", ""}));
    return;
  }
  log::info(queue_id.str(), "accepted")
      .kv("from", pending.submission.mail_from.str())
      .kv("rcpts", pending.intake->transaction().recipients.size())
      .kv("size", pending.message->size())
      .kv("client", pending.client_ip)
      .kv("listener", "api")
      .kv("user", pending.username);
  answer(id, http::Response{202, "application/json", std::move(pending.response), {}});
}

}  // namespace mxgate::api
