// SMTP command-line parsing (RFC 5321 §4.1, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531
// SMTPUTF8, RFC 3030 BDAT, RFC 4954 §5 AUTH= parameter). Pure functions over one line;
// safe on any thread. These functions only classify; the session maps each error to its
// reply through smtp/replies.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mxgate/mail/address.h"

namespace mxgate::smtp {

// ---- Line framing ---------------------------------------------------------------------

enum class LineStatus {
  Complete,     // a full line ending in CRLF (or a bare LF when accepted) is available
  NeedMore,     // no line end yet and the buffer is below the limit
  TooLong,      // no line end within max_length bytes
  BareNewline,  // a line ended with a bare LF and bare LF is not accepted
};

struct LineResult {
  LineStatus status = LineStatus::NeedMore;
  std::string_view line;  // Complete: the line without its line ending
  // Bytes of the buffer the caller must drop: the line and its ending (Complete), the whole
  // offending line up to and including its LF (BareNewline, TooLong when the LF was found),
  // or everything buffered (TooLong without an LF; the caller keeps discarding until an LF).
  size_t consumed = 0;
  bool line_end_found = false;  // TooLong: true when the LF ending the long line was found
};

// Extracts the next command line. max_length counts the line including its CRLF.
LineResult nextCommandLine(std::string_view buffer, size_t max_length, bool accept_bare_lf);

// ---- Commands -------------------------------------------------------------------------

enum class Verb {
  Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Help, Vrfy, Expn, StartTls, Auth, Xclient,
  Unknown,    // a well-formed word that is not a command we know
  Forbidden,  // an HTTP request line or CONNECT (someone speaking the wrong protocol)
  Invalid,    // control characters (NUL, CR, ...) or malformed UTF-8 in the line
};

struct Command {
  Verb verb = Verb::Unknown;
  std::string_view name;      // the verb as sent
  std::string_view argument;  // the rest after the separating space(s), may be empty
};

// Case-insensitive verb match. "MAIL FROM:" and "RCPT TO:" keep "FROM:..." / "TO:..." as the
// argument. A line is Invalid if it contains any byte < 0x20 other than HTAB, or 0x7F, or
// bytes >= 0x80 that are not well-formed UTF-8.
Command parseCommand(std::string_view line);

// ---- MAIL / RCPT ----------------------------------------------------------------------

enum class ParseError {
  None,
  Syntax,             // the command does not have the required shape ("FROM:<...>")
  PathSyntax,         // the path inside <> is not a valid RFC 5321 path
  LocalPartTooLong,   // RFC 5321 §4.5.3.1.1
  DomainTooLong,      // §4.5.3.1.2
  PathTooLong,        // §4.5.3.1.3
  Utf8NotAllowed,     // non-ASCII address without the SMTPUTF8 parameter (553 5.6.7)
  InvalidUtf8,
  UnknownParameter,   // an ESMTP parameter we do not support (555 5.5.4)
  BadParameterValue,  // e.g. SIZE=abc, BODY=9BIT, bad xtext in AUTH=
  DuplicateParameter,
};

enum class BodyType { Unspecified, SevenBit, EightBitMime };

struct MailFrom {
  mail::Address sender;               // null path for MAIL FROM:<>
  std::optional<uint64_t> size;       // SIZE=
  BodyType body = BodyType::Unspecified;
  bool smtputf8 = false;              // SMTPUTF8 parameter present
  std::optional<std::string> auth;    // AUTH= decoded from xtext ("<>" stays "<>")
};

struct RcptTo {
  mail::Address recipient;
  bool postmaster = false;  // RCPT TO:<Postmaster> without a domain (RFC 5321 §4.5.1)
};

// argument is Command::argument of MAIL ("FROM:<a@b> SIZE=10"). One optional space after the
// colon is tolerated. Source routes "<@x,@y:a@b>" are accepted and dropped (§4.1.1.3).
// smtputf8_offered says whether the listener advertises SMTPUTF8; if not, the parameter is
// an UnknownParameter.
ParseError parseMailFrom(std::string_view argument, bool smtputf8_offered, MailFrom& out);

// RCPT takes no parameters we support; any parameter is UnknownParameter. smtputf8 says
// whether the transaction's MAIL carried SMTPUTF8 (non-ASCII recipients need it).
ParseError parseRcptTo(std::string_view argument, bool smtputf8, RcptTo& out);

// ---- Other arguments ------------------------------------------------------------------

// EHLO/HELO argument: one token of printable ASCII or UTF-8, 1..255 octets, no spaces.
bool isValidHeloArgument(std::string_view argument);

// "BDAT <size> [LAST]" (RFC 3030 §2). size has at most 19 digits.
bool parseBdat(std::string_view argument, uint64_t& size, bool& last);

// Postfix's XCLIENT extension (www.postfix.org/XCLIENT_README.html): "attr=xtext ..." with the
// attributes ADDR (IPv4, or IPv6 as "IPV6:..."), HELO, NAME, PROTO, PORT, LOGIN, DESTADDR,
// DESTPORT; "[UNAVAILABLE]" and "[TEMPUNAVAIL]" leave a value unset. Only ADDR and HELO are
// used; the others are checked for syntax and ignored.
struct Xclient {
  std::optional<std::string> address;  // numeric, without the "IPV6:" prefix
  std::optional<std::string> helo;
};
// False on a syntax error, an unknown attribute, a bad address or a HELO that
// isValidHeloArgument() refuses.
bool parseXclient(std::string_view argument, Xclient& out);

}  // namespace mxgate::smtp
