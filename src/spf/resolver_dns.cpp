// ResolverDns: the SPF evaluator's lookups through the shared resolver (mxgate/dns). Kept in
// its own library so the evaluator and its tests link without the resolver implementation.
// Callbacks run on the resolver's loop thread.
#include "mxgate/spf/spf.h"

namespace mxgate::spf {

void ResolverDns::lookup(const std::string& name, dns::RrType type, dns::Callback done) {
  resolver_.query(name, type, std::move(done));
}

}  // namespace mxgate::spf
