// What an SMTP session (or the HTTP API) calls to authenticate a client: the failure limiter
// first (a locked client address or user name is refused without checking the secret), then
// the credential check on the credential lane, then the limiter's bookkeeping, each failure
// logged (never the secret) and counted. The same answer for an unknown user and a wrong
// secret (RFC 4954 §6: 535 5.7.8), so nothing tells whether a user exists.
// authenticate() may be called from any loop thread; its answer is posted to that loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mxgate/auth/credentials.h"
#include "mxgate/auth/failure_limiter.h"
#include "mxgate/io/loop.h"
#include "mxgate/smtp/replies.h"

namespace mxgate::auth {

struct AuthCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> failed{0};       // wrong secret, unknown or revoked user, authzid of another user
  std::atomic<uint64_t> locked{0};       // refused because the address or user name was locked
  std::atomic<uint64_t> unavailable{0};  // the credential lane was full or the spool unreadable
};

class Authenticator {
 public:
  Authenticator(CredentialStore& credentials, FailureLimiter& limiter);

  enum class Outcome { Accepted, Failed, Locked, Unavailable };
  struct Result {
    Outcome outcome = Outcome::Failed;
    std::string tenant;                  // Accepted: the credential's tenant
    smtp::ReplyId reply = smtp::ReplyId::AuthFailed;  // 235 2.7.0, 535 5.7.8, 454 4.7.0 (locked / unavailable)
    std::chrono::milliseconds delay{0};  // Failed: send the reply only after this long
  };
  // log_id: the session id (or "-") that starts the log lines. done runs on loop, always after
  // this call returned; like every completion it should find its session by id (it may be gone).
  void authenticate(io::Loop& loop, std::string log_id, std::string client_ip, std::string username,
                    std::string secret, CredentialKind kind, std::function<void(Result)> done);
  // A failure the exchange decided by itself (PLAIN naming another authorization identity):
  // counted, logged and delayed like a wrong secret. Any thread.
  Result refuse(std::string_view log_id, std::string_view client_ip, std::string_view username);

  const AuthCounters& counters() const { return counters_; }

 private:
  CredentialStore& credentials_;
  FailureLimiter& limiter_;
  AuthCounters counters_;
};

}  // namespace mxgate::auth
