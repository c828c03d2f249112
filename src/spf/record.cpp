// SPF record syntax (RFC 7208 §4.5 version, §4.6.1 terms, §5 mechanisms, §6 modifiers, §7.1
// domain-spec, §12 ABNF): case-insensitive names, qualifiers, dual CIDR lengths without
// leading zeros, ip4/ip6 networks, unknown modifiers (name "=" macro-string, ignored when
// evaluated), duplicate redirect=/exp= and any other syntax error as an error (permerror).
// Pure functions; any thread.
#include <algorithm>

#include "internal.h"
#include "mxgate/base/ascii.h"
#include "mxgate/spf/spf.h"

namespace mxgate::spf {
namespace {

constexpr std::string_view kVersion = "v=spf1";

bool isNameChar(unsigned char c) {
  return ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '_' || c == '.';
}

// §7.1 domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
bool isDomainSpec(std::string_view spec) {
  if (spec.empty()) {
    return false;
  }
  const detail::MacroScan scan = detail::scanMacros(spec, false);
  if (!scan.valid) {
    return false;
  }
  if (scan.ends_with_macro) {
    return true;
  }
  const std::string_view bare = detail::withoutTrailingDot(spec);
  const size_t dot = bare.rfind('.');
  return dot != std::string_view::npos && detail::isToplabel(bare.substr(dot + 1));
}

// ip4-cidr-length / ip6-cidr-length digits: "0" or no leading zero, at most `max`.
bool parseCidr(std::string_view digits, int max, int& value) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
    return false;
  }
  value = 0;
  for (const char c : digits) {
    if (!ascii::isDigit(static_cast<unsigned char>(c))) {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  return value <= max;
}

// Takes a trailing "/" 1*DIGIT (or "//" 1*DIGIT when `double_slash`) off `rest`. Returns
// false on a malformed length; leaves `rest` alone when there is none.
bool takeCidr(std::string_view& rest, bool double_slash, int max, int& value) {
  size_t start = rest.size();
  while (start > 0 && ascii::isDigit(static_cast<unsigned char>(rest[start - 1]))) {
    --start;
  }
  if (start == rest.size() || start == 0 || rest[start - 1] != '/') {
    return true;
  }
  const bool doubled = start >= 2 && rest[start - 2] == '/';
  if (doubled != double_slash) {
    return true;
  }
  if (!parseCidr(rest.substr(start), max, value)) {
    return false;
  }
  rest = rest.substr(0, start - (double_slash ? 2 : 1));
  return true;
}

// The [ ":" domain-spec ] part of a, mx and ptr; `rest` follows the mechanism name.
bool optionalDomainSpec(std::string_view rest, Term& term) {
  if (rest.empty()) {
    return true;
  }
  if (rest[0] != ':' || !isDomainSpec(rest.substr(1))) {
    return false;
  }
  term.domain_spec = std::string(rest.substr(1));
  return true;
}

bool requiredDomainSpec(std::string_view rest, Term& term) {
  return !rest.empty() && optionalDomainSpec(rest, term);
}

// ip4 / ip6: ":" network [ "/" cidr ].
bool network(std::string_view rest, bool v6, Term& term) {
  if (rest.empty() || rest[0] != ':') {
    return false;
  }
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  const std::string_view address = rest.substr(0, slash);
  if (v6 ? !detail::parseIp6(address) : !detail::parseIp4(address)) {
    return false;
  }
  term.network = std::string(address);
  if (slash == std::string_view::npos) {
    return true;
  }
  return parseCidr(rest.substr(slash + 1), v6 ? 128 : 32, v6 ? term.cidr6 : term.cidr4);
}

bool mechanism(std::string_view body, Term& term) {
  const size_t name_end = body.find_first_of(":/");
  const std::string_view name = body.substr(0, name_end);
  std::string_view rest = name_end == std::string_view::npos ? std::string_view() : body.substr(name_end);
  if (ascii::equalsIgnoreCase(name, "all")) {
    term.kind = Term::Kind::All;
    return rest.empty();
  }
  if (ascii::equalsIgnoreCase(name, "include")) {
    term.kind = Term::Kind::Include;
    return requiredDomainSpec(rest, term);
  }
  if (ascii::equalsIgnoreCase(name, "exists")) {
    term.kind = Term::Kind::Exists;
    return requiredDomainSpec(rest, term);
  }
  if (ascii::equalsIgnoreCase(name, "ptr")) {
    term.kind = Term::Kind::Ptr;
    return optionalDomainSpec(rest, term);
  }
  if (ascii::equalsIgnoreCase(name, "a") || ascii::equalsIgnoreCase(name, "mx")) {
    term.kind = name.size() == 1 ? Term::Kind::A : Term::Kind::Mx;
    return takeCidr(rest, true, 128, term.cidr6) && takeCidr(rest, false, 32, term.cidr4) &&
           optionalDomainSpec(rest, term);
  }
  if (ascii::equalsIgnoreCase(name, "ip4")) {
    term.kind = Term::Kind::Ip4;
    return network(rest, false, term);
  }
  if (ascii::equalsIgnoreCase(name, "ip6")) {
    term.kind = Term::Kind::Ip6;
    return network(rest, true, term);
  }
  return false;
}

// A modifier is name "=" ...; returns false when `text` is not one (then it is a mechanism).
bool isModifier(std::string_view text, size_t& equals) {
  if (text.empty() || !ascii::isAlpha(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  size_t i = 1;
  while (i < text.size() && isNameChar(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  equals = i;
  return i < text.size() && text[i] == '=';
}

bool modifier(std::string_view text, size_t equals, Term& term) {
  const std::string_view name = text.substr(0, equals);
  const std::string_view value = text.substr(equals + 1);
  if (ascii::equalsIgnoreCase(name, "redirect") || ascii::equalsIgnoreCase(name, "exp")) {
    term.kind = name.size() == 3 ? Term::Kind::Exp : Term::Kind::Redirect;
    term.domain_spec = std::string(value);
    return isDomainSpec(value);
  }
  term.kind = Term::Kind::Unknown;
  return detail::scanMacros(value, false).valid;
}

}  // namespace

std::string_view name(Result result) {
  switch (result) {
    case Result::None:
      return "none";
    case Result::Neutral:
      return "neutral";
    case Result::Pass:
      return "pass";
    case Result::Fail:
      return "fail";
    case Result::SoftFail:
      return "softfail";
    case Result::TempError:
      return "temperror";
    case Result::PermError:
      return "permerror";
  }
  return "permerror";
}

std::optional<Record> parseRecord(std::string_view text, std::string& error) {
  if (!ascii::startsWithIgnoreCase(text, kVersion) || (text.size() > kVersion.size() && text[kVersion.size()] != ' ')) {
    error = "the record does not start with v=spf1";
    return std::nullopt;
  }
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      error = "the record holds a control or non-ASCII character";
      return std::nullopt;
    }
  }
  Record record;
  bool redirect = false;
  bool exp = false;
  size_t pos = kVersion.size();
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    const size_t end = std::min(text.find(' ', pos), text.size());
    const std::string_view written = text.substr(pos, end - pos);
    pos = end;
    Term term;
    term.text = std::string(written);
    size_t equals = 0;
    bool ok = false;
    if (isModifier(written, equals)) {
      ok = modifier(written, equals, term);
    } else {
      std::string_view body = written;
      if (body[0] == '+' || body[0] == '-' || body[0] == '~' || body[0] == '?') {
        term.qualifier = body[0];
        body.remove_prefix(1);
      }
      ok = mechanism(body, term);
    }
    if (!ok) {
      error = "invalid term \"" + term.text + "\"";
      return std::nullopt;
    }
    if (term.kind == Term::Kind::Redirect || term.kind == Term::Kind::Exp) {
      bool& seen = term.kind == Term::Kind::Redirect ? redirect : exp;
      if (seen) {
        error = "more than one " + std::string(term.kind == Term::Kind::Redirect ? "redirect=" : "exp=");
        return std::nullopt;
      }
      seen = true;
    }
    record.terms.push_back(std::move(term));
  }
  return record;
}

}  // namespace mxgate::spf
