// Envelope address parsing: the RFC 5321 §4.1.2 Mailbox grammar (Dot-string / Quoted-string
// local part, LDH domain or §4.1.3 address literal), the §4.5.3.1.1-2 size limits, the
// RFC 6531 §3.3 UTF-8 extensions (atext, qtextSMTP and sub-domain may hold UTF8-non-ascii)
// and RFC 3629 well-formedness. Pure functions; safe on any thread.
#include "mxgate/mail/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::mail {
namespace {

constexpr size_t kMaxLocalPart = 64;   // RFC 5321 §4.5.3.1.1
constexpr size_t kMaxDomain = 255;     // RFC 5321 §4.5.3.1.2
constexpr size_t kMaxLiteral = 64;     // longest IPv6 text form (45) plus slack, for inet_pton

// RFC 5322 §3.2.3 atext (which RFC 5321 §4.1.2 uses for Atom), ASCII part.
bool isAtext(unsigned char c) {
  return ascii::isAlpha(c) || ascii::isDigit(c) || (c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}


// Length (2..4) of the well-formed multi-byte sequence at text[pos], 0 when it is malformed
// (Unicode Table 3-7). text[pos] must be >= 0x80.

// Skips the run of bytes >= 0x80 at text[pos], which must be well-formed UTF-8 and allowed.
AddressError skipUtf8(std::string_view text, size_t& pos, bool allow_utf8) {
  size_t end = pos;
  while (end < text.size() && static_cast<unsigned char>(text[end]) >= 0x80) {
    ++end;
  }
  if (!utf8::isWellFormed(text.substr(pos, end - pos))) {
    return AddressError::InvalidUtf8;
  }
  if (!allow_utf8) {
    return AddressError::Utf8NotAllowed;
  }
  pos = end;
  return AddressError::None;
}

// Dot-string = Atom *("." Atom); stops at the first byte that cannot continue it.
AddressError scanDotString(std::string_view text, size_t& pos, bool allow_utf8) {
  for (;;) {
    const size_t atom_start = pos;
    while (pos < text.size()) {
      const auto c = static_cast<unsigned char>(text[pos]);
      if (isAtext(c)) {
        ++pos;
      } else if (c >= 0x80) {
        if (AddressError err = skipUtf8(text, pos, allow_utf8); err != AddressError::None) {
          return err;
        }
      } else {
        break;
      }
    }
    if (pos == atom_start) {
      return AddressError::Syntax;  // empty atom: leading, trailing or doubled dot
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      continue;
    }
    return AddressError::None;
  }
}

// Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE; pos is at the opening quote.
AddressError scanQuotedString(std::string_view text, size_t& pos, bool allow_utf8) {
  ++pos;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c == '"') {
      ++pos;
      return AddressError::None;
    }
    if (c == '\\') {
      if (pos + 1 >= text.size()) {
        return AddressError::Syntax;
      }
      const auto escaped = static_cast<unsigned char>(text[pos + 1]);
      if (escaped < 32 || escaped > 126) {
        return AddressError::Syntax;
      }
      pos += 2;
    } else if (c >= 0x80) {
      if (AddressError err = skipUtf8(text, pos, allow_utf8); err != AddressError::None) {
        return err;
      }
    } else if (c >= 32 && c <= 126) {
      ++pos;
    } else {
      return AddressError::Syntax;
    }
  }
  return AddressError::Syntax;  // no closing quote
}

// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]" (§4.1.3);
// General-address-literal is not accepted.
AddressError checkAddressLiteral(std::string_view text) {
  if (text.size() < 3 || text.back() != ']') {
    return AddressError::Syntax;
  }
  std::string_view inner = text.substr(1, text.size() - 2);
  int family = AF_INET;
  constexpr std::string_view kIpv6Tag = "ipv6:";
  if (inner.size() > kIpv6Tag.size() && ascii::startsWithIgnoreCase(inner, kIpv6Tag)) {
    family = AF_INET6;
    inner.remove_prefix(kIpv6Tag.size());
  }
  if (inner.size() >= kMaxLiteral) {
    return AddressError::Syntax;
  }
  for (char ch : inner) {
    const auto c = static_cast<unsigned char>(ch);
    const bool ok = family == AF_INET ? (ascii::isDigit(c) || c == '.') : (ascii::isHexDigit(c) || c == '.' || c == ':');
    if (!ok) {
      return AddressError::Syntax;
    }
  }
  char buffer[kMaxLiteral];
  std::memcpy(buffer, inner.data(), inner.size());
  buffer[inner.size()] = '\0';
  unsigned char binary[sizeof(in6_addr)];
  return inet_pton(family, buffer, binary) == 1 ? AddressError::None : AddressError::Syntax;
}

// Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str] or (RFC 6531) a
// U-label; or an address literal. Length is checked by the caller.
AddressError checkDomain(std::string_view text, bool allow_utf8) {
  if (text.empty()) {
    return AddressError::Syntax;
  }
  if (text.front() == '[') {
    return checkAddressLiteral(text);
  }
  size_t pos = 0;
  for (;;) {
    const size_t label_start = pos;
    while (pos < text.size() && text[pos] != '.') {
      const auto c = static_cast<unsigned char>(text[pos]);
      if (ascii::isAlpha(c) || ascii::isDigit(c) || c == '-') {
        ++pos;
      } else if (c >= 0x80) {
        if (AddressError err = skipUtf8(text, pos, allow_utf8); err != AddressError::None) {
          return err;
        }
      } else {
        return AddressError::Syntax;
      }
    }
    if (pos == label_start || text[label_start] == '-' || text[pos - 1] == '-') {
      return AddressError::Syntax;
    }
    if (pos == text.size()) {
      return AddressError::None;
    }
    ++pos;  // the dot; a trailing dot leaves an empty label and fails above
  }
}

}  // namespace

std::string Address::str() const {
  if (isNull()) {
    return {};
  }
  std::string text;
  text.reserve(local.size() + 1 + domain.size());
  text.append(local).append(1, '@').append(domain);
  return text;
}

bool Address::isUtf8() const { return !ascii::isAscii(local) || !ascii::isAscii(domain); }

AddressError parseMailbox(std::string_view text, bool allow_utf8, Address& out) {
  if (text.empty()) {
    return AddressError::Syntax;
  }
  size_t pos = 0;
  const AddressError local_err = text.front() == '"' ? scanQuotedString(text, pos, allow_utf8)
                                                     : scanDotString(text, pos, allow_utf8);
  if (local_err != AddressError::None) {
    return local_err;
  }
  if (pos >= text.size() || text[pos] != '@') {
    return AddressError::Syntax;
  }
  const std::string_view local = text.substr(0, pos);
  const std::string_view domain = text.substr(pos + 1);
  if (AddressError err = checkDomain(domain, allow_utf8); err != AddressError::None) {
    return err;
  }
  if (local.size() > kMaxLocalPart) {
    return AddressError::LocalPartTooLong;
  }
  if (domain.size() > kMaxDomain) {
    return AddressError::DomainTooLong;
  }
  out.local.assign(local);
  out.domain = ascii::toLowerCopy(domain);
  return AddressError::None;
}


bool isValidDomain(std::string_view text, bool allow_utf8) {
  return text.size() <= kMaxDomain && checkDomain(text, allow_utf8) == AddressError::None;
}


}  // namespace mxgate::mail
