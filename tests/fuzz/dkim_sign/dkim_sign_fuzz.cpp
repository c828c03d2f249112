// libFuzzer target for DKIM signing (auth::DkimSigner: the header-section scan, the From domain
// that picks the keys, libopendkim's signing of arbitrary bytes): the input is a message, fed
// in two pieces split at an input-derived point, signed with an RSA and an Ed25519 key for
// example.com generated once. Invariants (trap on failure): Signed means two fields, RSA
// first, each "DKIM-Signature: v=1; a=..." ending in CRLF, for d=example.com; NoKey and
// Failed give no field and a reason.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/auth/dkim_signer.h"

namespace {

using namespace mxgate;

config::DkimKey key(config::DkimAlgorithm algorithm, const char* selector) {
  std::string error;
  const auto pair = auth::generateDkimKey(algorithm, config::kMinRsaBits, error);
  if (!pair) {
    __builtin_trap();
  }
  config::DkimKey made;
  made.domain = "example.com";
  made.selector = selector;
  made.algorithm = algorithm;
  made.private_key = std::make_shared<const std::string>(pair->private_key_pem);
  return made;
}

const config::DkimPolicy& policy() {
  static const config::DkimPolicy keys{
      {key(config::DkimAlgorithm::Ed25519Sha256, "ed"), key(config::DkimAlgorithm::RsaSha256, "rsa")}};
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auth::DkimSigner signer(policy(), "FUZZ");
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  signer.feed(input.substr(0, split));
  signer.feed(input.substr(split));
  const auth::DkimSigning signing = signer.finish();
  const std::string& fields = signing.header_fields;
  if (signing.status != auth::DkimSigning::Status::Signed) {
    if (!fields.empty() || signing.error.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  const size_t second = fields.find("\r\nDKIM-Signature: ");
  if (signing.domain != "example.com" || !fields.starts_with("DKIM-Signature: v=1; a=rsa-sha256; ") ||
      second == std::string::npos || fields.compare(second + 2, 35, "DKIM-Signature: v=1; a=ed25519-sha2") != 0 ||
      !fields.ends_with("\r\n")) {
    __builtin_trap();
  }
  return 0;
}
