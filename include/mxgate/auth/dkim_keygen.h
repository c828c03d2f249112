// DKIM key pairs for `mxgate dkim keygen`: generation with OpenSSL's EVP_PKEY_keygen, and the
// DNS key record (RFC 6376 §3.6.1; Ed25519: RFC 8463 §4.2, p= is the raw 32-byte public key)
// written as a zone-file TXT line. Pure apart from the CSPRNG; any thread (the CLI process).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"

namespace mxgate::auth {

inline constexpr unsigned kDefaultRsaBits = 2048;

struct DkimKeyPair {
  std::string private_key_pem;  // PKCS#8 PEM, as config::DkimKey::private_key
  std::string public_key;       // the p= value: base64 of the DER SubjectPublicKeyInfo (RSA) or of
                                // the raw 32-byte key (Ed25519)
};

// rsa_bits applies to RSA only (config::kMinRsaBits..kMaxRsaBits is the caller's to check).
// nullopt with error when OpenSSL fails.
std::optional<DkimKeyPair> generateDkimKey(config::DkimAlgorithm algorithm, unsigned rsa_bits, std::string& error);

// "v=DKIM1; k=rsa; p=<public key>" ("k=ed25519" for Ed25519).
std::string dkimKeyRecord(config::DkimAlgorithm algorithm, std::string_view public_key);

// `<selector>._domainkey.<domain>. IN TXT "..." "..."`: the record as character-strings of at
// most 255 bytes (RFC 1035 §3.3.14), which a verifier joins (RFC 6376 §3.6.2.2).
std::string dkimZoneLine(std::string_view selector, std::string_view domain, std::string_view record);

}  // namespace mxgate::auth
