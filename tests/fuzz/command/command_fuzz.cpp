// libFuzzer target for the SMTP command parsers (RFC 5321 §4.1, §4.5.3.1; RFC 1870, 3030,
// 3461 §4, 4954 §5, 6531): nextCommandLine over the whole input under both bare-LF policies,
// then parseCommand and every argument parser on each line and on the raw input.
// Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxgate/mail/address.h"
#include "mxgate/base/utf8.h"
#include "mxgate/smtp/command.h"

namespace {

using namespace mxgate;

constexpr size_t kMaxLine = 512;

bool hasControl(std::string_view text, bool allow_tab = false) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7F) {
      return true;
    }
  }
  return false;
}

// A parsed address must be one parseMailbox accepts again, within the RFC 5321 limits.
void checkAddress(const mail::Address& address, bool allow_utf8) {
  if (address.isNull()) {
    return;
  }
  mail::Address again;
  if (mail::parseMailbox(address.str(), allow_utf8, again) != mail::AddressError::None ||
      again.local != address.local || again.domain != address.domain || hasControl(address.str()) ||
      address.local.size() > 64 || address.domain.size() > 255 || (!allow_utf8 && address.isUtf8())) {
    __builtin_trap();
  }
}

void parseArguments(std::string_view argument) {
  for (bool utf8 : {false, true}) {
    smtp::MailFrom mail;
    if (smtp::parseMailFrom(argument, utf8, mail) == smtp::ParseError::None) {
      checkAddress(mail.sender, mail.smtputf8);
      if ((mail.smtputf8 && !utf8) || (mail.auth && (mail.auth->empty() || hasControl(*mail.auth)))) {
        __builtin_trap();
      }
    }
    smtp::RcptTo rcpt;
    if (smtp::parseRcptTo(argument, utf8, rcpt) == smtp::ParseError::None) {
      if (rcpt.postmaster != rcpt.recipient.isNull()) {
        __builtin_trap();
      }
      checkAddress(rcpt.recipient, utf8);
    }
  }
  uint64_t size = 0;
  bool last = false;
  smtp::parseBdat(argument, size, last);
  if (smtp::isValidHeloArgument(argument) && (argument.empty() || argument.size() > 255 || hasControl(argument))) {
    __builtin_trap();
  }
}

void parseLine(std::string_view line) {
  const smtp::Command command = smtp::parseCommand(line);
  const auto inside = [&](std::string_view part) {
    return part.empty() || (part.data() >= line.data() && part.data() + part.size() <= line.data() + line.size());
  };
  if (!inside(command.name) || !inside(command.argument)) {
    __builtin_trap();
  }
  if (command.verb != smtp::Verb::Invalid && (hasControl(line, true) || !utf8::isWellFormed(line))) {
    __builtin_trap();
  }
  if (command.verb == smtp::Verb::Invalid && (!command.argument.empty() || !command.name.empty())) {
    __builtin_trap();
  }
  parseArguments(command.argument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool accept_bare_lf : {false, true}) {
    std::string_view rest = input;
    while (!rest.empty()) {
      const smtp::LineResult result = smtp::nextCommandLine(rest, kMaxLine, accept_bare_lf);
      if (result.status == smtp::LineStatus::NeedMore) {
        if (result.consumed != 0 || rest.size() >= kMaxLine) {
          __builtin_trap();
        }
        break;
      }
      if (result.consumed == 0 || result.consumed > rest.size()) {
        __builtin_trap();
      }
      if (result.status == smtp::LineStatus::Complete) {
        if (result.line.size() >= result.consumed || result.consumed > kMaxLine ||
            result.line.data() != rest.data() || rest[result.consumed - 1] != '\n') {
          __builtin_trap();
        }
        parseLine(result.line);
      }
      rest.remove_prefix(result.consumed);
    }
  }
  parseLine(input);
  parseArguments(input);
  return 0;
}
