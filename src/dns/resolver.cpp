// The resolver: c-ares 1.18 as the transport on the resolver's own libuv loop (each c-ares
// socket mirrored into a uv_poll_t through ARES_OPT_SOCK_STATE_CB, a uv_timer_t re-armed from
// ares_timeout()), our own response parser (response_parser.cpp), a TTL cache with negative
// entries (RFC 2308 §5) and failure entries, and in-flight deduplication.
//
// Threads: query() and queryBlocking() may be called from any thread except that queryBlocking()
// must not run on the resolver's loop thread. Everything else (the channel, the cache, the
// in-flight table, every callback) lives on the loop thread. query() always posts: a callback
// never runs inline in the caller's stack, not even for a cache hit on the loop thread itself.
// After stop(), query() answers ServFail at once on the calling thread (there is no loop).
//
// c-ares 1.18 behaviour this relies on:
// - Without ARES_FLAG_NOCHECKRESP a SERVFAIL/REFUSED answer makes c-ares try the next server
//   and, once every try is used, report ARES_ECONNREFUSED with no answer buffer, which cannot
//   be told from an unreachable server. With the flag such answers end the query as
//   ARES_ESERVFAIL/ARES_EREFUSED, so they become ServFail here, not Timeout (and a SERVFAIL is
//   not retried on another server).
// - ARES_ENOTFOUND/ARES_ENODATA come with the server's answer buffer; they come without one
//   only when c-ares decides locally (".onion" names, RFC 7686).
// - The per-try timeout doubles on each pass over the server list: one server with timeout t
//   and n tries gives up after t·(2^n − 1).
// - A UDP answer with TC set is retried over TCP (we never set ARES_FLAG_IGNTC).
#include "mxgate/dns/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <future>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "answer_cache.h"
#include "mxgate/base/log.h"
#include "mxgate/io/loop.h"
#include "response_parser.h"

namespace mxgate::dns {
namespace {

constexpr int kClassIn = 1;
constexpr int kEdnsPayload = 1232;  // the DNS Flag Day 2020 size: no IP fragmentation
constexpr unsigned char kFlagAdLow = 0x20;  // AD in the header's fourth octet (RA Z AD CD RCODE)
constexpr size_t kMaxNameLength = 253;
constexpr size_t kMaxLabelLength = 63;
constexpr uint16_t kDefaultPort = 53;

using Clock = detail::AnswerCache::Clock;

bool parsePort(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) {
    return false;
  }
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > std::numeric_limits<uint16_t>::max()) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

// "ip", "ip:port", "v6", "[v6]" or "[v6]:port" → c-ares's "ip:port" / "[v6]:port" form.
bool serverEntry(std::string_view entry, std::string& out) {
  std::string host;
  uint16_t port = kDefaultPort;
  bool bracketed = false;
  if (!entry.empty() && entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    host = entry.substr(1, close - 1);
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !parsePort(rest.substr(1), port))) {
      return false;
    }
    bracketed = true;
  } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
    const size_t colon = entry.find(':');
    host = entry.substr(0, colon);
    if (!parsePort(entry.substr(colon + 1), port)) {
      return false;
    }
  } else {
    host = entry;
  }
  in_addr v4{};
  in6_addr v6{};
  if (!bracketed && inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    out = host + ":" + std::to_string(port);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    out = "[" + host + "]:" + std::to_string(port);
    return true;
  }
  return false;
}

bool serversCsv(const std::vector<std::string>& servers, std::string& csv, std::string& error) {
  csv.clear();
  for (const std::string& server : servers) {
    std::string entry;
    if (!serverEntry(server, entry)) {
      error = "dns: bad server address \"" + log::escape(server) + "\" (want ip, ip:port or [ipv6]:port)";
      return false;
    }
    csv += csv.empty() ? entry : "," + entry;
  }
  return true;
}

// RFC 1035 §2.3.4 in text form: 1..253 characters, labels of 1..63. NUL cannot pass c-ares.
bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return false;
  }
  size_t label = 0;
  for (char c : name) {
    if (c == '\0') {
      return false;
    }
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
    } else if (++label > kMaxLabelLength) {
      return false;
    }
  }
  return label > 0;
}

// ares_create_query reads "\x" as a literal x; a backslash in a name must therefore be doubled.
std::string escapeForAres(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

AnswerPtr makeAnswer(Status status, uint32_t ttl) {
  auto answer = std::make_shared<Answer>();
  answer->status = status;
  answer->ttl = ttl;
  return answer;
}

}  // namespace

