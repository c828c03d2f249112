// RFC 3339 and RFC 5322 timestamps (see include/mxgate/base/clock.h). Any thread.
#include "mxgate/base/clock.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace mxgate {

std::string formatRfc3339(uint64_t micros, int fraction_digits) {
  constexpr uint64_t kLast = 253402300799999999;  // 9999-12-31T23:59:59.999999Z: RFC 3339's last year
  micros = std::min(micros, kLast);
  const auto seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", parts.tm_year + 1900, parts.tm_mon + 1,
                                 parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  if (fraction_digits == 3) {
    text += fmt::format(".{:03}", (micros / 1000) % 1000);
  } else if (fraction_digits == 6) {
    text += fmt::format(".{:06}", micros % 1000000);
  }
  return text + "Z";
}

std::string formatRfc5322(uint64_t micros) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[parts.tm_wday], parts.tm_mday,
                     kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec);
}

}  // namespace mxgate
