// The public click and open endpoint (links.address:links.port, an http::Server with the
// links.* connection limits and timeouts):
//   GET|HEAD /l/<key id>/<payload>/<mac>  a signed link: 302 to its target and a
//                                         message.clicked event; a bad MAC or an unknown key
//                                         shows a plain page with the decoded target and
//                                         never redirects (no open redirect)
//   GET|HEAD /o/<key id>/<payload>/<mac>  a 1×1 transparent GIF (always) and, when the MAC
//                                         verifies, a message.opened event
//   GET      /healthz                     liveness
// An event's client address is the TCP peer's, or, when the peer is one of links.trusted_proxies,
// the one X-Forwarded-For names (http/forwarded.h).
// Runs on its own loop thread ("links"): a flood of connections here never delays the control
// loop (scheduler, deliveries, admin API). What it shares with other threads: the spool
// (Store::submit is thread-safe), the configuration (ConfigFn returns an immutable snapshot),
// the key ring (immutable) and the counters (atomics, read by /metrics).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/base/ip_network.h"
#include "mxgate/config/config.h"
#include "mxgate/http/server.h"
#include "mxgate/links/rewriter.h"
#include "mxgate/spool/store.h"

namespace mxgate::admin {

struct LinkCounters {
  // [kind: click, open][result: ok, bad_mac, unknown_key, malformed]
  std::array<std::array<std::atomic<uint64_t>, 4>, 2> requests{};
};

class LinkEndpoint {
 public:
  using ConfigFn = std::function<std::shared_ptr<const config::Config>()>;
  LinkEndpoint(std::shared_ptr<const links::KeyRing> keys, LinkCounters& counters, spool::Store& store,
               ConfigFn config);
  // The http::Server handler.
  void handle(const http::Request& request, http::Respond respond);

 private:
  // A verified click or open: a message.clicked / message.opened event for the link's tenant
  // (written unsynced: losing one in a crash loses a click, never mail).
  void record(char kind, const links::LinkTarget& target, const http::Request& request);
  // links.trusted_proxies of this configuration, parsed once per configuration.
  const std::vector<IpNetwork>& trustedProxies(const std::shared_ptr<const config::Config>& config);

  std::shared_ptr<const links::KeyRing> keys_;
  LinkCounters& counters_;
  spool::Store& store_;
  ConfigFn config_;
  std::shared_ptr<const config::Config> proxies_of_;  // the configuration trusted_proxies_ came from
  std::vector<IpNetwork> trusted_proxies_;
};

}  // namespace mxgate::admin
