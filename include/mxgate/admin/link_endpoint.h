// The public click and open endpoint (links.address:links.port, an http::Server with the
// links.* connection limits and timeouts):
//   GET|HEAD /l/<key id>/<payload>/<mac>  a signed link: 302 to its target and a
//                                         message.clicked event; a bad MAC or an unknown key
//                                         shows a plain page with the decoded target and
//                                         never redirects (no open redirect)
//   GET|HEAD /o/<key id>/<payload>/<mac>  a 1×1 transparent GIF (always) and, when the MAC
//                                         verifies, a message.opened event
//   GET|HEAD /u/<key id>/<payload>/<mac>  RFC 8058 one-click unsubscribe (the List-Unsubscribe
//                                         URL of an outbound message): a small page whose form
//                                         POSTs; it never unsubscribes by itself (link scanners
//                                         follow GETs)
//   POST     /u/<key id>/<payload>/<mac>  body List-Unsubscribe=One-Click: the recipient goes on
//                                         the tenant's suppression list (reason unsubscribe) and
//                                         a message.unsubscribed event is written, in one synced
//                                         batch, then 200; a repeat answers 200 and writes
//                                         nothing. A bad MAC or unknown key: 400 page, nothing
//                                         written
//   GET      /healthz                     liveness
// The events of an outbound message's links carry its tags and metadata (from the link itself).
// An event's client address is the TCP peer's, or, when the peer is one of links.trusted_proxies,
// the one X-Forwarded-For names (http/forwarded.h).
// Runs on its own loop thread ("links"): a flood of connections here never delays the control
// loop (scheduler, deliveries, admin API). What it shares with other threads: the spool
// (Store::submit is thread-safe) and the suppression lists (their answers come back to this
// endpoint's loop), the configuration (ConfigFn returns an immutable snapshot),
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
#include "mxgate/events/event.h"
#include "mxgate/http/server.h"
#include "mxgate/io/loop.h"
#include "mxgate/links/rewriter.h"
#include "mxgate/spool/store.h"
#include "mxgate/spool/suppression.h"

namespace mxgate::admin {

struct LinkCounters {
  // [kind: click, open, unsubscribe][result: ok, bad_mac, unknown_key, malformed]
  std::array<std::array<std::atomic<uint64_t>, 4>, 3> requests{};
};

class LinkEndpoint {
 public:
  // The largest request body (a one-click POST is "List-Unsubscribe=One-Click", or the same as a
  // small multipart/form-data body); a larger one is answered 413 by the server.
  static constexpr size_t kMaxBodyBytes = 1024;

  using ConfigFn = std::function<std::shared_ptr<const config::Config>()>;
  // loop: the endpoint's own loop thread (answers of the suppression lists come back there).
  LinkEndpoint(std::shared_ptr<const links::KeyRing> keys, LinkCounters& counters, spool::Store& store,
               spool::SuppressionList& suppressions, io::Loop& loop, ConfigFn config);
  // The http::Server handler.
  void handle(const http::Request& request, http::Respond respond);

 private:
  // A verified click or open: a message.clicked / message.opened event for the link's tenant
  // (written unsynced: losing one in a crash loses a click, never mail).
  void record(char kind, const links::LinkTarget& target, const http::Request& request);
  // /u/...: the confirmation page (GET, HEAD) or the unsubscribe itself (POST).
  void unsubscribe(const http::Request& request, http::Respond respond);
  // The event fields of a verified link: its message, context and the client.
  events::Fields fieldsOf(const links::LinkTarget& target, const http::Request& request,
                          const std::shared_ptr<const config::Config>& config);
  // links.trusted_proxies of this configuration, parsed once per configuration.
  const std::vector<IpNetwork>& trustedProxies(const std::shared_ptr<const config::Config>& config);

  std::shared_ptr<const links::KeyRing> keys_;
  LinkCounters& counters_;
  spool::Store& store_;
  spool::SuppressionList& suppressions_;
  io::Loop& loop_;
  ConfigFn config_;
  std::shared_ptr<const config::Config> proxies_of_;  // the configuration trusted_proxies_ came from
  std::vector<IpNetwork> trusted_proxies_;
};

}  // namespace mxgate::admin
