// Sender Policy Framework (RFC 7208): our own evaluator, asynchronous on the shared resolver.
// (libspf2 reached 144 of the RFC 7208 suite's 203 cases through our DNS layer and calls DNS
// synchronously; this evaluator is measured against all 203 in tests/unit/spf.)
//
// check() runs check_host() for the MAIL FROM identity, or for the HELO identity when MAIL FROM
// is the null path (§2.4). Every step is a DNS lookup through the Dns interface; the evaluation
// itself runs inside those callbacks (on the resolver's loop thread in production), never
// blocks, and calls `done` exactly once. Limits: 10 DNS-querying terms, 2 void lookups, 10 MX
// or PTR names per term (§4.6.4). A DNS failure is temperror, never a guess.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/dns/resolver.h"

namespace mxgate::spf {

enum class Result { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };

// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (RFC 7208 §2.6).
std::string_view name(Result result);

// The lookups an evaluation needs. Production: the shared resolver. Tests: zone data.
class Dns {
 public:
  virtual ~Dns() = default;
  virtual void lookup(const std::string& name, dns::RrType type, dns::Callback done) = 0;
};

// Adapts the shared resolver to Dns.
class ResolverDns : public Dns {
 public:
  explicit ResolverDns(dns::Resolver& resolver) : resolver_(resolver) {}
  void lookup(const std::string& name, dns::RrType type, dns::Callback done) override;

 private:
  dns::Resolver& resolver_;
};

struct Request {
  std::string client_ip;  // numeric IPv4 or IPv6 (an IPv4-mapped IPv6 address counts as IPv4)
  std::string sender;     // MAIL FROM address, "" for the null path
  std::string helo;       // EHLO/HELO argument
  std::string receiver;   // our host name, for the %{r} macro
};

struct Outcome {
  Result result = Result::None;
  std::string identity;     // "mailfrom" or "helo": what was checked
  std::string domain;       // the domain whose policy decided
  std::string mechanism;    // the term that matched ("ip4:192.0.2.0/24", "-all"), if any
  std::string explanation;  // the exp= text for a fail, when the record has one
  std::string problem;      // why, for permerror/temperror (for logs and Received-SPF)
  uint32_t lookups = 0;     // DNS-querying terms used
};

void check(Dns& dns, const Request& request, std::function<void(Outcome)> done);

// ---- Pure pieces, exposed for unit tests and fuzzing -------------------------------------

// A parsed SPF record (RFC 7208 §4.6, §5, §6). Terms keep their order.
struct Term {
  enum class Kind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists, Redirect, Exp, Unknown };
  Kind kind = Kind::Unknown;
  char qualifier = '+';  // '+', '-', '~', '?' for mechanisms
  std::string domain_spec;  // as written, macros not expanded ("" = the current domain)
  std::string network;      // ip4/ip6: the address text
  int cidr4 = -1;           // -1 = not given
  int cidr6 = -1;
  std::string text;         // the term as written
};

struct Record {
  std::vector<Term> terms;  // mechanisms and modifiers, in order
};

// Parses a record that starts with "v=spf1". Returns nullopt and sets error on a syntax error
// (a permerror for the evaluation), including unknown mechanisms and duplicate redirect/exp.
std::optional<Record> parseRecord(std::string_view text, std::string& error);

struct MacroContext {
  std::string sender;    // %{s}
  std::string local;     // %{l}
  std::string sender_domain;  // %{o}
  std::string domain;    // %{d}
  std::string client_ip;  // %{i} source
  bool ipv6 = false;
  std::string validated_name;  // %{p}
  std::string helo;      // %{h}
  std::string receiver;  // %{r}
  long long now = 0;     // %{t}
};

// Expands macros (§7). explanation=true allows %{c}, %{r}, %{t} (exp= text only).
// Returns nullopt on a syntax error (permerror).
std::optional<std::string> expandMacros(std::string_view text, const MacroContext& context, bool explanation);

}  // namespace mxgate::spf
