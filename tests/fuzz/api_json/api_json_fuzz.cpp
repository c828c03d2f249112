// libFuzzer target for the HTTP send API's JSON intake (src/api/message_request.cpp): the first
// byte chooses the form (even: POST /v1/messages, odd: /v1/messages/raw), the rest is the body.
// Checks with __builtin_trap(): a refusal carries a 4xx status (never a 500), a code and, for
// field errors, a field name; a built message is within the size limit, has recipients within
// the limit, names no Bcc recipient in its header section, and a send_at lies between the epoch
// and kMaxSendAtSeconds in whole seconds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/api/message_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool raw = (data[0] & 1) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const mxgate::api::Limits limits{20, 65536, "fuzz.example"};
  const mxgate::api::Built built = raw ? mxgate::api::buildFromRaw(body, limits) : mxgate::api::buildFromJson(body, limits);
  if (!built.ok) {
    const auto& error = built.error;
    if (error.status < 400 || error.status > 499 || error.code.empty() || error.message.empty() ||
        (error.status == 422 && error.field.empty())) {
      __builtin_trap();
    }
    return 0;
  }
  const auto& submission = built.submission;
  if (submission.recipients.empty() || submission.recipients.size() > limits.max_recipients ||
      submission.message.size() > limits.max_message_size || submission.message.empty() ||
      submission.send_at_us > mxgate::api::kMaxSendAtSeconds * 1000000 || submission.send_at_us % 1000000 != 0) {
    __builtin_trap();
  }
  const size_t head_end = submission.message.find("\r\n\r\n");
  if (!raw && submission.message.substr(0, head_end).find("\r\nBcc:") != std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
