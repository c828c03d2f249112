// DKIM verification (RFC 6376, RFC 8463 Ed25519, RFC 8301 algorithm and key-size rules) with
// libopendkim. The verifier is fed the message as it streams in (on the session's loop thread:
// hashing only); once the header section has passed, keyNames() tells which keys to prefetch
// through the async resolver; finish() completes verification and may block on key lookups,
// so it runs on a lane. One verifier per message, used by one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/dns/resolver.h"

namespace mxgate::auth {

// RFC 8601 §2.7.1 result values for one signature.
enum class DkimResult { Pass, Fail, Neutral, Policy, TempError, PermError };
std::string_view name(DkimResult result);

struct DkimSignature {
  DkimResult result = DkimResult::PermError;
  std::string domain;     // d=
  std::string selector;   // s=
  std::string algorithm;  // "rsa-sha256", "ed25519-sha256", ...
  std::string header_b;   // the first 8 characters of b= (RFC 8601 header.b)
  unsigned key_bits = 0;  // RSA key size; 0 for Ed25519 or when unknown
  std::string reason;     // why, when not pass ("body hash mismatch", "key too small", ...)
};

// Looks up the TXT record of "<selector>._domainkey.<domain>" (blocking: lane thread only).
using KeyLookup = std::function<dns::AnswerPtr(const std::string& name)>;

struct DkimSettings {
  unsigned min_rsa_bits = 1024;  // RFC 8301 §3.2: smaller keys are permerror
  size_t max_signatures = 5;     // signatures evaluated per message; the rest are ignored
};

// Loads libopendkim once for the process (thread-safe; call before any verifier is made).
void initializeDkim();

class DkimVerifier {
 public:
  DkimVerifier(const DkimSettings& settings, KeyLookup lookup);
  ~DkimVerifier();
  DkimVerifier(const DkimVerifier&) = delete;
  DkimVerifier& operator=(const DkimVerifier&) = delete;

  // Canonical CRLF message bytes in order, split anywhere (header section first).
  void feed(std::string_view bytes);
  // True once the empty line ending the header section has been fed.
  bool headersComplete() const;
  // After headersComplete(): "<selector>._domainkey.<domain>" of each signature to verify.
  std::vector<std::string> keyNames() const;
  // Ends the message and verifies every signature (blocking key lookups). No signature at all
  // gives an empty vector (result "none" for the message).
  std::vector<DkimSignature> finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxgate::auth
