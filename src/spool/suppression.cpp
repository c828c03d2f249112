// Tenants' suppression lists (see include/mxgate/spool/suppression.h). add/remove run on the
// caller's loop up to the submit; list runs on the read lane; answers go back through the loop.
#include "mxgate/spool/suppression.h"

#include <algorithm>
#include <memory>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"

namespace mxgate::spool {
namespace {

// The first addresses of a change, for the audit record's detail.
std::string summary(const std::vector<std::string>& addresses) {
  constexpr size_t kNamed = 10;
  std::string text;
  for (size_t i = 0; i < addresses.size() && i < kNamed; ++i) {
    text += (i == 0 ? "" : " ") + addresses[i];
  }
  if (addresses.size() > kNamed) {
    text += " and " + std::to_string(addresses.size() - kNamed) + " more";
  }
  return text;
}

// Submits batch (synced; nothing when no address changed) and answers on loop.
void commit(Store& store, io::Loop& loop, Batch batch, SuppressionList::Change change,
            std::function<void(SuppressionList::Change)> done) {
  if (change.changed.empty()) {
    change.ok = true;
    loop.post([done = std::move(done), change = std::move(change)]() mutable { done(std::move(change)); });
    return;
  }
  store.submit(std::move(batch), true,
               [&loop, done = std::move(done), change = std::move(change)](const CommitStatus& status) mutable {
                 change.ok = status.ok;
                 change.error = status.error;
                 loop.post([done = std::move(done), change = std::move(change)]() mutable { done(std::move(change)); });
               });
}

}  // namespace

void SuppressionList::add(io::Loop& loop, std::string tenant, std::vector<std::string> addresses,
                          SuppressionReason reason, std::string detail, std::string actor,
                          std::function<void(Change)> done) {
  const std::string action = reason == SuppressionReason::Import ? "suppression_import" : "suppression_add";
  change(loop, tenant, std::move(addresses), true, actor, action, std::move(done),
         [&](const std::string& address, uint64_t now, Batch& batch) {
           batch.putSuppression(SuppressionRecord{tenant, address, reason, detail, now, ""});
         });
}

void SuppressionList::unsubscribe(io::Loop& loop, std::string tenant, std::string address, std::string queue_id,
                                  std::function<void(uint64_t, Batch&)> with_it, std::function<void(Change)> done) {
  change(loop, tenant, {std::move(address)}, true, "unsubscribe", "suppression_unsubscribe", std::move(done),
         [&](const std::string& listed, uint64_t now, Batch& batch) {
           batch.putSuppression(
               SuppressionRecord{tenant, listed, SuppressionReason::Unsubscribe, "one-click unsubscribe", now, queue_id});
           with_it(now, batch);
         });
}

void SuppressionList::remove(io::Loop& loop, std::string tenant, std::vector<std::string> addresses, std::string actor,
                             std::function<void(Change)> done) {
  change(loop, tenant, std::move(addresses), false, actor, "suppression_remove", std::move(done),
         [&](const std::string& address, uint64_t, Batch& batch) { batch.deleteSuppression(tenant, address); });
}

void SuppressionList::change(io::Loop& loop, const std::string& tenant, std::vector<std::string> addresses, bool adding,
                             const std::string& actor, const std::string& action, std::function<void(Change)> done,
                             const std::function<void(const std::string&, uint64_t, Batch&)>& write) {
  const uint64_t now = nowMicros();
  Change change;
  Batch batch;
  for (std::string& address : addresses) {
    address = ascii::toLowerCopy(address);
    const bool repeated = std::find(change.changed.begin(), change.changed.end(), address) != change.changed.end();
    if (repeated || store_.suppressed(tenant, address) == adding) {
      change.unchanged.push_back(std::move(address));
      continue;
    }
    write(address, now, batch);
    change.changed.push_back(std::move(address));
  }
  batch.putAudit(AuditRecord{now, actor, action, tenant, "",
                             std::to_string(change.changed.size()) + (adding ? " added: " : " removed: ") +
                                 summary(change.changed)});
  commit(store_, loop, std::move(batch), std::move(change), std::move(done));
}

void SuppressionList::list(io::Loop& loop, std::string tenant, std::string after, size_t limit,
                           std::function<void(Listing)> done) {
  auto shared_done = std::make_shared<std::function<void(Listing)>>(std::move(done));
  const bool queued = lane_.submit([this, &loop, tenant = std::move(tenant), after = ascii::toLowerCopy(after), limit,
                                    shared_done] {
    Listing listing;
    listing.ok = true;
    store_.scanSuppressions(tenant, after, [&listing, limit](SuppressionRecord& record) {
      if (listing.records.size() == limit) {
        listing.more = true;
        return false;
      }
      listing.records.push_back(std::move(record));
      return true;
    });
    loop.post([shared_done, listing = std::move(listing)]() mutable { (*shared_done)(std::move(listing)); });
  });
  if (!queued) {
    loop.post([shared_done] { (*shared_done)(Listing{}); });
  }
}

bool suppressHardBounce(const Store& store, std::string_view tenant, std::string_view address, std::string_view reply,
                        std::string_view queue_id, uint64_t now_us, Batch& batch) {
  if (store.suppressed(tenant, address)) {
    return false;
  }
  batch.putSuppression(SuppressionRecord{std::string(tenant), ascii::toLowerCopy(address),
                                         SuppressionReason::HardBounce, std::string(reply), now_us,
                                         std::string(queue_id)});
  return true;
}

}  // namespace mxgate::spool
