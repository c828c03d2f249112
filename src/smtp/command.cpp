// SMTP command lines: framing (RFC 5321 §2.3.8, §4.5.3.1.4), verbs (§4.1), MAIL/RCPT paths
// and parameters (§4.1.2, RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 §3.4 SMTPUTF8, RFC 4954 §5
// AUTH= with RFC 3461 §4 xtext), HELO/EHLO arguments, RFC 3030 §2 BDAT and Postfix's XCLIENT.
// Pure functions; safe on any thread.
#include "mxgate/smtp/command.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::smtp {
namespace {

constexpr size_t kMaxPath = 256;        // RFC 5321 §4.5.3.1.3, including the angle brackets
constexpr size_t kMaxSizeDigits = 19;   // fits in uint64_t

std::string_view skipSpaces(std::string_view text) {
  const size_t start = text.find_first_not_of(' ');
  return start == std::string_view::npos ? std::string_view{} : text.substr(start);
}

// 1..max_digits decimal digits, nothing else.
bool parseDecimal(std::string_view text, size_t max_digits, uint64_t& value) {
  if (text.empty() || text.size() > max_digits) {
    return false;
  }
  uint64_t result = 0;
  for (char c : text) {
    if (!ascii::isDigit(static_cast<unsigned char>(c))) {
      return false;
    }
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  value = result;
  return true;
}

constexpr std::array<std::pair<std::string_view, Verb>, 15> kVerbs{{
    {"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data}, {"BDAT", Verb::Bdat}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit}, {"HELP", Verb::Help}, {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn},
    {"STARTTLS", Verb::StartTls}, {"AUTH", Verb::Auth}, {"XCLIENT", Verb::Xclient},
}};

// Request lines of other protocols (Postfix smtpd_forbidden_commands).
constexpr std::array<std::string_view, 5> kForbiddenVerbs{"GET", "POST", "HEAD", "PUT", "CONNECT"};

// The parts of "FROM:<path> params" / "TO:<path> params".
struct PathParts {
  std::string_view path;        // including the angle brackets
  std::string_view parameters;  // after the separating spaces, may be empty
};

ParseError splitPath(std::string_view argument, std::string_view prefix, PathParts& parts) {
  if (!ascii::startsWithIgnoreCase(argument, prefix)) {
    return ParseError::Syntax;
  }
  std::string_view rest = argument.substr(prefix.size());
  if (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);  // "FROM: <a@b>", tolerated
  }
  if (rest.empty() || rest.front() != '<') {
    return ParseError::Syntax;
  }
  // The closing '>' is the first one outside a quoted string ('>' is qtextSMTP).
  bool quoted = false;
  size_t pos = 1;
  for (; pos < rest.size(); ++pos) {
    const char c = rest[pos];
    if (quoted) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      break;
    }
  }
  if (pos >= rest.size()) {
    return ParseError::Syntax;
  }
  parts.path = rest.substr(0, pos + 1);
  const std::string_view after = rest.substr(pos + 1);
  if (!after.empty() && after.front() != ' ') {
    return ParseError::Syntax;
  }
  parts.parameters = skipSpaces(after);
  return ParseError::None;
}

ParseError fromAddressError(mail::AddressError err) {
  switch (err) {
    case mail::AddressError::None: return ParseError::None;
    case mail::AddressError::Syntax: return ParseError::PathSyntax;
    case mail::AddressError::LocalPartTooLong: return ParseError::LocalPartTooLong;
    case mail::AddressError::DomainTooLong: return ParseError::DomainTooLong;
    case mail::AddressError::PathTooLong: return ParseError::PathTooLong;
    case mail::AddressError::Utf8NotAllowed: return ParseError::Utf8NotAllowed;
    case mail::AddressError::InvalidUtf8: return ParseError::InvalidUtf8;
  }
  return ParseError::PathSyntax;
}

// Checks and drops a source route "@a,@b:" (A-d-l ":", §4.1.2) in front of the mailbox.
ParseError skipSourceRoute(std::string_view& content, bool allow_utf8) {
  size_t pos = 0;
  for (;;) {
    if (pos >= content.size() || content[pos] != '@') {
      return ParseError::PathSyntax;
    }
    const size_t start = pos + 1;
    size_t end = start;
    if (end < content.size() && content[end] == '[') {
      end = content.find(']', end);
      end = end == std::string_view::npos ? content.size() : end + 1;
    } else {
      end = content.find_first_of(",:", end);
      end = end == std::string_view::npos ? content.size() : end;
    }
    if (end >= content.size() || !mail::isValidDomain(content.substr(start, end - start), allow_utf8)) {
      return ParseError::PathSyntax;
    }
    pos = end + 1;
    if (content[end] == ':') {
      content.remove_prefix(pos);
      return ParseError::None;
    }
    if (content[end] != ',') {
      return ParseError::PathSyntax;
    }
  }
}

// path is "<...>" as split off by splitPath.
ParseError parsePath(std::string_view path, bool allow_utf8, bool allow_null, mail::Address& out) {
  if (path.size() > kMaxPath) {
    return ParseError::PathTooLong;
  }
  std::string_view content = path.substr(1, path.size() - 2);
  if (content.empty()) {
    if (!allow_null) {
      return ParseError::PathSyntax;
    }
    out = mail::Address{};
    return ParseError::None;
  }
  if (content.front() == '@') {
    if (ParseError err = skipSourceRoute(content, allow_utf8); err != ParseError::None) {
      return err;
    }
  }
  return fromAddressError(mail::parseMailbox(content, allow_utf8, out));
}

// RFC 3461 §4: xtext = *(xchar / "+" 2HEXUPPER); xchar is '!'..'~' except '+' and '='.
bool decodeXtext(std::string_view text, std::string& out) {
  const auto hex = [](char c) { return c >= 'a' && c <= 'f' ? -1 : ascii::hexValue(static_cast<unsigned char>(c)); };
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) {
        return false;
      }
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else if (c >= '!' && c <= '~' && c != '=') {
      out.push_back(c);
    } else {
      return false;
    }
  }
  return true;
}

