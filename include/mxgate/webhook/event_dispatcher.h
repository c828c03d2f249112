// Posts the event outbox (spool family events) to each tenant's events.url: in time order per
// tenant, one request at a time per tenant, one JSON object per POST (or an array of up to
// events.batch_max), signed like inbound webhooks (Standard Webhooks, the event's "id" as
// webhook-id). A 2xx deletes the events; anything else backs the tenant off exponentially
// (5 s doubling to 10 min, ±20 % jitter, never sooner than a Retry-After); a 410 disables the tenant's event endpoint until
// replay(); events older than events.max_age are kept as dead (re-keyed behind every live one,
// so they never hold the live ones back). Events of tenants without an
// events.url (or no longer configured) are dropped.
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

namespace mxgate::webhook {

struct EventTenantStatus {
  std::string tenant;
  std::string url;
  bool disabled = false;    // after a 410, until replay
  uint64_t pending = 0;     // events waiting (as of the last outbox scan)
  uint64_t dead = 0;
  std::string last_error;
};

struct EventStats {
  uint64_t posted = 0;   // events taken by a 2xx
  uint64_t failed = 0;   // failed POSTs
  uint64_t dead = 0;     // events marked dead
  uint64_t dropped = 0;  // events of tenants without an events.url
};

class EventDispatcher {
 public:
  using ConfigFn = std::function<std::shared_ptr<const config::Config>()>;
  EventDispatcher(io::Loop& control, spool::Store& store, io::Lane& read_lane, ConfigFn config);
  ~EventDispatcher();
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  void start();
  void stop();

  std::vector<EventTenantStatus> status() const;
  // Re-enables the tenant's endpoint (all tenants when ""), clears its backoff and makes its
  // dead events pending again.
  void replay(const std::string& tenant);
  EventStats stats() const { return stats_; }

 private:
  struct Tenant {
    bool disabled = false;
    bool in_flight = false;
    uint32_t failures = 0;
    uint64_t next_try_us = 0;
    uint64_t pending = 0;
    uint64_t dead = 0;
    std::string url;
    std::string last_error;
    std::unique_ptr<Client> client;
  };
  using Found = std::vector<std::pair<std::string, spool::EventRecord>>;

  static void onTimer(uv_timer_t* timer);
  void scan();
  void dispatch(Found found);
  void post(const std::string& tenant_id, const config::Tenant& policy, Found batch);
  void finish(const std::string& tenant_id, const Found& batch, const Response& response);

  io::Loop& control_;
  spool::Store& store_;
  io::Lane& read_lane_;
  ConfigFn config_;
  uv_timer_t timer_{};
  bool started_ = false;
  bool stopped_ = false;
  bool scanning_ = false;
  std::map<std::string, Tenant> tenants_;
  std::set<std::string> in_flight_keys_;
  std::set<std::string> replay_;  // tenants whose dead events become pending at the next scan ("" = all)
  EventStats stats_;
  uint64_t random_state_;
};

}  // namespace mxgate::webhook