class Resolver::Impl {
 public:
  explicit Impl(const ResolverSettings& settings) : settings_(settings), cache_(settings.cache_entries) {}

  ~Impl() {
    if (channel_ != nullptr) {
      ares_destroy(channel_);  // only when create() failed: otherwise the shutdown hook did it
    }
  }

  bool init(std::string& error);
  void start();
  void stop();
  void query(std::string name, RrType type, Callback callback);
  ResolverStats stats() const;
  io::Loop& loop() { return loop_; }

 private:
  enum class State { Created, Running, Stopped };

  struct Request {
    Impl* impl;
    detail::QueryKey key;
  };

  struct Poll {
    uv_poll_t handle{};
    Impl* impl = nullptr;
    ares_socket_t fd = ARES_SOCKET_BAD;
  };

  void lookup(detail::QueryKey key, Callback callback);
  void complete(const detail::QueryKey& key, int status, const unsigned char* abuf, int alen);
  detail::ParsedResponse interpret(const detail::QueryKey& key, int status, const unsigned char* abuf, int alen) const;
  uint32_t cacheSeconds(const detail::ParsedResponse& parsed) const;
  void socketState(ares_socket_t fd, bool readable, bool writable);
  void rearmTimer();
  void shutdown();

  static void onAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void onPoll(uv_poll_t* handle, int status, int events);
  static void onTimer(uv_timer_t* timer);
  static void closePoll(Poll* poll);

  const ResolverSettings settings_;
  io::Loop loop_{"dns"};

  std::mutex state_mutex_;
  State state_ = State::Created;  // guarded by state_mutex_

  std::atomic<uint64_t> queries_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> joined_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failures_{0};  // queries sent that ended in ServFail or Timeout

  // Loop thread only.
  ares_channel channel_ = nullptr;  // null once the shutdown hook has destroyed it
  uv_timer_t timer_{};
  std::unordered_map<ares_socket_t, Poll*> polls_;
  detail::AnswerCache cache_;
  std::unordered_map<detail::QueryKey, std::vector<Callback>, detail::QueryKeyHash> pending_;
};

bool Resolver::Impl::init(std::string& error) {
  static std::once_flag library_once;
  static int library_status = ARES_SUCCESS;
  std::call_once(library_once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS) {
    error = std::string("dns: c-ares library init failed: ") + ares_strerror(library_status);
    return false;
  }
  if (settings_.timeout.count() <= 0 || settings_.timeout.count() > std::numeric_limits<int>::max() ||
      settings_.tries == 0 || settings_.tries > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    error = "dns: timeout and tries must be positive";
    return false;
  }
  std::string csv;
  if (!serversCsv(settings_.servers, csv, error)) {
    return false;
  }

  ares_options options{};
  options.flags = ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
  options.timeout = static_cast<int>(settings_.timeout.count());
  options.tries = static_cast<int>(settings_.tries);
  options.ednspsz = kEdnsPayload;
  options.sock_state_cb = &Impl::onSocketState;
  options.sock_state_cb_data = this;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB;
  int rc = ares_init_options(&channel_, &options, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    error = std::string("dns: c-ares init failed: ") + ares_strerror(rc);
    return false;
  }
  if (!csv.empty() && (rc = ares_set_servers_ports_csv(channel_, csv.c_str())) != ARES_SUCCESS) {
    error = std::string("dns: c-ares rejected the server list \"") + csv + "\": " + ares_strerror(rc);
    return false;
  }
  uv_timer_init(loop_.uv(), &timer_);
  timer_.data = this;
  loop_.addShutdownHook([this] { shutdown(); });
  return true;
}

void Resolver::Impl::start() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (state_ == State::Created) {
    state_ = State::Running;
    loop_.start();
  }
}

// A resolver that was never started is started here so that queries posted before stop() still
// get their callbacks; from then on query() answers ServFail without the loop. Not for the loop
// thread itself (it joins that thread).
void Resolver::Impl::stop() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (state_ == State::Stopped) {
      return;
    }
    if (state_ == State::Created) {
      loop_.start();
    }
    state_ = State::Stopped;
  }
  loop_.stop();
  loop_.join();
}

