// Wall-clock time as microseconds since the Unix epoch: the unit of every timestamp in the
// spool and the queue. Any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace mxgate {

inline uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace mxgate
