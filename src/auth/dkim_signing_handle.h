// One DKIM signature of one message, made by our own code: relaxed/relaxed canonicalization
// (RFC 6376 §3.4.2, §3.4.4), the body and header hashes (§3.7, §5.4.2), and OpenSSL's
// rsa-sha256 (RFC 6376 §3.3.1, RSASSA-PKCS1-v1_5 over SHA-256) or ed25519-sha256 (RFC 8463 §3,
// PureEdDSA over the SHA-256 of the header hash input). Not libopendkim's signer: it takes the
// private key as PEM text and decodes it for every signature, which with OpenSSL 3.0's decoder
// framework cost 527 µs a key (more than the 286 µs of an RSA-2048 signature), and a freshly
// decoded RSA key sets up its blinding again; in the outbound benchmark that was 56 % of
// mxgate's CPU. Here each configured key is decoded once and shared (see signingKey()); and
// libopendkim 2.11.0~beta2 leaks the parsed key of every Ed25519 signature it makes.
// DkimSigner signs the header fields dkimSignedHeaders() names, over-signing
// dkimOversignedHeaders(). Private to the auth component; one instance per message and key, one
// thread at a time (a lane).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"

namespace mxgate::auth {

class DkimSigningHandle {
 public:
  explicit DkimSigningHandle(config::DkimKey key);
  ~DkimSigningHandle();
  DkimSigningHandle(const DkimSigningHandle&) = delete;
  DkimSigningHandle& operator=(const DkimSigningHandle&) = delete;

  // The header section: every field, with the empty line that ends it if there is one.
  void headers(std::string_view section);
  // Body bytes in order, split anywhere; lines end with CRLF. A last line without CRLF is
  // hashed as if it had one (the body as SMTP will carry it).
  void body(std::string_view bytes);
  // "DKIM-Signature: ...\r\n", or "" with the reason in error.
  std::string finish(std::string& error);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxgate::auth
