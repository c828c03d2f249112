// libFuzzer target for traffic shaping files (mx.shaping_file, format conf/shaping.toml) and
// what delivery does with them: the input up to its first NUL is a file, the rest a reply of a
// mail exchanger. Errors name the file; read rules have lines, providers a name and something
// to match, back-off rules a duration and an action. The site of a provider's domain is the
// provider's; a back-off the reply starts never loosens the default limits, and a suspension
// holds the next message. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/shaping/destination_limits.h"

namespace {

constexpr uint64_t kNow = 1800000000ULL * 1000000;

// Whether limit `tight` is at least as strict as `loose` (0 = none).
bool noLooser(uint64_t tight, uint64_t loose) { return loose == 0 || (tight != 0 && tight <= loose); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mxgate;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  const std::string_view reply = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  auto rules = std::make_shared<config::ShapingRules>();
  const std::vector<config::ConfigError> errors = config::parseShaping("fuzz.toml", text, *rules);
  for (const config::ConfigError& error : errors) {
    if (error.file != "fuzz.toml" || error.message.empty() || error.line < 0) {
      __builtin_trap();
    }
  }
  if (!errors.empty()) {
    return 0;
  }
  for (const config::ShapingProvider& provider : rules->providers) {
    if (provider.name.empty() || provider.line <= 0 || (provider.domains.empty() && provider.mx_suffixes.empty())) {
      __builtin_trap();
    }
  }
  for (const config::BackoffRule& rule : rules->backoff) {
    if (rule.duration_us == 0 || rule.line <= 0 || (!rule.suspend && rule.limits == config::ShapingLimits{})) {
      __builtin_trap();
    }
  }
  shaping::DestinationLimits limits;
  limits.update(rules);
  for (const config::ShapingProvider& provider : rules->providers) {
    if (provider.domains.empty() || provider.domains.front().starts_with('.')) {
      continue;
    }
    const std::string& domain = provider.domains.front();
    const config::ShapingProvider* first = rules->providerFor(domain, {});
    if (first == nullptr || limits.siteFor(domain, {}, kNow)->key() != "provider:" + first->name) {
      __builtin_trap();
    }
  }
  const std::shared_ptr<shaping::Site> site = limits.siteFor("fuzz.example", {"mx.fuzz.example"}, kNow);
  const config::BackoffRule* rule = site->noteTemporaryReply(reply, kNow);
  if (rule != nullptr) {
    const config::ShapingLimits during = rules->defaults.strictest(rule->limits);
    if (!noLooser(during.connection_limit, rules->defaults.connection_limit) ||
        !noLooser(during.max_deliveries_per_connection, rules->defaults.max_deliveries_per_connection) ||
        (rule->suspend && !site->admitMessage(kNow).held)) {
      __builtin_trap();
    }
  }
  return 0;
}
