// MTA-STS (RFC 8461) records and policies, parsed: the TXT record of _mta-sts.<domain> (§3.1),
// whose id names the current policy, and the policy file served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.2), with the MX host patterns it allows
// (§4.1). Pure functions, safe on any thread; MX delivery applies the policies (mx_target.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::delivery::mta_sts {

inline constexpr uint32_t kMaxAgeLimit = 31557600;  // §3.2: max_age at most one year (seconds)
inline constexpr size_t kMaxPolicyBytes = 65536;    // §3.3: larger policy bodies are refused

enum class Mode { Enforce, Testing, None };
std::string_view name(Mode mode);  // "enforce", "testing", "none"

struct Policy {
  Mode mode = Mode::None;
  std::vector<std::string> mx;  // lower-cased patterns: "mail.example.com" or "*.example.com"
  uint32_t max_age = 0;         // seconds

  // §4.1: host (any case, an optional trailing dot) is allowed by one of the mx patterns; a
  // "*." pattern stands for exactly one leftmost label.
  bool allowsMx(std::string_view host) const;
  bool operator==(const Policy&) const = default;
};

// Parses a policy body (§3.2: "key: value" lines ended by LF or CRLF; unknown keys ignored;
// of a repeated key other than mx the first counts). Requires version STSv1, a known mode,
// max_age 0..kMaxAgeLimit and, unless the mode is none, at least one valid mx pattern.
// nullopt with error set when the body is not a valid policy.
std::optional<Policy> parsePolicy(std::string_view text, std::string& error);

// The policy id of the _mta-sts TXT answer's records (§3.1): exactly one record starting
// "v=STSv1" whose id is 1-32 letters and digits. Records of other versions are ignored; none,
// several, or an invalid one give nullopt with error set.
std::optional<std::string> parseTxtRecords(const std::vector<std::string>& records, std::string& error);

}  // namespace mxgate::delivery::mta_sts
