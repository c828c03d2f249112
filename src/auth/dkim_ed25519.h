// Ed25519-SHA256 DKIM signatures (RFC 8463) made by our own code: relaxed/relaxed
// canonicalization (RFC 6376 §3.4.2, §3.4.4), the header hash (§3.7, §5.4.2) and OpenSSL's
// Ed25519. libopendkim 2.11.0~beta2 signs Ed25519 correctly but leaks the parsed private key of
// every such signature (dkim_free() releases key state only for RSA; about 470 bytes a
// message, measured under ASan), so DkimSigner uses this for Ed25519 and libopendkim for RSA.
// Both sign the same header fields (dkimSignedHeaders, dkimOversignedHeaders). Private to the
// auth component; one instance per message, one thread at a time (a lane).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"

namespace mxgate::auth {

class Ed25519DkimSignature {
 public:
  explicit Ed25519DkimSignature(config::DkimKey key);
  ~Ed25519DkimSignature();
  Ed25519DkimSignature(const Ed25519DkimSignature&) = delete;
  Ed25519DkimSignature& operator=(const Ed25519DkimSignature&) = delete;

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
