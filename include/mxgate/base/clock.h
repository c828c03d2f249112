// Wall-clock time as microseconds since the Unix epoch: the unit of every timestamp in the
// spool and the queue, and its RFC 3339 and RFC 5322 text. Any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxgate {

inline uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// RFC 3339 UTC, "2026-01-15T10:22:31.880Z", with 0 (no fraction), 3 or 6 fraction digits;
// times past the year 9999 (RFC 3339's last) give 9999-12-31T23:59:59.999999.
std::string formatRfc3339(uint64_t micros, int fraction_digits);

// An RFC 3339 §5.6 date-time ("2026-12-08T09:30:00Z", "2026-12-08T10:30:00.25+01:00"; 't'
// and 'z' as well) as seconds since the epoch, fractions dropped; nullopt for anything else,
// an impossible date (February 30) or a time before 1970.
std::optional<uint64_t> parseRfc3339(std::string_view text);

// The last second RFC 3339 can write, 9999-12-31T23:59:59Z.
inline constexpr uint64_t kMaxRfc3339Seconds = 253402300799;

// A point in time given by a sender (a scheduled send): Unix seconds ("1796722200") or an RFC
// 3339 date-time, surrounding spaces ignored; nullopt for anything else, 0 or a time after
// kMaxRfc3339Seconds.
std::optional<uint64_t> parseTimeSeconds(std::string_view text);

// RFC 5322 §3.3 date-time in UTC, e.g. "Sat, 21 Nov 2026 09:47:00 +0000".
std::string formatRfc5322(uint64_t micros);

}  // namespace mxgate
