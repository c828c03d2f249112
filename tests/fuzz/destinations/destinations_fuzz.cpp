// libFuzzer target for destinations files (mx.destinations_file, format conf/destinations.toml)
// and their lookup: the input up to its first NUL is a file, the rest a recipient domain. A
// file that reads without errors yields entries with a domain, a level (none to dane) and a
// positive line, each domain listed once; one with errors names the file in each. A domain found is the
// entry of that name or a ".suffix" of it. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  const std::string_view domain = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  mxgate::config::DestinationPolicies destinations;
  const std::vector<mxgate::config::ConfigError> errors =
      mxgate::config::parseDestinations("fuzz.toml", text, destinations);
  for (const mxgate::config::ConfigError& error : errors) {
    if (error.file != "fuzz.toml" || error.message.empty() || error.line < 0) {
      __builtin_trap();
    }
  }
  std::set<std::string> seen;
  for (const mxgate::config::DestinationPolicy& entry : destinations.entries) {
    if (entry.domain.empty() || entry.line <= 0 || !seen.insert(entry.domain).second ||
        entry.tls > mxgate::config::ClientTls::Dane) {
      __builtin_trap();
    }
  }
  if (const mxgate::config::DestinationPolicy* found = destinations.find(domain)) {
    std::string lower(domain);
    for (char& c : lower) {
      c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (found->domain != lower && !(found->domain.starts_with('.') && lower.ends_with(found->domain))) {
      __builtin_trap();
    }
  }
  return 0;
}
