// The public click and open endpoint (links.address:links.port, http::Server on the control
// loop):
//   GET|HEAD /l/<key id>/<payload>/<mac>  a signed link: 302 to its target and a
//                                         message.clicked event; a bad MAC or an unknown key
//                                         shows a plain page with the decoded target and
//                                         never redirects (no open redirect)
//   GET|HEAD /o/<key id>/<payload>/<mac>  a 1×1 transparent GIF (always) and, when the MAC
//                                         verifies, a message.opened event
//   GET      /healthz                     liveness
// Runs on the control loop.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "mxgate/http/server.h"
#include "mxgate/config/config.h"
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

  std::shared_ptr<const links::KeyRing> keys_;
  LinkCounters& counters_;
  spool::Store& store_;
  ConfigFn config_;
};

}  // namespace mxgate::admin
