// SPF macros (RFC 7208 §7): the macro-string syntax check (§7.1), the letters of §7.2 (c, r
// and t in explanations only), transformers and delimiters (§7.3: split, reverse, keep the
// rightmost N parts, rejoin with dots), URL escaping for upper-case letters, %% %_ %-, and
// the §7.3 left-truncation of expanded domain names to 253 octets.
// Pure functions; any thread.
#include <algorithm>
#include <vector>

#include "internal.h"
#include "mxgate/base/ascii.h"
#include "mxgate/spf/spf.h"

namespace mxgate::spf {
namespace {

constexpr size_t kMaxDomainLength = 253;  // §7.3

struct Macro {
  char letter = 0;  // lower case
  bool escape = false;  // written in upper case: URL-escape the expansion
  size_t parts = 0;     // keep the rightmost N parts; 0 = all
  bool reverse = false;
  std::string_view delimiters;  // empty: "."
};

bool isDelimiter(char c) {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

bool isMacroLetter(char lower, bool explanation) {
  switch (lower) {
    case 's':
    case 'l':
    case 'o':
    case 'd':
    case 'i':
    case 'p':
    case 'v':
    case 'h':
      return true;
    case 'c':
    case 'r':
    case 't':
      return explanation;
    default:
      return false;
  }
}

// Parses the "%{...}" at text[pos] (text[pos] == '%', text[pos + 1] == '{'). Returns the
// length consumed, or 0 on a syntax error.
size_t parseBraced(std::string_view text, size_t pos, bool explanation, Macro& macro) {
  size_t i = pos + 2;
  if (i >= text.size()) {
    return 0;
  }
  macro.letter = ascii::toLower(text[i]);
  macro.escape = macro.letter != text[i];
  if (!isMacroLetter(macro.letter, explanation)) {
    return 0;
  }
  ++i;
  const size_t digits_start = i;
  size_t parts = 0;
  constexpr size_t kPartsCap = 1000;  // more parts than any expansion can have
  while (i < text.size() && ascii::isDigit(static_cast<unsigned char>(text[i]))) {
    parts = std::min(kPartsCap, parts * 10 + static_cast<size_t>(text[i] - '0'));
    ++i;
  }
  if (i > digits_start && parts == 0) {
    return 0;  // §7.3: a DIGIT transformer must be nonzero
  }
  macro.parts = parts;
  macro.reverse = i < text.size() && (text[i] == 'r' || text[i] == 'R');
  if (macro.reverse) {
    ++i;
  }
  const size_t delimiters_start = i;
  while (i < text.size() && isDelimiter(text[i])) {
    ++i;
  }
  macro.delimiters = text.substr(delimiters_start, i - delimiters_start);
  if (i >= text.size() || text[i] != '}') {
    return 0;
  }
  return i + 1 - pos;
}

enum class Token { Literal, Escape, Braced, Error };

// Classifies the token at text[pos]; `length` is its size.
Token nextToken(std::string_view text, size_t pos, bool explanation, Macro& macro, size_t& length) {
  const auto c = static_cast<unsigned char>(text[pos]);
  if (c != '%') {
    length = 1;
    const bool allowed = (c >= 0x21 && c <= 0x7e) || (explanation && c == ' ');
    return allowed ? Token::Literal : Token::Error;
  }
  if (pos + 1 >= text.size()) {
    return Token::Error;
  }
  const char next = text[pos + 1];
  if (next == '%' || next == '_' || next == '-') {
    length = 2;
    return Token::Escape;
  }
  if (next == '{') {
    length = parseBraced(text, pos, explanation, macro);
    return length == 0 ? Token::Error : Token::Braced;
  }
  return Token::Error;
}

bool isUnreserved(unsigned char c) {
  return ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void appendEscaped(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (isUnreserved(u)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
}

// The §7.3 dot format of an IPv6 address, its hex letters in the case the address was
// written in (RFC 7208 §7.4 writes "2001:db8::cb01" -> "1.0.b.c...", RFC 4408 §8.1 wrote
// "2001:DB8::CB01" -> "1.0.B.C..."). Not an address: the text as it is.
std::string ipv6Dots(const std::string& text) {
  const auto address = detail::parseIp6(text);
  if (!address) {
    return text;
  }
  const bool upper = std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string dots;
  dots.reserve(63);
  for (const uint8_t byte : address->bytes) {
    if (!dots.empty()) {
      dots += '.';
    }
    dots += hex[byte >> 4];
    dots += '.';
    dots += hex[byte & 0x0f];
  }
  return dots;
}

std::string readableIpv6(const std::string& text) {
  const auto address = detail::parseIp6(text);
  return address ? detail::readableAddress(*address) : text;
}

std::string letterValue(char letter, const MacroContext& context) {
  switch (letter) {
    case 's':
      return context.sender;
    case 'l':
      return context.local;
    case 'o':
      return context.sender_domain;
    case 'd':
      return context.domain;
    case 'i':
      return context.ipv6 ? ipv6Dots(context.client_ip) : context.client_ip;
    case 'p':
      return context.validated_name.empty() ? "unknown" : context.validated_name;
    case 'v':
      return context.ipv6 ? "ip6" : "in-addr";
    case 'h':
      return context.helo;
    case 'c':
      return context.ipv6 ? readableIpv6(context.client_ip) : context.client_ip;
    case 'r':
      return context.receiver.empty() ? "unknown" : context.receiver;
    default:  // 't': the only other letter scanning accepts
      return std::to_string(context.now);
  }
}

// §7.3 transformers: split on the delimiters, optionally reverse, keep the rightmost parts,
// rejoin with ".".
std::string transform(std::string value, const Macro& macro) {
  if (macro.parts == 0 && !macro.reverse && macro.delimiters.empty()) {
    return value;
  }
  const std::string_view delimiters = macro.delimiters.empty() ? std::string_view(".") : macro.delimiters;
  std::vector<std::string_view> parts;
  const std::string_view view(value);
  size_t start = 0;
  for (;;) {
    const size_t end = view.find_first_of(delimiters, start);
    parts.push_back(view.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  if (macro.reverse) {
    std::reverse(parts.begin(), parts.end());
  }
  const size_t first = macro.parts == 0 ? 0 : parts.size() - std::min(macro.parts, parts.size());
  std::string out;
  out.reserve(value.size());
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) {
      out += '.';
    }
    out += parts[i];
  }
  return out;
}

}  // namespace

namespace detail {

MacroScan scanMacros(std::string_view text, bool explanation) {
  MacroScan scan;
  Macro macro;
  size_t length = 0;
  for (size_t pos = 0; pos < text.size(); pos += length) {
    const Token token = nextToken(text, pos, explanation, macro, length);
    if (token == Token::Error) {
      return MacroScan{};
    }
    scan.ends_with_macro = token != Token::Literal;
    scan.uses_p = scan.uses_p || (token == Token::Braced && macro.letter == 'p');
  }
  scan.valid = true;
  return scan;
}

}  // namespace detail

std::optional<std::string> expandMacros(std::string_view text, const MacroContext& context, bool explanation) {
  std::string out;
  out.reserve(text.size());
  Macro macro;
  size_t length = 0;
  for (size_t pos = 0; pos < text.size(); pos += length) {
    switch (nextToken(text, pos, explanation, macro, length)) {
      case Token::Error:
        return std::nullopt;
      case Token::Literal:
        out += text[pos];
        break;
      case Token::Escape:
        out += text[pos + 1] == '%' ? "%" : text[pos + 1] == '_' ? " " : "%20";
        break;
      case Token::Braced: {
        std::string value = transform(letterValue(macro.letter, context), macro);
        if (macro.escape) {
          appendEscaped(out, value);
        } else {
          out += value;
        }
        break;
      }
    }
  }
  if (explanation) {
    return out;
  }
  if (!out.empty() && out.back() == '.') {
    out.pop_back();
  }
  size_t cut = 0;
  while (out.size() - cut > kMaxDomainLength) {
    const size_t dot = out.find('.', cut);
    if (dot == std::string::npos) {
      break;
    }
    cut = dot + 1;
  }
  out.erase(0, cut);
  return out;
}

}  // namespace mxgate::spf