// AUTH=: a mailbox or "<>" in xtext (RFC 4954 §5). The decoded value must not carry control
// characters (CVE-2020-28021 put a newline from it into a spool file) or broken UTF-8.
bool parseAuthValue(std::string_view value, std::string& decoded) {
  if (value.empty() || !decodeXtext(value, decoded)) {
    return false;
  }
  for (char ch : decoded) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      return false;
    }
  }
  return utf8::isWellFormed(decoded);
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool isEsmtpKeyword(std::string_view keyword) {
  if (keyword.empty() || keyword.front() == '-') {
    return false;
  }
  for (char ch : keyword) {
    const auto c = static_cast<unsigned char>(ch);
    if (!ascii::isAlpha(c) && !ascii::isDigit(c) && c != '-') {
      return false;
    }
  }
  return true;
}

ParseError parseMailParameter(std::string_view keyword, std::optional<std::string_view> value,
                              bool smtputf8_offered, MailFrom& mail) {
  if (ascii::equalsIgnoreCase(keyword, "SIZE")) {
    if (mail.size) {
      return ParseError::DuplicateParameter;
    }
    uint64_t size = 0;
    if (!value || !parseDecimal(*value, kMaxSizeDigits, size)) {
      return ParseError::BadParameterValue;
    }
    mail.size = size;
  } else if (ascii::equalsIgnoreCase(keyword, "BODY")) {
    if (mail.body != BodyType::Unspecified) {
      return ParseError::DuplicateParameter;
    }
    if (value && ascii::equalsIgnoreCase(*value, "7BIT")) {
      mail.body = BodyType::SevenBit;
    } else if (value && ascii::equalsIgnoreCase(*value, "8BITMIME")) {
      mail.body = BodyType::EightBitMime;
    } else {
      return ParseError::BadParameterValue;
    }
  } else if (ascii::equalsIgnoreCase(keyword, "SMTPUTF8") && smtputf8_offered) {
    if (mail.smtputf8) {
      return ParseError::DuplicateParameter;
    }
    if (value) {
      return ParseError::BadParameterValue;
    }
    mail.smtputf8 = true;
  } else if (ascii::equalsIgnoreCase(keyword, "AUTH")) {
    if (mail.auth) {
      return ParseError::DuplicateParameter;
    }
    std::string decoded;
    if (!value || !parseAuthValue(*value, decoded)) {
      return ParseError::BadParameterValue;
    }
    mail.auth = std::move(decoded);
  } else {
    return ParseError::UnknownParameter;
  }
  return ParseError::None;
}

