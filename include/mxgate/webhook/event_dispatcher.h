// Posts the event outbox (spool family events) to each tenant's events.url: in time order per
// tenant, one request at a time per tenant, one JSON object per POST (or an array of up to
// events.batch_max), signed like inbound webhooks (Standard Webhooks, the event's "id" as
// webhook-id). A 2xx deletes the events; anything else backs the tenant off exponentially
// (5 s doubling to 10 min, ±20 % jitter, never sooner than a Retry-After); a 410 disables the
// tenant's event endpoint (persisted: DisabledEndpoints) until replay().
//
// The outbox keys each tenant's events under its own prefix, so every 250 ms the dispatcher
// reads only the oldest events of the tenants that may post now (scanEventHeads): a tenant
// whose endpoint is down, disabled or slow never holds the others back, however many events
// it has. A census walks the whole outbox every few seconds (less often when it is large): it
// counts pending and dead events per tenant, keeps events older than events.max_age as dead
// (re-keyed behind the tenant's live ones; replayable), purges dead events older than
// events.dead_retention, turns replayed dead events live again and drops the events of
// tenants without an events.url.
//
// Exactly once per 2xx: the keys of events taken by a 2xx stay excluded until their delete
// is applied and no read that may have seen them before it is still under way. Once they are
// released the heads are read again at once, so a tenant's next events do not wait for the
// next tick.
//
// Runs on the control loop; the spool is read on the read lane. start(), stop() and the
// admin calls are made on the control loop or posted to it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/spool/store.h"
#include "mxgate/webhook/client.h"
#include "mxgate/webhook/disabled_endpoints.h"

namespace mxgate::webhook {

struct EventTenantStatus {
  std::string tenant;
  std::string url;          // redacted
  bool disabled = false;    // after a 410, until replay
  uint64_t pending = 0;     // events waiting (as of the last census)
  uint64_t dead = 0;
  std::string last_error;
};

struct EventStats {
  uint64_t posted = 0;   // events taken by a 2xx
  uint64_t failed = 0;   // failed POSTs
  uint64_t dead = 0;     // events marked dead
  uint64_t dropped = 0;  // events of tenants without an events.url
  uint64_t purged = 0;   // dead events purged after events.dead_retention
  uint64_t outbox_pending = 0;  // live events in the outbox (as of the last census)
  uint64_t outbox_dead = 0;     // dead events in the outbox (as of the last census)
};

class EventDispatcher {
 public:
  using ConfigFn = std::function<std::shared_ptr<const config::Config>()>;
  EventDispatcher(io::Loop& control, spool::Store& store, io::Lane& read_lane, DisabledEndpoints& endpoints,
                  ConfigFn config);
  ~EventDispatcher();
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  void start();
  void stop();

  // Every tenant with an events.url, by tenant id.
  std::vector<EventTenantStatus> status() const;
  // Re-enables the tenant's endpoint (all tenants when ""), clears its backoff and makes its
  // dead events pending again (at the next census, which it brings forward).
  void replay(const std::string& tenant);
  EventStats stats() const { return stats_; }

 private:
  struct Tenant {
    bool in_flight = false;
    uint32_t failures = 0;
    uint64_t next_try_us = 0;
    uint64_t pending = 0;
    uint64_t dead = 0;
    std::string url;  // redacted
    std::string last_error;
    std::unique_ptr<Client> client;
  };
  using Found = std::vector<std::pair<std::string, spool::EventRecord>>;
  struct Census;

  static void onTimer(uv_timer_t* timer);
  // Starts the next outbox read unless one is under way: the census when it is due, else the heads.
  void readNext();
  // The oldest events of every tenant that may post now, then dispatch().
  void readHeads();
  void dispatch(Found found);
  // The whole outbox on the read lane: counts and the changes of a census, then censusDone().
  void takeCensus();
  void censusDone(const Census& census);
  // Control loop, when a read's results arrived: no read is under way any more; the keys
  // deleted meanwhile are released.
  void readFinished();
  // After a read's results are used: reads the heads again when keys were released (their
  // tenants may post their next events).
  void readAgainIfReleased();
  // Whether the tenant may post now; policy is its configuration.
  bool ready(const std::string& tenant_id, const config::Tenant& policy, uint64_t now) const;
  void post(const std::string& tenant_id, const config::Tenant& policy, Found batch);
  void finish(const std::string& tenant_id, const Found& batch, const Response& response);
  // Control loop, once the delete of events taken by a 2xx is applied.
  void deleted(const std::vector<std::string>& keys);

  io::Loop& control_;
  spool::Store& store_;
  io::Lane& read_lane_;
  DisabledEndpoints& endpoints_;
  ConfigFn config_;
  uv_timer_t timer_{};
  bool started_ = false;
  bool stopped_ = false;
  bool reading_ = false;  // one outbox read (heads or census) at a time
  bool census_due_ = true;
  bool read_again_ = false;
  uint64_t next_census_us_ = 0;
  std::map<std::string, Tenant> tenants_;
  std::set<std::string> in_flight_keys_;
  // Taken by a 2xx: excluded until their delete is applied and no read that may have seen
  // them before it is under way.
  std::set<std::string> acknowledged_keys_;
  std::vector<std::string> release_after_read_;  // deleted while a read was under way
  std::set<std::string> replay_;  // tenants whose dead events become pending at the next census ("" = all)
  EventStats stats_;
  uint64_t random_state_;
};

}  // namespace mxgate::webhook
