// DKIM signing (RFC 6376 §5, RFC 8463 Ed25519, RFC 8301): relaxed/relaxed, the header fields
// of RFC 6376 §5.4.1 plus Message-ID, MIME-Version, Content-Type and List-Unsubscribe-Post
// (RFC 8058), From and the other fields replies and list tools show over-signed
// (dkimOversignedHeaders). A tenant with an RSA and an Ed25519 key for a domain gets both
// signatures (RFC 8463 §4 dual signing), each fed the same bytes, made by our own
// canonicalization and OpenSSL (src/auth/dkim_signing_handle.h says why not by libopendkim:
// it decodes the PEM key for every signature, which cost more than the signature itself).
//
// Threads: signing is CPU work (about 0.3 ms per RSA-2048 signature), so a DkimSigner runs on a
// lane thread, never on a loop thread. One signer per message, used by one thread at a time;
// the keys come from the configuration snapshot (config::DkimPolicy, loaded once per load or
// reload), each decoded once and shared read-only between signers.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"

namespace mxgate::auth {

// The header field names signed when present, and those listed once more in h= than they
// occur (RFC 6376 §8.15), so that a field added later breaks the signature.
std::span<const char* const> dkimSignedHeaders();
std::span<const char* const> dkimOversignedHeaders();

struct DkimSigning {
  enum class Status {
    Signed,  // header_fields holds one signature per signing key
    NoKey,   // the tenant has no active key for the From domain (or no single From domain)
    Failed,  // a key could not sign or libopendkim refused the message; error says why
  };
  Status status = Status::NoKey;
  std::string domain;         // the From domain (d=), "" when none could be read
  std::string header_fields;  // "DKIM-Signature: ...\r\n" per key (RSA first), to prepend
  std::string error;          // NoKey, Failed: the reason
};

class DkimSigner {
 public:
  // Signs with policy.signingKeys(<From domain>): d= is the domain of the message's single
  // From mailbox (RFC 7489 §3.1 alignment). The keys are copied (their PEM is shared).
  explicit DkimSigner(const config::DkimPolicy& policy);
  ~DkimSigner();
  DkimSigner(const DkimSigner&) = delete;
  DkimSigner& operator=(const DkimSigner&) = delete;

  // The message as it will be sent (canonical CRLF), in order, split anywhere. The header
  // section is held until its end; body chunks go straight to the hashes.
  void feed(std::string_view bytes);
  // Ends the message and returns the signatures; call once.
  DkimSigning finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxgate::auth
