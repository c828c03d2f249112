// The HTTP send API (README "HTTP send API"): POST /v1/messages (JSON built into MIME) and
// POST /v1/messages/raw (an RFC 5322 message and its envelope) on the [api] listener, and
// DELETE /v1/messages/{id}, which cancels a queued message of the key's tenant (a scheduled
// send, or one waiting for a retry) unless it is being delivered (409).
//
// A request goes through these steps, each answer JSON naming the field it is about:
//   1. the API key in "Authorization: Bearer <tenant>.<name>.<secret>" (RFC 6750; a credential
//      of kind api) is checked by the node's Authenticator on the credential lane, with the
//      FailureLimiter's delays and locks per client address and user name (401 after the
//      growing delay, 429 with Retry-After while locked, never telling whether a user exists);
//   2. the body is parsed and built on the api lane (message_request.h);
//   3. the message runs the submission pipeline like an SMTP submission (pipeline::Intake with
//      the tenant as every recipient's tenant): recipients a stage refuses are reported per
//      recipient, and all refused is 422; a refused message is 403 (sender binding) or 422;
//   4. it is committed with the SMTP session's commit (server/commit.h) and answered 202
//      {"id", "recipients": [{address, status}]} only after the synced write.
// An Idempotency-Key header (a tenant's own namespace) is looked up on the api lane before the
// build: a repeat within api.idempotency_window gets the first answer again and sends nothing
// (with another body: 422); the key's record is written in the message's commit batch. A
// repeat while the first is still under way gets 409. Expired records are purged every minute.
// Spool admission refusals and a full lane are 503.
//
// Loop thread of the API's own loop (handle, the steps' completions); the lane and the spool
// writer report back by posting to it and find their request by id.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <uv.h>

#include "mxgate/api/message_request.h"
#include "mxgate/auth/authenticator.h"
#include "mxgate/http/server.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/server/runtime.h"

namespace mxgate::api {

// Relaxed atomics: written on the API loop, read by /metrics.
struct ApiCounters {
  std::atomic<uint64_t> accepted{0};     // 202
  std::atomic<uint64_t> refused{0};      // 4xx
  std::atomic<uint64_t> unavailable{0};  // 503
  std::atomic<uint64_t> replayed{0};     // 202 answered again for a repeated Idempotency-Key
  std::atomic<uint64_t> cancelled{0};    // 200 to DELETE /v1/messages/{id}
};

// "<tenant>.<name>.<secret>" split at its last dot into the credential's user name and secret;
// false when the token has no such form.
bool splitApiKey(std::string_view token, std::string& username, std::string& secret);

class SendApi {
 public:
  // lane: the api lane (parsing and building).
  SendApi(io::Loop& loop, server::Runtime& runtime, io::Lane& lane);
  ~SendApi();
  SendApi(const SendApi&) = delete;
  SendApi& operator=(const SendApi&) = delete;

  // On the loop thread: start() before the first request, stop() at shutdown.
  void start();
  void stop();
  void handle(const http::Request& request, http::Respond respond);

  const ApiCounters& counters() const { return counters_; }

 private:
  struct Pending;
  struct Delayed {
    uint64_t due_ms;
    http::Respond respond;
    http::Response response;
  };

  void answer(uint64_t id, http::Response response);
  void cancel(uint64_t id);
  void answerError(uint64_t id, const Error& error);
  void onAuthenticated(uint64_t id, const auth::Authenticator::Result& result);
  struct Prepared;
  void onPrepared(uint64_t id, Prepared prepared);
  void purgeIdempotency();
  void onDecision(uint64_t id);
  void commit(uint64_t id);
  void onCommitted(uint64_t id, const spool::CommitStatus& status);
  static void onSweep(uv_timer_t* timer);

  io::Loop& loop_;
  server::Runtime& runtime_;
  io::Lane& lane_;
  ApiCounters counters_;
  std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
  uint64_t next_id_ = 1;
  std::deque<Delayed> delayed_;  // 401s waiting for their delay
  std::unordered_set<std::string> keys_in_use_;  // idempotency keys of requests under way
  uint64_t next_purge_ms_ = 0;
  uv_timer_t sweep_{};
  bool started_ = false;
};

// The server's own error answers (400, 408, 413, 431, 503) as the API's JSON errors.
http::Response errorResponse(int status, std::string_view reason);

}  // namespace mxgate::api
