// GCRA in its virtual scheduling form (see include/mxgate/shaping/gcra.h): a unit conforms when
// now >= TAT - tolerance, with the emission interval T = period / count and the tolerance
// (count - 1)·T, so `count` units fit at once; taking one sets TAT = max(TAT, now) + T.
// Any thread (the owner locks).
#include "mxgate/shaping/gcra.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace mxgate::shaping {
namespace {

uint64_t interval(uint64_t count, uint64_t period_us) { return std::max<uint64_t>(1, period_us / count); }

}  // namespace

uint64_t Gcra::nextConforming(uint64_t count, uint64_t period_us, uint64_t now_us) const {
  const uint64_t tolerance = (count - 1) * interval(count, period_us);
  return tat_us_ > tolerance ? std::max(now_us, tat_us_ - tolerance) : now_us;
}

void Gcra::take(uint64_t count, uint64_t period_us, uint64_t now_us) {
  tat_us_ = std::max(tat_us_, now_us) + interval(count, period_us);
}

std::string rateText(const config::Rate& rate) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [seconds, unit] : kUnits) {
    if (rate.period_s % seconds == 0) {
      const uint64_t amount = rate.period_s / seconds;
      return amount == 1 ? fmt::format("{}/{}", rate.count, unit) : fmt::format("{}/{}{}", rate.count, amount, unit);
    }
  }
  return fmt::format("{}/{}s", rate.count, rate.period_s);
}

}  // namespace mxgate::shaping
