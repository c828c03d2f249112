// Recipient verification by probing the next hop (see include/mxgate/delivery/next_hop_verifier.h).
// RFC 5321 §3.5 (no VRFY: RCPT is the only reliable probe), §4.5.5 (the null reverse-path).
// Control loop; probes run on the tenant's client pools on the worker loops.
#include "mxgate/delivery/next_hop_verifier.h"

#include <chrono>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"

namespace mxgate::delivery {
namespace {

constexpr uint64_t kWaitTickMs = 50;

template <class Duration>
uint64_t micros(Duration duration) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(duration).count());
}

}  // namespace

NextHopVerifier::NextHopVerifier(io::Loop& control, TargetFn targets, uint64_t max_entries)
    : control_(control), targets_(std::move(targets)), max_entries_(std::max<uint64_t>(max_entries, 1)) {}

NextHopVerifier::~NextHopVerifier() = default;

void NextHopVerifier::start() {
  uv_timer_init(control_.uv(), &timer_);
  timer_.data = this;
  started_ = true;
}

void NextHopVerifier::stop() {
  stopped_ = true;
  for (auto& [key, waiters] : probing_) {
    for (Waiter& waiter : waiters) {
      answer(waiter.done, {server::Verification::Unverified, "shutting down"});
    }
  }
  probing_.clear();
  waiting_ = 0;
  if (started_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
}

void NextHopVerifier::verify(const config::Tenant& tenant, const std::string& address,
                             std::function<void(server::VerificationResult)> done) {
  const config::DeliveryTarget& delivery = tenant.delivery;
  const Lifetimes lifetimes{micros(delivery.verify_ttl), micros(delivery.verify_negative_ttl),
                            micros(delivery.verify_tempfail_ttl), micros(delivery.verify_wait)};
  control_.post([this, tenant = tenant.id, address = ascii::toLowerCopy(address), lifetimes,
                 done = std::move(done)]() mutable { lookup(tenant, address, lifetimes, std::move(done)); });
}

void NextHopVerifier::lookup(const std::string& tenant, const std::string& address, const Lifetimes& lifetimes,
                             std::function<void(server::VerificationResult)> done) {
  if (stopped_) {
    answer(done, {server::Verification::Unverified, "shutting down"});
    return;
  }
  const uint64_t now = nowMicros();
  std::string key = tenant + '\0' + address;
  if (auto cached = cache_.find(key); cached != cache_.end()) {
    if (cached->second.expires_us > now) {
      recency_.splice(recency_.begin(), recency_, cached->second.recency);
      cache_hits_.fetch_add(1, std::memory_order_relaxed);
      answer(done, cached->second.result);
      return;
    }
    recency_.erase(cached->second.recency);
    cache_.erase(cached);
  }
  const bool first = probing_.count(key) == 0;
  probing_[key].push_back(Waiter{now + lifetimes.wait_us, std::move(done)});
  if (++waiting_ == 1) {
    uv_timer_start(&timer_, &NextHopVerifier::onTimer, kWaitTickMs, kWaitTickMs);
  }
  if (first) {
    probe(key, tenant, address, lifetimes);
  }
}

void NextHopVerifier::probe(const std::string& key, const std::string& tenant, const std::string& address,
                            const Lifetimes& lifetimes) {
  SmtpTarget* target = targets_(tenant);
  if (target == nullptr) {
    Result none;
    none.recipients.push_back({Outcome::TempFail, "tenant " + tenant + " has no smtp next hop to ask"});
    onProbed(key, lifetimes, none);
    return;
  }
  auto job = std::make_shared<Job>();
  job->id = mail::QueueId::generate();
  job->tenant = tenant;
  job->recipients = {address};
  job->smtputf8 = !ascii::isAscii(address);
  job->probe = true;
  probes_.fetch_add(1, std::memory_order_relaxed);
  log::debug(job->id.str(), "recipient_probe").kv("tenant", tenant).kv("to", address).kv("remote", target->describe());
  target->deliver(std::move(job), [this, key, lifetimes](Result result) {
    control_.post([this, key, lifetimes, result = std::move(result)] { onProbed(key, lifetimes, result); });
  });
}

void NextHopVerifier::onProbed(const std::string& key, const Lifetimes& lifetimes, const Result& result) {
  server::VerificationResult answer_given{server::Verification::Unverified, "no answer"};
  uint64_t lifetime = lifetimes.unverified_us;
  if (!result.recipients.empty()) {
    const RecipientResult& rcpt = result.recipients.front();
    answer_given.detail = rcpt.reply;
    if (result.sender_refused) {
      answer_given.detail = "MAIL FROM:<> refused: " + rcpt.reply;
    } else if (rcpt.outcome == Outcome::Delivered) {
      answer_given.verdict = server::Verification::Accepted;
      lifetime = lifetimes.accepted_us;
    } else if (rcpt.outcome == Outcome::PermFail) {
      answer_given.verdict = server::Verification::Refused;
      lifetime = lifetimes.refused_us;
    }
  }
  if (stopped_) {
    return;
  }
  remember(key, answer_given, lifetime);
  const auto waiting = probing_.find(key);
  if (waiting == probing_.end()) {
    return;
  }
  for (const Waiter& waiter : waiting->second) {
    answer(waiter.done, answer_given);
  }
  waiting_ -= waiting->second.size();
  probing_.erase(waiting);
  if (waiting_ == 0) {
    uv_timer_stop(&timer_);
  }
}

void NextHopVerifier::remember(const std::string& key, const server::VerificationResult& result, uint64_t lifetime_us) {
  if (auto old = cache_.find(key); old != cache_.end()) {
    recency_.erase(old->second.recency);
    cache_.erase(old);
  }
  while (cache_.size() >= max_entries_) {
    cache_.erase(recency_.back());
    recency_.pop_back();
  }
  recency_.push_front(key);
  cache_.emplace(key, Entry{result, nowMicros() + lifetime_us, recency_.begin()});
}

void NextHopVerifier::answer(const std::function<void(server::VerificationResult)>& done,
                             const server::VerificationResult& result) {
  switch (result.verdict) {
    case server::Verification::Accepted: accepted_.fetch_add(1, std::memory_order_relaxed); break;
    case server::Verification::Refused: refused_.fetch_add(1, std::memory_order_relaxed); break;
    case server::Verification::Unverified: unverified_.fetch_add(1, std::memory_order_relaxed); break;
  }
  done(result);
}

void NextHopVerifier::onTimer(uv_timer_t* timer) { static_cast<NextHopVerifier*>(timer->data)->expireWaiters(); }

void NextHopVerifier::expireWaiters() {
  const uint64_t now = nowMicros();
  for (auto& [key, waiters] : probing_) {
    for (auto waiter = waiters.begin(); waiter != waiters.end();) {
      if (waiter->deadline_us > now) {
        ++waiter;
        continue;
      }
      answer(waiter->done, {server::Verification::Unverified, "the next hop has not answered the probe yet"});
      waiter = waiters.erase(waiter);
      --waiting_;
    }
  }
  if (waiting_ == 0) {
    uv_timer_stop(&timer_);
  }
}

VerifierStats NextHopVerifier::stats() const {
  return VerifierStats{probes_.load(), cache_hits_.load(), accepted_.load(), refused_.load(), unverified_.load()};
}

}  // namespace mxgate::delivery