void Resolver::Impl::query(std::string name, RrType type, Callback callback) {
  queries_.fetch_add(1, std::memory_order_relaxed);
  detail::QueryKey key{canonicalName(name), type};
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (state_ != State::Stopped) {
      // Posted under the lock: it is queued ahead of stop()'s shutdown, so it always runs.
      loop_.post([this, key = std::move(key), callback = std::move(callback)]() mutable {
        lookup(std::move(key), std::move(callback));
      });
      return;
    }
  }
  callback(makeAnswer(Status::ServFail, 0));
}

ResolverStats Resolver::Impl::stats() const {
  ResolverStats stats;
  stats.queries = queries_.load(std::memory_order_relaxed);
  stats.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  stats.joined = joined_.load(std::memory_order_relaxed);
  stats.sent = sent_.load(std::memory_order_relaxed);
  stats.failures = failures_.load(std::memory_order_relaxed);
  return stats;
}

void Resolver::Impl::lookup(detail::QueryKey key, Callback callback) {
  if (channel_ == nullptr) {
    callback(makeAnswer(Status::ServFail, 0));  // posted while the loop was shutting down
    return;
  }
  if (!validName(key.name)) {
    callback(makeAnswer(Status::NxDomain, settings_.negative_ttl));
    return;
  }
  if (AnswerPtr hit = cache_.find(key, Clock::now())) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    callback(std::move(hit));
    return;
  }
  auto [entry, fresh] = pending_.try_emplace(key);
  entry->second.push_back(std::move(callback));
  if (!fresh) {
    joined_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  sent_.fetch_add(1, std::memory_order_relaxed);
  // The query as ares_query would build it (recursion desired, EDNS0 with our payload size),
  // plus the AD bit (RFC 6840 §5.7) so that a validating resolver says whether it validated the
  // answer; ares_send gives it a fresh id. c-ares owns the request until onAnswer, which may run
  // before ares_send returns.
  unsigned char* packet = nullptr;
  int length = 0;
  if (ares_create_query(escapeForAres(key.name).c_str(), kClassIn, static_cast<int>(key.type), 0, 1, &packet,
                        &length, kEdnsPayload) != ARES_SUCCESS ||
      length < 4) {
    ares_free_string(packet);
    complete(key, ARES_EBADNAME, nullptr, 0);
    return;
  }
  packet[3] |= kFlagAdLow;
  auto* request = new Request{this, key};
  ares_send(channel_, packet, length, &Impl::onAnswer, request);
  ares_free_string(packet);
  rearmTimer();
}

void Resolver::Impl::onAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  const std::unique_ptr<Request> request(static_cast<Request*>(arg));
  request->impl->complete(request->key, status, abuf, alen);
}

void Resolver::Impl::complete(const detail::QueryKey& key, int status, const unsigned char* abuf, int alen) {
  detail::ParsedResponse parsed = interpret(key, status, abuf, alen);
  const uint32_t seconds = cacheSeconds(parsed);
  parsed.answer.ttl = seconds;
  if (parsed.answer.temporary()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
  }
  const AnswerPtr answer = std::make_shared<const Answer>(std::move(parsed.answer));
  cache_.insert(key, answer, seconds, Clock::now());
  auto waiting = pending_.extract(key);
  if (waiting.empty()) {
    return;
  }
  for (Callback& callback : waiting.mapped()) {
    callback(answer);
  }
}

detail::ParsedResponse Resolver::Impl::interpret(const detail::QueryKey& key, int status, const unsigned char* abuf,
                                                 int alen) const {
  detail::ParsedResponse parsed;
  switch (status) {
    case ARES_SUCCESS:
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
      if (abuf != nullptr && alen > 0) {
        const std::string_view packet(reinterpret_cast<const char*>(abuf), static_cast<size_t>(alen));
        return detail::parseResponseDetailed(packet, key.name, key.type);
      }
      parsed.answer.status = status == ARES_ENOTFOUND ? Status::NxDomain
                             : status == ARES_ENODATA ? Status::NoData
                                                      : Status::ServFail;
      return parsed;
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
      parsed.answer.status = Status::Timeout;
      return parsed;
    default:  // ESERVFAIL, EREFUSED, EBADRESP, EFORMERR, ENOTIMP, EDESTRUCTION, ECANCELLED, ENOMEM...
      parsed.answer.status = Status::ServFail;
      return parsed;
  }
}

