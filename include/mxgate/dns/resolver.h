// The DNS resolver shared by everything in mxgate (SPF, DKIM keys, DMARC records, MX and TLSA
// records): c-ares for the transport on its own libuv loop ("dns"), our own parser for the
// answers (RFC 1035 §4, RFC 2308 negative caching, CNAME chains inside one response, TLSA per
// RFC 6698 §2.1), the DNSSEC state of each answer (every query sets the AD bit, RFC 6840 §5.7,
// so a validating resolver reports whether it validated the answer; only a resolver on
// loopback should be trusted for it, as RFC 7672 §1.3 and Postfix say), a TTL
// cache with negative entries, in-flight deduplication (one query per name and type however
// many ask), a configurable server list (tests point it at 127.0.0.1), and a blocking bridge
// for lane threads that must answer synchronous library callbacks (libopendkim key lookups).
//
// query() is thread-safe; its callback runs on the resolver's loop thread and must not block.
// queryBlocking() is for lane threads only, never for a loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::io {
class Loop;
}

namespace mxgate::dns {

enum class RrType : uint16_t { A = 1, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, TLSA = 52 };

enum class Status {
  Ok,        // at least one record of the asked type (after following CNAMEs)
  NoData,    // the name exists but has no record of the type (NOERROR, no answer)
  NxDomain,  // the name does not exist (RCODE 3)
  ServFail,  // SERVFAIL, REFUSED, a malformed or mismatched response: a temporary failure
  Timeout,   // no response after every try
};

struct MxHost {
  uint16_t preference = 0;
  std::string host;  // lower-cased, no trailing dot

  bool operator==(const MxHost&) const = default;
};

// One TLSA record (RFC 6698 §2.1): certificate usage, selector, matching type, association data.
struct Tlsa {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::string data;  // binary

  bool operator==(const Tlsa&) const = default;
};

struct Answer {
  Status status = Status::ServFail;
  uint32_t ttl = 0;                    // seconds the answer may be cached (negative: SOA minimum)
  std::vector<std::string> texts;      // TXT: the character-strings of each record concatenated
  std::vector<std::string> addresses;  // A / AAAA: numeric text form ("192.0.2.1", "2001:db8::1")
  std::vector<MxHost> mx;              // MX, in the order received
  std::vector<std::string> names;      // PTR (and the CNAME target for CNAME queries), no trailing dot
  std::vector<Tlsa> tlsa;              // TLSA
  // The response had the AD bit: the resolver validated it with DNSSEC (RFC 4035 §3.2.3), a
  // positive answer and a denial of existence alike.
  bool authenticated = false;

  // SERVFAIL or timeout: the caller must not treat this as an answer (SPF/DKIM temperror).
  bool temporary() const { return status == Status::ServFail || status == Status::Timeout; }
};

using AnswerPtr = std::shared_ptr<const Answer>;
using Callback = std::function<void(AnswerPtr)>;

// Parses a DNS response (wire format) to a query for (name, type). Pure; safe on any thread.
// A response that does not match the question, is truncated or malformed gives ServFail.
Answer parseResponse(std::string_view packet, std::string_view name, RrType type);

// Lower-cases and drops one trailing dot: the cache key form of a name.
std::string canonicalName(std::string_view name);

struct ResolverSettings {
  std::vector<std::string> servers;  // "127.0.0.1", "127.0.0.1:5353", "[::1]:53"; empty = resolv.conf
  std::chrono::milliseconds timeout{2000};  // per try
  uint32_t tries = 3;
  size_t cache_entries = 100000;
  uint32_t max_ttl = 86400;           // positive answers are cached at most this long
  uint32_t negative_ttl = 300;        // NXDOMAIN/NODATA without an SOA: this long (at most this)
  uint32_t failure_ttl = 5;           // SERVFAIL/timeout results are kept this long (seconds)
};

struct ResolverStats {
  uint64_t queries = 0;        // asked by callers
  uint64_t cache_hits = 0;
  uint64_t joined = 0;         // joined a query already in flight
  uint64_t sent = 0;           // sent to a server
  uint64_t failures = 0;       // ServFail or Timeout outcomes
};

class Resolver {
 public:
  // Creates the c-ares channel; error is set and nullptr returned on a bad server list.
  static std::unique_ptr<Resolver> create(const ResolverSettings& settings, std::string& error);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Starts / stops the resolver's loop thread.
  void start();
  void stop();

  // Thread-safe. The callback runs on the resolver's loop thread (also for cache hits).
  void query(std::string name, RrType type, Callback callback);
  // Lane threads only: waits for the answer (bounded by the query's own timeouts).
  AnswerPtr queryBlocking(const std::string& name, RrType type);

  ResolverStats stats() const;
  io::Loop& loop();

 private:
  class Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxgate::dns
