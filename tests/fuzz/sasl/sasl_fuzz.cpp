// libFuzzer target for the SMTP AUTH exchange (RFC 4954, PLAIN RFC 4616, LOGIN): the input is
// lines separated by LF; the first is the AUTH argument, the rest answer the challenges. Checks
// with __builtin_trap(): every step names a reply of the right kind, a challenge is strict
// base64, credentials handed over for verification are within the field limits and free of
// NUL, and a finished exchange takes no further response.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/smtp/sasl.h"

namespace {

using mxgate::smtp::ReplyId;
using mxgate::smtp::sasl::Exchange;
using mxgate::smtp::sasl::Step;

void check(const Step& step, const Exchange& exchange) {
  std::string decoded;
  switch (step.kind) {
    case Step::Kind::Challenge:
      if (step.reply != ReplyId::AuthChallenge || !exchange.awaitingResponse() ||
          !mxgate::smtp::sasl::decodeStrictBase64(step.challenge, decoded)) {
        __builtin_trap();
      }
      break;
    case Step::Kind::Verify:
      if (exchange.awaitingResponse() || step.credentials.username.empty() || step.credentials.secret.empty() ||
          step.credentials.username.size() > mxgate::smtp::sasl::kMaxFieldLength ||
          step.credentials.secret.size() > mxgate::smtp::sasl::kMaxFieldLength ||
          step.credentials.username.find('\0') != std::string::npos ||
          step.credentials.secret.find('\0') != std::string::npos) {
        __builtin_trap();
      }
      break;
    case Step::Kind::Fail:
      if (exchange.awaitingResponse() || step.reply == ReplyId::AuthChallenge ||
          mxgate::smtp::replySpec(step.reply).code < 400) {
        __builtin_trap();
      }
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t first_end = input.find('\n');
  Exchange exchange;
  Step step = exchange.start(input.substr(0, first_end));
  check(step, exchange);
  if (first_end == std::string_view::npos) {
    return 0;
  }
  input.remove_prefix(first_end + 1);
  while (!input.empty()) {
    const size_t end = input.find('\n');
    const bool was_waiting = exchange.awaitingResponse();
    step = exchange.respond(input.substr(0, end));
    check(step, exchange);
    if (!was_waiting && (step.kind != Step::Kind::Fail || step.reply != ReplyId::AuthSyntax)) {
      __builtin_trap();
    }
    if (end == std::string_view::npos) {
      break;
    }
    input.remove_prefix(end + 1);
  }
  return 0;
}
