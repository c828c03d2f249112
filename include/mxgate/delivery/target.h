// Delivery targets: where a queued message goes for a group of its recipients. The scheduler
// hands a Job to a Target and gets one Result back with an outcome per recipient. Targets in
// this release: `file` (one .eml per message into a directory), `smtp` (a fixed next hop,
// with connection reuse and a bounded number of connections) and `webhook` (the message
// parsed into signed JSON POSTed to the tenant's endpoint). MX routing plugs in as a further
// Target implementation.
//
// deliver() is thread-safe and never blocks; `done` runs exactly once, on any thread. The
// scheduler hands a target at most concurrency() jobs at once (its destination's budget), so
// work for a slow target waits in the scheduler, where it holds no delivery slot.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/mail/queue_id.h"
#include "mxgate/spool/record.h"

namespace mxgate::delivery {

// The route of delivery status notifications: their recipient's "tenant" (no tenant id can
// contain '@'); the registry maps it to the [bounces] relay.
inline constexpr std::string_view kBounceRoute = "@bounces";

struct Job {
  mail::QueueId id;
  std::string mail_from;                // "" = null reverse-path
  std::vector<std::string> recipients;  // this job's envelope recipients
  // Header fields to write in front of the body: our Authentication-Results and X-Mxgate-Tag.
  std::string headers;
  std::shared_ptr<const std::string> body;  // canonical CRLF message, our Received: first
  bool smtputf8 = false;
  bool eightbit = false;
  uint32_t attempt = 1;
  std::string tenant;  // the recipients' tenant
  std::shared_ptr<const spool::MessageRecord> record;  // envelope, times and verdicts
  // A recipient probe (smtp only): MAIL FROM:<> and the RCPTs, then RSET, no body. Each
  // recipient's outcome is the answer to its RCPT (Delivered = accepted).
  bool probe = false;

  uint64_t size() const { return headers.size() + (body ? body->size() : 0); }
};

enum class Outcome { Delivered, TempFail, PermFail };

struct RecipientResult {
  Outcome outcome = Outcome::TempFail;
  std::string reply;  // the remote reply ("250 2.0.0 Ok ...") or our own error text
  // smtp and mx: the peer that gave the reply, when one did: its host name (the mail
  // exchanger's or the next hop's), its IP address, and the TLS protocol version and cipher
  // of the connection ("" for plaintext).
  std::string remote_host = {};
  std::string remote_ip = {};
  std::string tls_version = {};
  std::string tls_cipher = {};
  // How the peer was authenticated: "dane" (a TLSA record matched), "pkix" (chain and name), "none".
  std::string tls_verified_by = "none";
  // mx: traffic shaping held the recipient back (outcome TempFail, reply naming the limit): it
  // was not attempted and is due again at this time (µs since the epoch); 0 = attempted.
  uint64_t held_until_us = 0;
};

struct Result {
  std::vector<RecipientResult> recipients;  // same order as Job::recipients
  std::string remote;                       // e.g. "127.0.0.1:2526" or a file path
  bool endpoint_disabled = false;           // webhook: this attempt's 410 disabled the endpoint
  uint64_t retry_after_s = 0;               // the peer asked for no retry before this (Retry-After)
  bool sender_refused = false;              // smtp: MAIL FROM was refused (the recipients were not asked)
  // smtp: the peer was never reached for a transaction (connection, greeting, EHLO or TLS
  // failed, or 421 before the first one): another mail exchanger may be tried at once.
  bool unreached = false;
};

// A result with the same outcome and text for every recipient of a job.
Result uniformResult(const Job& job, Outcome outcome, const std::string& reply, std::string remote = {});
// The job's recipients held back by traffic shaping until until_us (not attempted), reply
// naming the limit.
Result heldResult(const Job& job, const std::string& limit, uint64_t until_us);

// Maps an SMTP reply code to an outcome: 2xx delivered, 4xx temporary, 5xx permanent.
Outcome outcomeForCode(int code);

// A target's own retry schedule, replacing the queue's (queue.retry_initial, retry_max, max_age).
struct RetryPolicy {
  std::chrono::seconds initial{0};
  std::chrono::seconds max{0};
  std::chrono::seconds max_age{0};
};

class Target {
 public:
  virtual ~Target() = default;
  virtual void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) = 0;
  virtual std::optional<RetryPolicy> retryPolicy() const { return std::nullopt; }
  // Jobs this target runs at once: its connections, requests or lane threads.
  virtual uint32_t concurrency() const = 0;
  // The target whose concurrency a job takes: itself, or the one a wrapper delivers through.
  virtual const Target& destination() const { return *this; }
  // Stops taking work and closes connections; jobs still waiting fail temporarily.
  virtual void shutdown() {}
  virtual std::string describe() const = 0;
};

}  // namespace mxgate::delivery
