// Value syntax of the configuration files (see values.h): durations, sizes, domain names
// (RFC 1034 §3.5, RFC 1123 §2.1, RFC 5890 §2.3.2.1 A-labels), IP literals, mailboxes
// (RFC 5322 §3.4.1 dot-atom local parts). Pure functions; run on whichever thread loads config.
#include "values.h"

#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"
#include "mxgate/config/config.h"
#include "mxgate/mail/address.h"

#include <arpa/inet.h>
#include <glib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace mxgate::config::values {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kSecond = 1000000;

// Longest suffixes first so that "ms" is not read as "m" + garbage.
constexpr std::array<Unit, 6> kDuration{{{"us", 1},
                                         {"ms", 1000},
                                         {"s", kSecond},
                                         {"m", 60 * kSecond},
                                         {"h", 3600 * kSecond},
                                         {"d", 86400 * kSecond}}};
constexpr std::array<Unit, 9> kSize{{{"KiB", kKiB},
                                     {"MiB", kKiB * kKiB},
                                     {"GiB", kKiB * kKiB * kKiB},
                                     {"TiB", kKiB * kKiB * kKiB * kKiB},
                                     {"KB", 1000},
                                     {"MB", 1000000},
                                     {"GB", 1000000000},
                                     {"TB", 1000000000000},
                                     {"B", 1}}};

template <size_t N>
UnitStatus parseWithUnit(std::string_view text, const std::array<Unit, N>& units, uint64_t& out) {
  size_t digits = 0;
  while (digits < text.size() && ascii::isDigit(text[digits])) {
    ++digits;
  }
  if (digits == 0) {
    return UnitStatus::BadSyntax;
  }
  const std::string_view suffix = text.substr(digits);
  const auto unit = std::find_if(units.begin(), units.end(),
                                 [&](const Unit& u) { return u.suffix == suffix; });
  if (unit == units.end()) {
    return UnitStatus::BadSyntax;
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i) {
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (kMax - digit) / 10) {
      return UnitStatus::TooLarge;
    }
    number = number * 10 + digit;
  }
  if (number != 0 && number > kMax / unit->factor) {
    return UnitStatus::TooLarge;
  }
  out = number * unit->factor;
  return UnitStatus::Ok;
}

template <size_t N>
std::string formatWithUnit(uint64_t value, const std::array<Unit, N>& units, std::string_view zero) {
  if (value == 0) {
    return std::string(zero);
  }
  const Unit* best = nullptr;
  for (const Unit& unit : units) {
    if (value % unit.factor == 0 && (best == nullptr || unit.factor > best->factor)) {
      best = &unit;
    }
  }
  return fmt::format("{}{}", value / best->factor, best->suffix);
}

bool isLdh(char c) {
  return ascii::isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

std::string describeByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte < 0x20 || byte >= 0x7f || c == '\'' || c == '\\') {
    return fmt::format("\\x{:02x}", byte);
  }
  return std::string(1, c);
}

}  // namespace

UnitStatus parseDuration(std::string_view text, uint64_t& micros) {
  return parseWithUnit(text, kDuration, micros);
}

UnitStatus parseSize(std::string_view text, uint64_t& bytes) { return parseWithUnit(text, kSize, bytes); }

bool parseRate(std::string_view text, uint64_t& count, uint64_t& period_s) {
  count = 0;
  period_s = 0;
  if (text.empty()) {
    return true;
  }
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return false;
  }
  uint64_t value = 0;
  bool digit_last = false;
  for (char c : text.substr(0, slash)) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + static_cast<uint64_t>(c - '0');
      if (value > 1000000000) {
        return false;
      }
      digit_last = true;
    } else if ((c == '_' || c == ',') && digit_last) {
      digit_last = false;
    } else {
      return false;
    }
  }
  std::string_view period = text.substr(slash + 1);
  uint64_t amount = 0;
  while (!period.empty() && period.front() >= '0' && period.front() <= '9' && amount < 100000) {
    amount = amount * 10 + static_cast<uint64_t>(period.front() - '0');
    period.remove_prefix(1);
  }
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  const auto unit = std::find_if(std::begin(kUnits), std::end(kUnits),
                                 [period](const auto& entry) { return entry.first == period; });
  if (!digit_last || value == 0 || unit == std::end(kUnits) || (amount == 0 && text.size() - slash - 1 > period.size())) {
    return false;
  }
  count = value;
  period_s = (amount == 0 ? 1 : amount) * unit->second;
  return true;
}

std::string checkRate(std::string_view text) {
  uint64_t count = 0;
  uint64_t period_s = 0;
  return parseRate(text, count, period_s) ? "" : "not a rate such as \"100/s\", \"1,000/h\" or \"5/10m\"";
}

std::string formatDuration(uint64_t micros) { return formatWithUnit(micros, kDuration, "0s"); }

std::string formatSize(uint64_t bytes) {
  static constexpr std::array<Unit, 5> kBinary{{{"B", 1},
                                                {"KiB", kKiB},
                                                {"MiB", kKiB * kKiB},
                                                {"GiB", kKiB * kKiB * kKiB},
                                                {"TiB", kKiB * kKiB * kKiB * kKiB}}};
  return formatWithUnit(bytes, kBinary, "0");
}

