// RFC 5321 envelope addresses (§4.1.2 Mailbox, §4.5.3.1 size limits) and RFC 6531 UTF-8
// addresses. Pure value types and pure functions; safe on any thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::mail {

struct Address {
  std::string local;   // as received: dot-string, or a quoted-string including its quotes
  std::string domain;  // lower-cased; an address literal keeps its brackets, e.g. "[192.0.2.1]"

  bool isNull() const { return local.empty() && domain.empty(); }  // the null reverse-path <>
  // "local@domain", or "" for the null path; this is the form written to the spool.
  std::string str() const;
  // True when local or domain contains a byte >= 0x80 (needs SMTPUTF8 to relay).
  bool isUtf8() const;
};

enum class AddressError {
  None,
  Syntax,            // not a valid RFC 5321 Mailbox / Path
  LocalPartTooLong,  // > 64 octets
  DomainTooLong,     // > 255 octets
  PathTooLong,       // > 256 octets including the angle brackets
  Utf8NotAllowed,    // non-ASCII without SMTPUTF8
  InvalidUtf8,       // non-ASCII that is not well-formed UTF-8
};

// Parses a Mailbox ("local@domain", no angle brackets). Source routes are not accepted here.
AddressError parseMailbox(std::string_view text, bool allow_utf8, Address& out);

// True when text is a Domain or address-literal as parseMailbox accepts it after the "@"
// (for the at-domains of a source route, which are checked and then dropped).
bool isValidDomain(std::string_view text, bool allow_utf8);

}  // namespace mxgate::mail
