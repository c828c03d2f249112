// Test helper: lets Boost.Test print MxHost values in failure messages (per_element checks).
#pragma once

#include <ostream>

#include "mxgate/dns/resolver.h"

namespace mxgate::dns {

inline std::ostream& operator<<(std::ostream& out, const MxHost& host) {
  return out << host.preference << ' ' << host.host;
}

}  // namespace mxgate::dns