namespace {

// Dot-separated LDH labels of 1..63 octets (RFC 1035 §2.3.1), ASCII only, at most max_length
// octets; what names the text in messages ("domain name", "selector").
std::string checkLabels(std::string_view name, std::string_view what, size_t max_length, bool numeric_last) {
  if (name.empty()) {
    return fmt::format("empty {}", what);
  }
  if (!ascii::isAscii(name)) {
    return fmt::format("non-ASCII {}: write it in A-label (punycode) form, e.g. xn--bcher-kva.example", what);
  }
  if (name.size() > max_length) {
    return fmt::format("{} longer than {} characters", what, max_length);
  }
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty()) {
      return fmt::format("empty label in {}", what);
    }
    if (label.size() > 63) {
      return "label longer than 63 characters";
    }
    for (char c : label) {
      if (!isLdh(c)) {
        return fmt::format("invalid character '{}' (only letters, digits and '-')", describeByte(c));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "a label must not start or end with '-'";
    }
    if (dot == std::string_view::npos) {
      if (!numeric_last && std::all_of(label.begin(), label.end(), [](char c) { return ascii::isDigit(c); })) {
        return "the last label must not be all-numeric";
      }
      return "";
    }
    start = dot + 1;
  }
}

}  // namespace

std::string checkDomain(std::string_view name) { return checkLabels(name, "domain name", 253, false); }

std::string checkDkimSelector(std::string_view selector) {
  return checkLabels(selector, "selector", kMaxDkimSelector, true);
}

bool isIpLiteral(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string copy(text);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 || inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

std::string checkHost(std::string_view text) {
  if (isIpLiteral(text)) {
    return "";
  }
  return checkDomain(text);
}

std::string checkIdentifier(std::string_view text) {
  if (text.empty() || text.size() > 64) {
    return "must be 1 to 64 characters long";
  }
  for (char c : text) {
    if (!(ascii::isDigit(c) || (c >= 'a' && c <= 'z') || c == '_' || c == '-')) {
      return fmt::format("invalid character '{}' (only a-z, 0-9, '_' and '-')", describeByte(c));
    }
  }
  return "";
}

std::string checkMailbox(std::string_view text) {
  mail::Address address;
  switch (mail::parseMailbox(text, false, address)) {
    case mail::AddressError::None: break;
    case mail::AddressError::LocalPartTooLong: return "the local part is longer than 64 characters";
    case mail::AddressError::DomainTooLong: return "the domain is longer than 255 characters";
    case mail::AddressError::Utf8NotAllowed:
    case mail::AddressError::InvalidUtf8: return "non-ASCII address: use the A-label form of the domain";
    case mail::AddressError::PathTooLong:
    case mail::AddressError::Syntax: return "not an address (local@domain, RFC 5321)";
  }
  if (address.domain.front() == '[') {
    return "the domain must be a name, not an address literal";
  }
  const std::string reason = checkDomain(address.domain);
  return reason.empty() ? "" : "domain: " + reason;
}

size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  const size_t longer = std::max(a.size(), b.size());
  const size_t shorter = std::min(a.size(), b.size());
  if (longer - shorter > limit) {
    return limit + 1;
  }
  // Three rows of the dynamic-programming table: i-2, i-1 and i.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[b.size()], limit + 1);
}

std::string checkHttpUrl(std::string_view text) {
  std::string_view rest;
  if (ascii::startsWithIgnoreCase(text, "https://")) {
    rest = text.substr(8);
  } else if (ascii::startsWithIgnoreCase(text, "http://")) {
    rest = text.substr(7);
  } else {
    return "expected an http:// or https:// URL";
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return "white space or control characters in the URL";
    }
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return "expected a host (and no user information) after the scheme";
  }
  return "";
}

std::string checkWebhookSecret(std::string_view text) {
  return decodeWebhookSecret(text) ? "" : "expected \"whsec_\" followed by the base64 of 24 to 64 random bytes";
}

std::string checkRegex(std::string_view text) {
  GError* error = nullptr;
  GRegex* regex = g_regex_new(std::string(text).c_str(), G_REGEX_OPTIMIZE, static_cast<GRegexMatchFlags>(0), &error);
  if (regex != nullptr) {
    g_regex_unref(regex);
    return "";
  }
  // GLib says "Error while compiling regular expression ‘<pattern>’ at char N: <reason>"; the
  // pattern is already in the report.
  std::string reason = error != nullptr ? error->message : "invalid regular expression";
  g_clear_error(&error);
  const size_t at = reason.find(" at char ");
  return at == std::string::npos ? reason : "invalid regular expression" + reason.substr(at);
}

}  // namespace mxgate::config::values

namespace mxgate::config {

std::optional<std::string> decodeWebhookSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix)) {
    return std::nullopt;
  }
  std::optional<std::string> key = base64::decode(secret.substr(kPrefix.size()));
  if (!key || key->size() < 24 || key->size() > 64) {
    return std::nullopt;
  }
  return key;
}

}  // namespace mxgate::config
