// libFuzzer target for DKIM verification (RFC 6376 §3.2 tag lists, §3.5 signature fields,
// §6 verification through libopendkim): the input is a message, fed in two pieces split at an
// input-derived point. Keys: selector "brisbane" gets the RFC 8463 Ed25519 key, "test" the
// RFC 8463 RSA key, "slow" a timeout, anything else NXDOMAIN. Invariants (trap on failure):
// at most max_signatures results, a pass only for rsa-sha256/ed25519-sha256 without a reason,
// header.b at most 8 characters, and finish() idempotent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/auth/dkim.h"

namespace {

using namespace mxgate;

dns::AnswerPtr answer(dns::Status status, std::string text) {
  auto a = std::make_shared<dns::Answer>();
  a->status = status;
  if (status == dns::Status::Ok) {
    a->texts.push_back(std::move(text));
  }
  return a;
}

dns::AnswerPtr lookup(const std::string& name) {
  if (name.starts_with("brisbane.")) {
    return answer(dns::Status::Ok, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  }
  if (name.starts_with("test.")) {
    return answer(dns::Status::Ok,
                  "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
                  "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+"
                  "2kryOTIKT+l/K4w3QIDAQAB");
  }
  if (name.starts_with("slow.")) {
    return answer(dns::Status::Timeout, "");
  }
  return answer(dns::Status::NxDomain, "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auth::DkimSettings settings;
  auth::DkimVerifier verifier(settings, lookup);
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  verifier.feed(input.substr(0, split));
  verifier.feed(input.substr(split));
  if (verifier.headersComplete() && verifier.keyNames().size() > settings.max_signatures) {
    __builtin_trap();
  }
  const auto results = verifier.finish();
  if (results.size() > settings.max_signatures) {
    __builtin_trap();
  }
  for (const auto& signature : results) {
    if (signature.header_b.size() > 8 ||
        (signature.result == auth::DkimResult::Pass &&
         (!signature.reason.empty() || (signature.algorithm != "rsa-sha256" && signature.algorithm != "ed25519-sha256")))) {
      __builtin_trap();
    }
  }
  if (verifier.finish().size() != results.size()) {
    __builtin_trap();
  }
  return 0;
}
