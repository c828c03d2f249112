// Webhook endpoints disabled by a 410 answer — tenants' delivery URLs and event URLs — kept in
// the spool's endpoints family (queue/README.md), so a restart still knows them. A record is
// about one tenant and one URL (keyed by the URL's SHA-256): a tenant whose URL changes starts
// enabled with the new one, and load() drops the records of URLs no longer configured.
// `mxgate webhooks replay` re-enables (enable()).
//
// Thread-safe: disabled() is asked from any thread. Changes go through the spool's writer,
// unsynced (a crash may forget a fresh 410; the next POST learns it again).
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::webhook {

class DisabledEndpoints {
 public:
  explicit DisabledEndpoints(spool::Store& store);

  // Start-up (blocking reads): the persisted records; those whose tenant no longer has that
  // URL are deleted.
  void load(const config::Config& config);

  bool disabled(spool::EndpointKind kind, std::string_view tenant, std::string_view url) const;
  // Disables and persists; false when the endpoint already was disabled.
  bool disable(spool::EndpointKind kind, std::string_view tenant, std::string_view url, std::string_view reason);
  // Re-enables every URL of the tenant ("" = of every tenant) of that kind and persists it;
  // returns how many were disabled.
  size_t enable(spool::EndpointKind kind, std::string_view tenant);

 private:
  spool::Store& store_;
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> keys_;  // spool::endpointKey()s
};

// The key of a tenant's endpoint record: its kind, the tenant and the SHA-256 of the URL.
std::string disabledEndpointKey(spool::EndpointKind kind, std::string_view tenant, std::string_view url);

}  // namespace mxgate::webhook
