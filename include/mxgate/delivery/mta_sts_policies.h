// The MTA-STS policies (RFC 8461) of recipient domains, for MX delivery: before a domain's mail
// is sent its TXT record _mta-sts.<domain> is looked up through the shared resolver (§3.1); a
// policy id not cached yet, or a cached policy due for refresh, is fetched from
// https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.3: PKIX-verified for that name, no
// redirects, status 200, text/plain, at most 64 KiB, 60 s) at an address from the resolver, never
// getaddrinfo. A cached policy applies until its max_age runs out, also when the TXT lookup or a
// fetch fails (§5.1), and across restarts: every fetched policy is written to the spool (family
// mta_sts, queue/README.md) and the unexpired ones are loaded at start. A policy is refreshed at a
// random time in the last quarter of its max_age, when the domain's mail is next sent.
// Lookups of one domain under way at once are coalesced; after a failed fetch a domain is not
// fetched again for kFailureBackoff (its cached policy, if any, still applies). Failures are
// counted as RFC 8460 result types (sts-policy-fetch-error, sts-policy-invalid,
// sts-webpki-invalid).
//
// Runs on one loop (the HTTP clients' loop): lookup(), configure() and shutdown() are
// thread-safe, lookup()'s callback runs on that loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/delivery/client_tls.h"
#include "mxgate/delivery/mta_sts.h"
#include "mxgate/delivery/mx_route.h"
#include "mxgate/dns/resolver.h"
#include "mxgate/io/loop.h"
#include "mxgate/spool/store.h"
#include "mxgate/webhook/client.h"

namespace mxgate::delivery {

// A domain's policy as fetched, with its id (from the TXT record) and times (Unix seconds).
struct StsPolicy {
  std::string domain;
  std::string id;
  mta_sts::Policy policy;
  std::string body;  // as served
  int64_t fetched_at = 0;
  int64_t expires_at = 0;  // fetched_at + max_age
  int64_t refresh_at = 0;  // fetched again from then on, whatever the TXT id says

  // Removes the hops of route whose exchanger the policy does not name (§4.1); returns those
  // exchangers' names, comma-separated ("" when every one is named).
  std::string dropUnlistedHops(MxRoute& route) const;
};
using StsPolicyPtr = std::shared_ptr<const StsPolicy>;

struct MtaStsSettings {
  uint16_t port = 443;
  std::string ca_file;  // "" = the system store
};

class MtaStsPolicies {
 public:
  static constexpr int64_t kFailureBackoffSeconds = 300;
  static constexpr std::chrono::seconds kFetchTimeout{60};

  // counters: where fetch failures are counted (may be null); store: where policies are kept
  // (may be null: then only in memory). Loads the store's unexpired policies (blocking read: at
  // start, before the loop runs anything for them) and deletes the others.
  MtaStsPolicies(io::Loop& loop, dns::Resolver& resolver, TlsCounters* counters, spool::Store* store);
  MtaStsPolicies(const MtaStsPolicies&) = delete;
  MtaStsPolicies& operator=(const MtaStsPolicies&) = delete;

  // Fetches from now on use these settings.
  void configure(MtaStsSettings settings);
  // The policy in force for domain (lower-case), or nullptr when there is none.
  void lookup(std::string domain, std::function<void(StsPolicyPtr)> done);
  // Lookups under way get nullptr; later ones too. The loop must still run.
  void shutdown();

 private:
  struct Domain {
    StsPolicyPtr policy;
    std::vector<std::function<void(StsPolicyPtr)>> waiting;
    int64_t fetch_after = 0;  // no fetch before this (a failed one)
  };

  void afterTxt(const std::string& domain, const dns::Answer& answer);
  void fetch(const std::string& domain, const std::string& id, dns::RrType type);
  void afterFetch(const std::string& domain, const std::string& id, const webhook::Response& response);
  void fetchFailed(const std::string& domain, TlsFailure failure, const std::string& error);
  // The domain's cached policy while unexpired, else nullptr.
  StsPolicyPtr current(const Domain& entry) const;
  void finish(const std::string& domain, StsPolicyPtr policy);
  void load();

  io::Loop& loop_;
  dns::Resolver& resolver_;
  TlsCounters* counters_;
  spool::Store* store_;
  webhook::Client client_;
  MtaStsSettings settings_;
  std::map<std::string, Domain> domains_;
  bool stopped_ = false;
};

}  // namespace mxgate::delivery
