// libFuzzer target for the MTA-STS parsers (RFC 8461 §3.1, §3.2, §4.1): the input up to its first
// NUL is a policy body, the rest TXT records separated by LF and a final MX host name. A parsed
// policy has a mode of the three, a max_age within the limit and, unless its mode is none, mx
// patterns, each allowing the host it names; a failure has an error text. A TXT id is 1-32
// letters and digits. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/delivery/mta_sts.h"

using namespace mxgate::delivery::mta_sts;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::string_view rest = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  std::vector<std::string> records;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    records.emplace_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  const std::string host = records.empty() ? std::string() : records.back();

  std::string error;
  if (const auto policy = parsePolicy(input.substr(0, nul), error)) {
    if ((policy->mode != Mode::Enforce && policy->mode != Mode::Testing && policy->mode != Mode::None) ||
        policy->max_age > kMaxAgeLimit || (policy->mode != Mode::None && policy->mx.empty())) {
      __builtin_trap();
    }
    for (const std::string& pattern : policy->mx) {
      if (!pattern.starts_with("*.") && !policy->allowsMx(pattern)) {
        __builtin_trap();
      }
    }
    policy->allowsMx(host);
  } else if (error.empty()) {
    __builtin_trap();
  }
  error.clear();
  if (const auto id = parseTxtRecords(records, error)) {
    if (id->empty() || id->size() > 32) {
      __builtin_trap();
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}