uint32_t Resolver::Impl::cacheSeconds(const detail::ParsedResponse& parsed) const {
  switch (parsed.answer.status) {
    case Status::Ok:
      return std::min(parsed.answer.ttl, settings_.max_ttl);
    case Status::NxDomain:
    case Status::NoData:
      return parsed.has_soa ? std::min(std::max(parsed.answer.ttl, 1u), settings_.negative_ttl)
                            : settings_.negative_ttl;
    case Status::ServFail:
    case Status::Timeout:
      return settings_.failure_ttl;
  }
  return 0;
}

void Resolver::Impl::onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<Impl*>(data)->socketState(fd, readable != 0, writable != 0);
}

void Resolver::Impl::socketState(ares_socket_t fd, bool readable, bool writable) {
  auto it = polls_.find(fd);
  if (!readable && !writable) {
    if (it != polls_.end()) {
      closePoll(it->second);
      polls_.erase(it);
    }
    return;
  }
  if (it == polls_.end()) {
    auto* poll = new Poll;
    poll->impl = this;
    poll->fd = fd;
    if (const int rc = uv_poll_init(loop_.uv(), &poll->handle, fd); rc != 0) {
      // The query still ends: c-ares times it out through the timer.
      log::warn("-", "dns_poll_init_failed").kv("fd", fd).kv("error", uv_strerror(rc));
      delete poll;
      return;
    }
    poll->handle.data = poll;
    it = polls_.emplace(fd, poll).first;
  }
  const int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(&it->second->handle, events, &Impl::onPoll);
}

void Resolver::Impl::onPoll(uv_poll_t* handle, int status, int events) {
  const Poll* poll = static_cast<const Poll*>(handle->data);
  Impl* self = poll->impl;
  ares_socket_t readable = ARES_SOCKET_BAD;
  ares_socket_t writable = ARES_SOCKET_BAD;
  if (status < 0 || (events & UV_READABLE) != 0) {
    readable = poll->fd;  // on an error c-ares reads the socket to learn what happened
  }
  if (status < 0 || (events & UV_WRITABLE) != 0) {
    writable = poll->fd;
  }
  ares_process_fd(self->channel_, readable, writable);
  self->rearmTimer();
}

void Resolver::Impl::closePoll(Poll* poll) {
  uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle),
           [](uv_handle_t* handle) { delete static_cast<Poll*>(handle->data); });
}

void Resolver::Impl::rearmTimer() {
  if (channel_ == nullptr) {
    return;
  }
  timeval storage{};
  const timeval* next = ares_timeout(channel_, nullptr, &storage);
  if (next == nullptr) {
    uv_timer_stop(&timer_);
    return;
  }
  // Rounded up, so the timer never fires just before c-ares considers the try expired.
  const uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + (static_cast<uint64_t>(next->tv_usec) + 999) / 1000;
  uv_timer_start(&timer_, &Impl::onTimer, ms, 0);
}

void Resolver::Impl::onTimer(uv_timer_t* timer) {
  Impl* self = static_cast<Impl*>(timer->data);
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->rearmTimer();
}

// The loop's shutdown hook: ends every query in flight (ares_destroy calls each callback with
// ARES_EDESTRUCTION → ServFail) and closes every handle so the loop can return.
void Resolver::Impl::shutdown() {
  ares_channel channel = channel_;
  channel_ = nullptr;
  ares_destroy(channel);
  for (auto& [fd, poll] : polls_) {
    closePoll(poll);
  }
  polls_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

std::unique_ptr<Resolver> Resolver::create(const ResolverSettings& settings, std::string& error) {
  auto impl = std::make_unique<Impl>(settings);
  if (!impl->init(error)) {
    return nullptr;
  }
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Resolver::~Resolver() { impl_->stop(); }

void Resolver::start() { impl_->start(); }

void Resolver::stop() { impl_->stop(); }

void Resolver::query(std::string name, RrType type, Callback callback) {
  impl_->query(std::move(name), type, std::move(callback));
}

AnswerPtr Resolver::queryBlocking(const std::string& name, RrType type) {
  assert(!impl_->loop().inLoopThread() && "queryBlocking() on the resolver loop thread would deadlock");
  auto promise = std::make_shared<std::promise<AnswerPtr>>();
  std::future<AnswerPtr> future = promise->get_future();
  impl_->query(name, type, [promise](AnswerPtr answer) { promise->set_value(std::move(answer)); });
  return future.get();
}

ResolverStats Resolver::stats() const { return impl_->stats(); }

io::Loop& Resolver::loop() { return impl_->loop(); }

}  // namespace mxgate::dns
