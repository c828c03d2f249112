// Tenants' suppression lists (spool family suppress, queue/README.md): the recipients a tenant's
// outbound mail is no longer sent to. Entries come from hard bounces (the scheduler writes them
// in the batch of the bounce itself, with suppressHardBounce()), from `mxgate suppression add|import`
// and the admin API (add), and go with `remove`. Addresses are compared lower-cased; one
// tenant's list never affects another's.
//
// Threads: suppressed() answers from the store's in-memory index, on any thread (the RCPT check
// on a loop thread); add() and remove() decide from that index and submit one synced batch with
// its audit record; list() reads on the given lane. Their answers are posted to the caller's loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::spool {

class SuppressionList {
 public:
  SuppressionList(Store& store, io::Lane& read_lane) : store_(store), lane_(read_lane) {}

  bool suppressed(std::string_view tenant, std::string_view address) const {
    return store_.suppressed(tenant, address);
  }

  struct Change {
    bool ok = false;
    std::string error;
    std::vector<std::string> changed;    // added, or removed (lower-cased)
    std::vector<std::string> unchanged;  // already listed (add), or not listed (remove)
  };
  // Lists the addresses (the caller checked their syntax) for the tenant with reason and detail;
  // addresses already listed keep their entry. One synced batch with an audit record by actor
  // ("suppression_add", or "suppression_import" for reason Import).
  void add(io::Loop& loop, std::string tenant, std::vector<std::string> addresses, SuppressionReason reason,
           std::string detail, std::string actor, std::function<void(Change)> done);
  // A recipient's one-click unsubscribe (RFC 8058) from the tenant's mail: lists the address
  // with reason Unsubscribe and the message's queue id, audited "suppression_unsubscribe" by
  // actor "unsubscribe", and with_it's records (the event) in the same synced batch — only when
  // the address is not listed yet (a repeat changes nothing: change.unchanged names it).
  void unsubscribe(io::Loop& loop, std::string tenant, std::string address, std::string queue_id,
                   std::function<void(uint64_t now_us, Batch&)> with_it, std::function<void(Change)> done);
  // Takes the addresses off the tenant's list (audited "suppression_remove").
  void remove(io::Loop& loop, std::string tenant, std::vector<std::string> addresses, std::string actor,
              std::function<void(Change)> done);

  struct Listing {
    bool ok = false;
    std::vector<SuppressionRecord> records;
    bool more = false;  // more entries follow the last one (ask again with after = its address)
  };
  // At most limit entries of the tenant's list in address order, after `after` ("" = from the start).
  void list(io::Loop& loop, std::string tenant, std::string after, size_t limit, std::function<void(Listing)> done);

 private:
  // Lower-cases the addresses and writes (with write) those to change: not yet listed when
  // adding, listed when removing, each once; the others are unchanged. Then the audit record,
  // and one synced commit.
  void change(io::Loop& loop, const std::string& tenant, std::vector<std::string> addresses, bool adding,
              const std::string& actor, const std::string& action, std::function<void(Change)> done,
              const std::function<void(const std::string&, uint64_t, Batch&)>& write);

  Store& store_;
  io::Lane& lane_;
};

// The entry a hard bounce of the tenant's outbound mail to address makes, into the caller's
// batch (the one recording the bounce); false when the address is already listed. Any thread.
bool suppressHardBounce(const Store& store, std::string_view tenant, std::string_view address, std::string_view reply,
                        std::string_view queue_id, uint64_t now_us, Batch& batch);

}  // namespace mxgate::spool