// Mail-parameters = esmtp-param *(SP esmtp-param), esmtp-param = esmtp-keyword ["=" value].
ParseError parseMailParameters(std::string_view parameters, bool smtputf8_offered, MailFrom& mail) {
  while (!parameters.empty()) {
    const size_t space = parameters.find(' ');
    const std::string_view token = parameters.substr(0, space);
    parameters = space == std::string_view::npos ? std::string_view{} : skipSpaces(parameters.substr(space));
    const size_t equals = token.find('=');
    const std::string_view keyword = token.substr(0, equals);
    std::optional<std::string_view> value;
    if (equals != std::string_view::npos) {
      value = token.substr(equals + 1);
    }
    if (!isEsmtpKeyword(keyword)) {
      return ParseError::Syntax;
    }
    if (ParseError err = parseMailParameter(keyword, value, smtputf8_offered, mail);
        err != ParseError::None) {
      return err;
    }
  }
  return ParseError::None;
}

}  // namespace

LineResult nextCommandLine(std::string_view buffer, size_t max_length, bool accept_bare_lf) {
  LineResult result;
  const void* found = std::memchr(buffer.data(), '\n', buffer.size());
  if (found == nullptr) {
    if (buffer.size() >= max_length) {
      result.status = LineStatus::TooLong;
      result.consumed = buffer.size();
    }
    return result;
  }
  const auto lf = static_cast<size_t>(static_cast<const char*>(found) - buffer.data());
  result.consumed = lf + 1;
  if (lf >= max_length) {
    result.status = LineStatus::TooLong;
    result.line_end_found = true;
    return result;
  }
  const bool crlf = lf > 0 && buffer[lf - 1] == '\r';
  if (!crlf && !accept_bare_lf) {
    result.status = LineStatus::BareNewline;
    return result;
  }
  result.status = LineStatus::Complete;
  result.line = buffer.substr(0, crlf ? lf - 1 : lf);
  return result;
}

Command parseCommand(std::string_view line) {
  Command command;
  bool non_ascii = false;
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      command.verb = Verb::Invalid;
      return command;
    }
    non_ascii = non_ascii || c >= 0x80;
  }
  if (non_ascii && !utf8::isWellFormed(line)) {
    command.verb = Verb::Invalid;
    return command;
  }
  if (line.empty()) {
    return command;
  }
  const size_t space = line.find(' ');
  command.name = line.substr(0, space);
  if (space != std::string_view::npos) {
    const std::string_view argument = skipSpaces(line.substr(space));
    command.argument = argument.substr(0, argument.find_last_not_of(" \t") + 1);
  }
  if (!ascii::isAlpha(static_cast<unsigned char>(line.front()))) {
    command.verb = Verb::Forbidden;
    return command;
  }
  if (space != std::string_view::npos) {
    for (std::string_view forbidden : kForbiddenVerbs) {
      if (ascii::equalsIgnoreCase(command.name, forbidden)) {
        command.verb = Verb::Forbidden;
        return command;
      }
    }
  }
  for (const auto& [name, verb] : kVerbs) {
    if (ascii::equalsIgnoreCase(command.name, name)) {
      command.verb = verb;
      break;
    }
  }
  return command;
}

