// Value syntax used by the configuration files: durations ("300ms", "5m"), sizes ("25MiB"),
// domain names (RFC 1034 §3.5 / RFC 1123 §2.1 LDH labels, RFC 5890 A-labels), numeric IP
// literals, identifiers, and the edit distance used to suggest a key for a typo.
// Pure functions, no TOML; safe on any thread. Internal to src/config (and its tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mxgate::config::values {

enum class UnitStatus { Ok, BadSyntax, TooLarge };

// "<digits><unit>" with unit one of us, ms, s, m, h, d (case-sensitive, no spaces, no sign).
// TooLarge when the value does not fit in 64 bits of microseconds.
UnitStatus parseDuration(std::string_view text, uint64_t& micros);
// "<digits><unit>" with unit one of B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB
// (powers of 1000), case-sensitive. TooLarge when the byte count does not fit in 64 bits.
UnitStatus parseSize(std::string_view text, uint64_t& bytes);

// A rate "<count>/<period>" as KumoMTA writes throttles: count 1..10^9 (digits, '_' or ','
// allowed between them), period an optional number and a unit s, m, h or d ("100/s", "1,000/h",
// "10_000/d", "5/10m"). "" parses as no limit (count 0). False for anything else.
bool parseRate(std::string_view text, uint64_t& count, uint64_t& period_s);
std::string checkRate(std::string_view text);

// The largest unit that divides the value exactly: 3600000000 -> "1h", 300 -> "300us", 0 -> "0s".
std::string formatDuration(uint64_t micros);
// The largest binary unit that divides the value exactly: 65536 -> "64KiB", 512 -> "512B".
std::string formatSize(uint64_t bytes);

inline constexpr std::string_view kDurationUnits = "us, ms, s, m, h, d";
inline constexpr std::string_view kSizeUnits = "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB";

// Each check returns "" when the text is acceptable, otherwise the reason (one phrase).
// A host name: LDH labels of 1..63 octets, at most 253 octets, ASCII only (A-labels for IDNs),
// the last label not all-numeric. No trailing dot.
std::string checkDomain(std::string_view name);
// A DKIM selector (RFC 6376 §3.1): labels as in a domain name, all-numeric allowed, at most
// kMaxDkimSelector octets.
inline constexpr size_t kMaxDkimSelector = 63;
std::string checkDkimSelector(std::string_view selector);
// A numeric IPv4 or IPv6 literal without brackets, as accepted by inet_pton.
bool isIpLiteral(std::string_view text);
// An IP literal or a domain name (a next hop).
std::string checkHost(std::string_view text);
// 1..64 characters of [a-z0-9_-] (tenant ids, listener names).
std::string checkIdentifier(std::string_view text);
// "local@domain" as mail::parseMailbox accepts it (ASCII), with a domain name that
// checkDomain accepts (not an address literal).
std::string checkMailbox(std::string_view text);

// An absolute http:// or https:// URL with a host, no white space or control characters.
std::string checkHttpUrl(std::string_view text);
// A Standard Webhooks secret (config::decodeWebhookSecret accepts it).
std::string checkWebhookSecret(std::string_view text);
// A regular expression GLib's GRegex (PCRE) compiles.
std::string checkRegex(std::string_view text);

// Optimal-string-alignment distance (a transposition costs 1), or limit + 1 when the distance
// is larger than limit. Runs in O(len(a) * len(b)) but returns at once when the lengths
// differ by more than limit.
size_t editDistance(std::string_view a, std::string_view b, size_t limit);

}  // namespace mxgate::config::values
