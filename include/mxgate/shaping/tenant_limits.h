// Per-tenant sending limits of authenticated (outbound) mail: a message rate and a daily cap
// ([outbound] message_rate, daily_cap), each a GCRA (gcra.h): n messages per period may go at
// once, and then one every period/n. The daily cap is that with a period of 24 hours, so it is a rolling
// window, replenished continuously rather than at midnight. A message counts once, when its
// transaction starts (SMTP MAIL, a send API request), against both limits or neither.
//
// The state lives in memory and is kept across restarts by its owner: changed() hands out what
// changed (the node writes it to the spool every few hundred milliseconds and at shutdown) and
// restore() gives back what a previous run wrote, before the first update(). Thread-safe:
// sessions on the worker loops and the send API ask at once; update() (start and reload, on
// the configuration thread) keeps the state of a tenant whose limits did not change.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/shaping/gcra.h"

namespace mxgate::shaping {

struct Admission {
  bool admitted = true;
  std::string limit;            // when refused: "message_rate 100/s" or "daily_cap 10000"
  uint64_t retry_after_s = 0;   // when refused: seconds until one more message fits (at least 1)
};

class TenantLimits {
 public:
  void update(const config::Config& config);
  // One message of tenant at now_us: admitted (and counted) or refused with when to retry.
  // A tenant without limits, or unknown, is always admitted.
  Admission admit(std::string_view tenant, uint64_t now_us);

  // The GCRA times of one tenant: what it has used of its allowance.
  struct Usage {
    std::string tenant;
    uint64_t rate_tat_us = 0;
    uint64_t day_tat_us = 0;
    bool at_rest = false;  // nothing counted remains at now_us: the kept state can go
  };
  // The tenants whose usage changed since the last call (or since they were restored).
  std::vector<Usage> changed(uint64_t now_us);
  // Usage a previous run kept; applied to each tenant as update() first makes its entry.
  void restore(std::vector<Usage> usage);

 private:
  struct Entry {
    config::Rate message_rate;
    uint64_t daily_cap = 0;
    std::mutex mutex;  // both GCRAs change together
    Gcra rate;
    Gcra day;
    bool changed = false;
  };
  std::shared_mutex mutex_;  // guards by_tenant_ (the map, not the entries)
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> by_tenant_;
  std::map<std::string, Usage, std::less<>> restored_;  // not yet applied (guarded by mutex_)
  std::vector<Usage> dropped_;  // restored for tenants that have no limits now (guarded by mutex_)
};

}  // namespace mxgate::shaping
