// Locale-independent ASCII classification and case-insensitive comparison for protocol text
// (SMTP verbs and keywords, DNS labels, config values). Never use <cctype> on wire data: it
// depends on the locale and is undefined for negative chars. Header-only; any thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::ascii {

constexpr bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool isAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isHexDigit(unsigned char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// The value of a hexadecimal digit of either case; -1 for any other byte.
constexpr int hexValue(unsigned char c) {
  return isDigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}
constexpr char toLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != toLower(b[i])) {
      return false;
    }
  }
  return true;
}

constexpr bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// A copy with ASCII letters lower-cased; other bytes (UTF-8 included) unchanged.
inline std::string toLowerCopy(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = toLower(c);
  }
  return out;
}

// True when every byte of text is ASCII (below 0x80).
constexpr bool isAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return false;
    }
  }
  return true;
}

// text without leading and trailing white space (space, tab, CR, LF).
constexpr std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) {
    return {};
  }
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

}  // namespace mxgate::ascii
