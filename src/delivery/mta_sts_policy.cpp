// Parsers of MTA-STS TXT records and policy files (RFC 8461 §3.1, §3.2) and MX pattern matching
// (§4.1); see include/mxgate/delivery/mta_sts.h. Pure functions, any thread.
#include <charconv>

#include "mxgate/base/ascii.h"
#include "mxgate/delivery/mta_sts.h"

namespace mxgate::delivery::mta_sts {
namespace {

bool isAlnum(std::string_view text) {
  for (char c : text) {
    if (!ascii::isAlpha(static_cast<unsigned char>(c)) && !ascii::isDigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// A DNS name of letters, digits and hyphens in dot-separated labels of 1..63 characters.
bool isHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
    } else if (ascii::isAlpha(static_cast<unsigned char>(c)) || ascii::isDigit(static_cast<unsigned char>(c)) ||
               c == '-') {
      if (++label > 63) {
        return false;
      }
    } else {
      return false;
    }
  }
  return label != 0;
}

bool isMxPattern(std::string_view pattern) {
  return isHostName(pattern.starts_with("*.") ? pattern.substr(2) : pattern);
}

}  // namespace

std::string_view name(Mode mode) {
  switch (mode) {
    case Mode::Enforce: return "enforce";
    case Mode::Testing: return "testing";
    case Mode::None: return "none";
  }
  return "?";
}

bool Policy::allowsMx(std::string_view host) const {
  std::string lower = ascii::toLowerCopy(host);
  if (lower.ends_with('.')) {
    lower.pop_back();
  }
  for (const std::string& pattern : mx) {
    if (pattern.starts_with("*.")) {
      const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
      if (lower.size() > suffix.size() && lower.ends_with(suffix) &&
          lower.find('.') == lower.size() - suffix.size()) {
        return true;
      }
    } else if (lower == pattern) {
      return true;
    }
  }
  return false;
}

std::optional<Policy> parsePolicy(std::string_view text, std::string& error) {
  Policy policy;
  bool have_version = false, have_mode = false, have_max_age = false;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    if (ascii::trim(line).empty()) {
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = "line without a colon: \"" + std::string(line.substr(0, 64)) + "\"";
      return std::nullopt;
    }
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = ascii::trim(line.substr(colon + 1));
    if (key == "version") {
      if (!have_version && value != "STSv1") {
        error = "version is not STSv1";
        return std::nullopt;
      }
      have_version = true;
    } else if (key == "mode") {
      if (have_mode) {
        continue;
      }
      if (value == "enforce") {
        policy.mode = Mode::Enforce;
      } else if (value == "testing") {
        policy.mode = Mode::Testing;
      } else if (value == "none") {
        policy.mode = Mode::None;
      } else {
        error = "unknown mode \"" + std::string(value.substr(0, 32)) + "\"";
        return std::nullopt;
      }
      have_mode = true;
    } else if (key == "max_age") {
      if (have_max_age) {
        continue;
      }
      uint64_t seconds = 0;
      const auto [last, status] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (value.empty() || value.size() > 10 || status != std::errc() || last != value.data() + value.size() ||
          seconds > kMaxAgeLimit) {
        error = "max_age is not a number of seconds up to " + std::to_string(kMaxAgeLimit);
        return std::nullopt;
      }
      policy.max_age = static_cast<uint32_t>(seconds);
      have_max_age = true;
    } else if (key == "mx") {
      std::string pattern = ascii::toLowerCopy(value);
      if (!isMxPattern(pattern)) {
        error = "invalid mx pattern \"" + pattern.substr(0, 64) + "\"";
        return std::nullopt;
      }
      policy.mx.push_back(std::move(pattern));
    }
  }
  if (!have_version) {
    error = "no version";
  } else if (!have_mode) {
    error = "no mode";
  } else if (!have_max_age) {
    error = "no max_age";
  } else if (policy.mode != Mode::None && policy.mx.empty()) {
    error = "no mx";
  } else {
    return policy;
  }
  return std::nullopt;
}

std::optional<std::string> parseTxtRecords(const std::vector<std::string>& records, std::string& error) {
  std::optional<std::string> id;
  size_t sts_records = 0;
  for (const std::string& record : records) {
    std::string_view rest = record;
    if (!rest.starts_with("v=STSv1") || (rest.size() > 7 && rest[7] != ';' && rest[7] != ' ' && rest[7] != '\t')) {
      continue;
    }
    if (++sts_records > 1) {
      error = "several v=STSv1 records";
      return std::nullopt;
    }
    rest.remove_prefix(7);
    while (!rest.empty()) {
      const size_t semicolon = rest.find(';');
      const std::string_view field = ascii::trim(rest.substr(0, semicolon));
      rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
      if (field.empty()) {
        continue;
      }
      const size_t equals = field.find('=');
      if (equals == std::string_view::npos || equals == 0) {
        error = "invalid field \"" + std::string(field.substr(0, 64)) + "\"";
        return std::nullopt;
      }
      if (field.substr(0, equals) == "id" && !id) {
        const std::string_view value = field.substr(equals + 1);
        if (value.empty() || value.size() > 32 || !isAlnum(value)) {
          error = "id is not 1-32 letters and digits";
          return std::nullopt;
        }
        id = std::string(value);
      }
    }
  }
  if (sts_records == 0) {
    error = "no v=STSv1 record";
  } else if (!id) {
    error = "no id";
  } else {
    return id;
  }
  return std::nullopt;
}

}  // namespace mxgate::delivery::mta_sts
