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

namespace {

// The decimal number in text[at, at + digits), or -1.
int digitsAt(std::string_view text, size_t at, size_t digits) {
  if (at + digits > text.size()) {
    return -1;
  }
  int value = 0;
  for (size_t i = at; i < at + digits; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool leapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

}  // namespace

std::optional<uint64_t> parseRfc3339(std::string_view text) {
  // full-date "T" partial-time time-offset: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const int year = digitsAt(text, 0, 4);
  const int month = digitsAt(text, 5, 2);
  const int day = digitsAt(text, 8, 2);
  const int hour = digitsAt(text, 11, 2);
  const int minute = digitsAt(text, 14, 2);
  const int second = digitsAt(text, 17, 2);
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60 || day > kDaysIn[month - 1] + (month == 2 && leapYear(year) ? 1 : 0)) {
    return std::nullopt;
  }
  size_t at = 19;
  if (text[at] == '.') {
    const size_t start = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      ++at;
    }
    if (at == start) {
      return std::nullopt;
    }
  }
  int64_t offset = 0;
  if (at + 1 == text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    offset = 0;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    const int offset_hours = digitsAt(text, at + 1, 2);
    const int offset_minutes = digitsAt(text, at + 4, 2);
    if (offset_hours < 0 || offset_hours > 23 || offset_minutes < 0 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset = (text[at] == '+' ? 1 : -1) * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return std::nullopt;
  }
  // Days since 1970-01-01 of the civil date (proleptic Gregorian).
  int64_t days = 0;
  for (int y = 1970; y < year; ++y) {
    days += leapYear(y) ? 366 : 365;
  }
  for (int m = 1; m < month; ++m) {
    days += kDaysIn[m - 1] + (m == 2 && leapYear(year) ? 1 : 0);
  }
  days += day - 1;
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset;
  if (seconds < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(seconds);
}

std::optional<uint64_t> parseTimeSeconds(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  std::optional<uint64_t> seconds;
  if (!text.empty() && text.size() <= 12 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    seconds = 0;
    for (char c : text) {
      *seconds = *seconds * 10 + static_cast<uint64_t>(c - '0');
    }
  } else {
    seconds = parseRfc3339(text);
  }
  if (!seconds || *seconds == 0 || *seconds > kMaxRfc3339Seconds) {
    return std::nullopt;
  }
  return seconds;
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
