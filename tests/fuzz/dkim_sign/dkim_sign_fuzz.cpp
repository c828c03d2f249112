// libFuzzer target for DKIM signing (auth::DkimSigner: the header-section scan, the From domain
// that picks the keys, our canonicalization of arbitrary bytes): the input is a message, fed
// in two pieces split at an input-derived point, signed with an RSA and an Ed25519 key for
// example.com generated once. Invariants (trap on failure): Signed means two fields, RSA
// first, each "DKIM-Signature: v=1; a=..." ending in CRLF, for d=example.com, and our verifier
// (libopendkim) gives both our signatures of the message as sent the same result when the message
// is canonical text (CR and LF only as CRLF, no NUL, VT or FF, which SMTP intake never
// stores): both are our canonicalization (dkim_signing_handle.cpp) checked by libopendkim's.
// On other bytes libopendkim leaves RFC 6376 (it takes any isspace() byte for WSP and stops at
// NUL; dkimpy and we follow the RFC). NoKey and Failed give no field and a reason.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/auth/dkim_signer.h"

namespace {

using namespace mxgate;

std::string records[2];  // the key records of "ed" and "rsa"

config::DkimKey key(config::DkimAlgorithm algorithm, const char* selector) {
  std::string error;
  const auto pair = auth::generateDkimKey(algorithm, config::kMinRsaBits, error);
  if (!pair) {
    __builtin_trap();
  }
  records[algorithm == config::DkimAlgorithm::RsaSha256] = auth::dkimKeyRecord(algorithm, pair->public_key);
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

dns::AnswerPtr lookup(const std::string& name) {
  auto answer = std::make_shared<dns::Answer>();
  answer->status = dns::Status::Ok;
  answer->texts.push_back(records[name.starts_with("rsa.")]);
  return answer;
}

bool canonicalText(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0' || c == '\v' || c == '\f' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) ||
        (c == '\n' && (i == 0 || text[i - 1] != '\r'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auth::DkimSigner signer(policy());
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
  if (!canonicalText(input)) {
    return 0;
  }
  auth::DkimVerifier verifier({}, lookup);
  verifier.feed(fields);
  verifier.feed(input);
  if (!input.ends_with("\r\n")) {
    verifier.feed("\r\n");
  }
  const auto results = verifier.finish();
  // Ours come first; the message may carry DKIM-Signature fields of its own after them.
  if (results.size() < 2 || results[0].result != results[1].result) {
    __builtin_trap();
  }
  return 0;
}
