// Internal to the DNS component: the response parser's full result. Besides the public Answer
// it says whether a negative answer carried an SOA record (RFC 2308 §5), which the resolver
// needs to choose between the SOA-derived negative TTL and its configured negative_ttl.
// Pure functions; any thread.
#pragma once

#include <string_view>

#include "mxgate/dns/resolver.h"

namespace mxgate::dns::detail {

struct ParsedResponse {
  Answer answer;
  bool has_soa = false;  // NxDomain/NoData only: the authority section held an SOA record
};

ParsedResponse parseResponseDetailed(std::string_view packet, std::string_view name, RrType type);

}  // namespace mxgate::dns::detail
