// Recipient verification by probing the tenant's SMTP next hop (delivery.recipients =
// "verify"), like Postfix's verify service behind reject_unverified_recipient: a probe is
// MAIL FROM:<>, RCPT TO:<address>, RSET on the tenant's own client pool (same TLS level, same
// connection limit), never DATA. Answers are cached per tenant and address: accepted for
// delivery.verify_ttl, refused (5xx) for verify_negative_ttl, failed probes (no connection, 4xx,
// MAIL refused) for verify_tempfail_ttl; at most `max_entries` entries, the least recently used
// dropped first. Concurrent questions about one address share one probe. A question is
// answered within the tenant's verify_wait: when the probe takes longer the answer is
// Unverified (450 4.1.1) and the probe's own answer is cached for the client's retry.
//
// verify() and stats() are thread-safe; the cache, the waiting questions and the probe results
// live on the control loop (verify posts there; probes report back through its inbox).
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "mxgate/delivery/smtp_target.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/loop.h"
#include "mxgate/server/recipient_verifier.h"

namespace mxgate::delivery {

struct VerifierStats {
  uint64_t probes = 0;      // probes sent to next hops
  uint64_t cache_hits = 0;  // questions answered from the cache
  uint64_t accepted = 0;    // answers given, by verdict
  uint64_t refused = 0;
  uint64_t unverified = 0;
};

class NextHopVerifier : public server::RecipientVerifier {
 public:
  // targets: the tenant's current SMTP next hop, nullptr if none (the registry's nextHopFor).
  using TargetFn = std::function<SmtpTarget*(const std::string& tenant)>;
  NextHopVerifier(io::Loop& control, TargetFn targets, uint64_t max_entries);
  ~NextHopVerifier() override;
  NextHopVerifier(const NextHopVerifier&) = delete;
  NextHopVerifier& operator=(const NextHopVerifier&) = delete;

  // On the control loop: creates the wait timer / closes it (pending questions get Unverified).
  void start();
  void stop();

  void verify(const config::Tenant& tenant, const std::string& address,
              std::function<void(server::VerificationResult)> done) override;
  VerifierStats stats() const;

 private:
  struct Lifetimes {
    uint64_t accepted_us = 0;
    uint64_t refused_us = 0;
    uint64_t unverified_us = 0;
    uint64_t wait_us = 0;
  };
  struct Entry {
    server::VerificationResult result;
    uint64_t expires_us = 0;
    std::list<std::string>::iterator recency;  // position in recency_
  };
  struct Waiter {
    uint64_t deadline_us = 0;
    std::function<void(server::VerificationResult)> done;
  };

  // Control loop.
  void lookup(const std::string& tenant, const std::string& address, const Lifetimes& lifetimes,
              std::function<void(server::VerificationResult)> done);
  void probe(const std::string& key, const std::string& tenant, const std::string& address, const Lifetimes& lifetimes);
  void onProbed(const std::string& key, const Lifetimes& lifetimes, const Result& result);
  void remember(const std::string& key, const server::VerificationResult& result, uint64_t lifetime_us);
  void answer(const std::function<void(server::VerificationResult)>& done, const server::VerificationResult& result);
  static void onTimer(uv_timer_t* timer);
  void expireWaiters();

  io::Loop& control_;
  TargetFn targets_;
  uint64_t max_entries_;
  std::unordered_map<std::string, Entry> cache_;      // tenant NUL lower-cased address
  std::list<std::string> recency_;                    // cache keys, most recently used first
  std::unordered_map<std::string, std::vector<Waiter>> probing_;  // questions waiting for a probe
  size_t waiting_ = 0;                                // waiters across probing_
  uv_timer_t timer_{};
  bool started_ = false;
  bool stopped_ = false;

  std::atomic<uint64_t> probes_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> unverified_{0};
};

}  // namespace mxgate::delivery
