// The client address of a request that may have come through reverse proxies: X-Forwarded-For
// is honoured only when the TCP peer is a trusted proxy, and then read from the right, where
// each trusted proxy appended the address it saw; the first address that is not itself a
// trusted proxy is the client (nginx's real_ip_recursive). Everything left of it was written
// by the client and proves nothing. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mxgate/base/ip_network.h"

namespace mxgate::http {

// peer: the TCP peer's numeric address. forwarded_for: the values of every X-Forwarded-For
// field of the request, in order (one comma-separated list, RFC 9110 §5.3). An entry may be an
// IPv4 address with an optional ":port", or an IPv6 address, bare or as "[address]" with an
// optional ":port". The walk stops at an entry that is not an address ("unknown", a token):
// the nearest trusted hop's address is the answer then, never a client-written value.
std::string clientAddress(std::string_view peer, const std::vector<std::string_view>& forwarded_for,
                          const std::vector<IpNetwork>& trusted_proxies);

}  // namespace mxgate::http
