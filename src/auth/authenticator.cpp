// Authentication with the failure limiter (see include/mxgate/auth/authenticator.h). Called on
// loop threads; the credential check runs on the credential lane.
#include "mxgate/auth/authenticator.h"

#include "mxgate/base/log.h"

namespace mxgate::auth {

Authenticator::Authenticator(CredentialStore& credentials, FailureLimiter& limiter)
    : credentials_(credentials), limiter_(limiter) {}

Authenticator::Result Authenticator::refuse(std::string_view log_id, std::string_view client_ip,
                                            std::string_view username) {
  const FailureLimiter::Failure failure =
      limiter_.recordFailure(client_ip, username, FailureLimiter::Clock::now());
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
  log::warn(log_id, "auth_failed")
      .kv("client", client_ip)
      .kv("username", username)
      .kv("failures", failure.failures)
      .kv("locked", failure.locked)
      .kv("delay_ms", failure.delay.count());
  return Result{Outcome::Failed, "", smtp::ReplyId::AuthFailed, failure.delay};
}

void Authenticator::authenticate(io::Loop& loop, std::string log_id, std::string client_ip, std::string username,
                                 std::string secret, CredentialKind kind, std::function<void(Result)> done) {
  const FailureLimiter::Lock lock = limiter_.check(client_ip, username, FailureLimiter::Clock::now());
  if (lock != FailureLimiter::Lock::None) {
    counters_.locked.fetch_add(1, std::memory_order_relaxed);
    log::warn(log_id, "auth_locked")
        .kv("client", client_ip)
        .kv("username", username)
        .kv("by", lock == FailureLimiter::Lock::Address ? "address" : "username");
    loop.post([done = std::move(done)] { done(Result{Outcome::Locked, "", smtp::ReplyId::AuthLocked, {}}); });
    return;
  }
  std::string checked_user = username;
  credentials_.verify(
      loop, std::move(checked_user), std::move(secret), kind,
      [this, log_id = std::move(log_id), client_ip = std::move(client_ip), username = std::move(username),
       done = std::move(done)](CredentialStore::Verification verification) {
        switch (verification.verdict) {
          case CredentialStore::Verdict::Accepted:
            limiter_.recordSuccess(username);
            counters_.accepted.fetch_add(1, std::memory_order_relaxed);
            log::info(log_id, "auth_ok").kv("client", client_ip).kv("username", username).kv("tenant", verification.tenant);
            done(Result{Outcome::Accepted, verification.tenant, smtp::ReplyId::AuthSucceeded, {}});
            return;
          case CredentialStore::Verdict::Unavailable:
            counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
            log::warn(log_id, "auth_unavailable").kv("client", client_ip).kv("username", username);
            done(Result{Outcome::Unavailable, "", smtp::ReplyId::AuthTemporaryFailure, {}});
            return;
          case CredentialStore::Verdict::Refused:
            done(refuse(log_id, client_ip, username));
            return;
        }
      });
}

}  // namespace mxgate::auth
