// Where mail for a recipient domain goes (RFC 5321 §5.1): the domain's MX records through the
// shared resolver, ordered by preference with equal preferences in random order, then the
// addresses of each mail exchanger (AAAA and A, both asked at once) up to a limit, in that
// order. No MX records: the domain itself is the one mail exchanger ("implicit MX"). A null
// MX (RFC 7505: one record, "."): the domain accepts no mail, a permanent failure (5.1.10)
// with no implicit-MX fallback. A domain that does not exist fails permanently (5.1.2); a
// lookup that times out or fails fails temporarily (4.4.3) and is never read as "no MX".
// Address literals (RFC 5321 §4.1.3: "[192.0.2.1]", "[IPv6:2001:db8::1]") need no lookup.
// Each address says whether it was reached through DNSSEC-validated answers only (the MX
// RRset, or its validated absence, and the address records): the condition for looking up the
// exchanger's TLSA records (RFC 7672 §2.2.1).
//
// MxResolver::resolve() is thread-safe; its callback runs on the resolver's loop thread and
// must not block. The lookups of one resolution live on that thread only. An MxResolver
// outlives the resolutions it started (it lives as long as its resolver).
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/dns/resolver.h"

namespace mxgate::delivery {

// One address to connect to, and the mail exchanger it belongs to.
struct MxHop {
  std::string host;     // the MX host name (the TLS reference name); "" for an address literal
  std::string address;  // numeric IPv4 or IPv6
  uint16_t preference = 0;
  bool secure = false;  // the MX answer and this address's answer were both DNSSEC-validated

  bool operator==(const MxHop&) const = default;
};

struct MxRoute {
  enum class Status {
    Ok,         // hops holds the addresses to try, in order
    NullMx,     // RFC 7505: the domain accepts no mail
    NoDomain,   // the domain does not exist (NXDOMAIN), or an unusable address literal
    NoAddress,  // no mail exchanger has an address
    TempFail,   // a lookup failed or timed out: try again later
  };
  Status status = Status::TempFail;
  std::vector<MxHop> hops;
  bool implicit = false;  // no MX records: the domain's own addresses
  std::string domain;
  std::string detail;     // what the lookups found, for logs and replies

  // What a failed route means for its recipients: an SMTP-style reply of our own
  // ("550 5.1.10 ...", "451 4.4.3 ...") and its outcome. Ok gives Delivered and "".
  Outcome outcome() const;
  std::string reply() const;
};

// Ascending preference, hosts of equal preference shuffled with `random` (RFC 5321 §5.1).
std::vector<dns::MxHost> orderByPreference(std::vector<dns::MxHost> hosts, std::mt19937& random);

class MxResolver {
 public:
  MxResolver(dns::Resolver& resolver, const config::MxSettings& settings);

  // Resolves the route to domain (the part after '@', or an address literal). done runs once,
  // on the resolver's loop thread.
  void resolve(std::string domain, std::function<void(MxRoute)> done);

 private:
  struct Resolution;
  void resolveHosts(std::shared_ptr<Resolution> resolution, std::vector<dns::MxHost> hosts);

  dns::Resolver& resolver_;
  config::MxSettings settings_;
  std::mt19937 random_;  // the resolver's loop thread only
};

}  // namespace mxgate::delivery