ParseError parseMailFrom(std::string_view argument, bool smtputf8_offered, MailFrom& out) {
  PathParts parts;
  if (ParseError err = splitPath(argument, "FROM:", parts); err != ParseError::None) {
    return err;
  }
  MailFrom mail;
  if (ParseError err = parseMailParameters(parts.parameters, smtputf8_offered, mail);
      err != ParseError::None) {
    return err;
  }
  if (ParseError err = parsePath(parts.path, mail.smtputf8, true, mail.sender); err != ParseError::None) {
    return err;
  }
  out = std::move(mail);
  return ParseError::None;
}

ParseError parseRcptTo(std::string_view argument, bool smtputf8, RcptTo& out) {
  PathParts parts;
  if (ParseError err = splitPath(argument, "TO:", parts); err != ParseError::None) {
    return err;
  }
  if (!parts.parameters.empty()) {
    return ParseError::UnknownParameter;
  }
  RcptTo rcpt;
  if (ascii::equalsIgnoreCase(parts.path, "<postmaster>")) {
    rcpt.postmaster = true;
  } else if (ParseError err = parsePath(parts.path, smtputf8, false, rcpt.recipient);
             err != ParseError::None) {
    return err;
  }
  out = std::move(rcpt);
  return ParseError::None;
}

bool isValidHeloArgument(std::string_view argument) {
  if (argument.empty() || argument.size() > 255) {
    return false;
  }
  bool non_ascii = false;
  for (char ch : argument) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      return false;
    }
    non_ascii = non_ascii || c >= 0x80;
  }
  return !non_ascii || utf8::isWellFormed(argument);
}

bool parseBdat(std::string_view argument, uint64_t& size, bool& last) {
  const size_t space = argument.find(' ');
  uint64_t chunk = 0;
  if (!parseDecimal(argument.substr(0, space), kMaxSizeDigits, chunk)) {
    return false;
  }
  bool is_last = false;
  if (space != std::string_view::npos) {
    if (!ascii::equalsIgnoreCase(skipSpaces(argument.substr(space)), "LAST")) {
      return false;
    }
    is_last = true;
  }
  size = chunk;
  last = is_last;
  return true;
}

bool parseXclient(std::string_view argument, Xclient& out) {
  static constexpr std::array<std::string_view, 8> kAttributes{"ADDR",  "HELO",     "NAME",     "PROTO",
                                                               "PORT", "LOGIN", "DESTADDR", "DESTPORT"};
  out = Xclient();
  std::string_view rest = skipSpaces(argument);
  if (rest.empty()) {
    return false;
  }
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    const std::string_view pair = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : skipSpaces(rest.substr(space));
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      return false;
    }
    const std::string_view name = pair.substr(0, equals);
    std::string value;
    if (std::none_of(kAttributes.begin(), kAttributes.end(),
                     [&](std::string_view known) { return ascii::equalsIgnoreCase(known, name); }) ||
        !decodeXtext(pair.substr(equals + 1), value)) {
      return false;
    }
    if (value == "[UNAVAILABLE]" || value == "[TEMPUNAVAIL]") {
      continue;
    }
    if (ascii::equalsIgnoreCase(name, "ADDR")) {
      std::string_view address = value;
      if (ascii::startsWithIgnoreCase(address, "IPV6:")) {
        address.remove_prefix(5);
      }
      const std::string copy(address);
      unsigned char bytes[16];
      if (copy.find(':') == std::string::npos ? inet_pton(AF_INET, copy.c_str(), bytes) != 1
                                              : inet_pton(AF_INET6, copy.c_str(), bytes) != 1) {
        return false;
      }
      out.address = copy;
    } else if (ascii::equalsIgnoreCase(name, "HELO")) {
      if (!isValidHeloArgument(value)) {
        return false;
      }
      out.helo = value;
    }
  }
  return true;
}

}  // namespace mxgate::smtp
