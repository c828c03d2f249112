// DKIM key pairs and their DNS records (see include/mxgate/auth/dkim_keygen.h), on OpenSSL 3's
// EVP interface. Any thread.
#include "mxgate/auth/dkim_keygen.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "mxgate/base/base64.h"

namespace mxgate::auth {
namespace {

constexpr size_t kMaxCharacterString = 255;  // RFC 1035 §3.3

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string openSslError(std::string_view step) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  ERR_clear_error();
  return std::string(step) + ": " + text;
}

std::optional<std::string> publicKeyOf(EVP_PKEY* pkey) {
  std::string bytes;
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
    size_t length = 0;
    if (EVP_PKEY_get_raw_public_key(pkey, nullptr, &length) != 1) {
      return std::nullopt;
    }
    bytes.resize(length);
    if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(bytes.data()), &length) != 1) {
      return std::nullopt;
    }
    bytes.resize(length);
  } else {
    const int length = i2d_PUBKEY(pkey, nullptr);
    if (length <= 0) {
      return std::nullopt;
    }
    bytes.resize(static_cast<size_t>(length));
    auto* out = reinterpret_cast<unsigned char*>(bytes.data());
    if (i2d_PUBKEY(pkey, &out) != length) {
      return std::nullopt;
    }
  }
  return base64::encode(bytes);
}

}  // namespace

std::optional<DkimKeyPair> generateDkimKey(config::DkimAlgorithm algorithm, unsigned rsa_bits, std::string& error) {
  const bool rsa = algorithm == config::DkimAlgorithm::RsaSha256;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_id(rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), static_cast<int>(rsa_bits)) != 1)) {
    error = openSslError("EVP_PKEY_keygen_init");
    return std::nullopt;
  }
  EVP_PKEY* generated = nullptr;
  if (EVP_PKEY_keygen(context.get(), &generated) != 1) {
    error = openSslError("EVP_PKEY_keygen");
    return std::nullopt;
  }
  PkeyPtr pkey(generated, EVP_PKEY_free);
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    error = openSslError("PEM_write_bio_PrivateKey");
    return std::nullopt;
  }
  char* pem = nullptr;
  const long pem_length = BIO_get_mem_data(bio.get(), &pem);
  DkimKeyPair pair;
  pair.private_key_pem.assign(pem, static_cast<size_t>(pem_length));
  std::optional<std::string> public_key = publicKeyOf(pkey.get());
  if (!public_key) {
    error = openSslError("encoding the public key");
    return std::nullopt;
  }
  pair.public_key = std::move(*public_key);
  return pair;
}

std::string dkimKeyRecord(config::DkimAlgorithm algorithm, std::string_view public_key) {
  const std::string_view type = algorithm == config::DkimAlgorithm::RsaSha256 ? "rsa" : "ed25519";
  return "v=DKIM1; k=" + std::string(type) + "; p=" + std::string(public_key);
}

std::string dkimZoneLine(std::string_view selector, std::string_view domain, std::string_view record) {
  std::string line = std::string(selector) + "._domainkey." + std::string(domain) + ". IN TXT";
  for (size_t start = 0; start < record.size(); start += kMaxCharacterString) {
    line += " \"" + std::string(record.substr(start, kMaxCharacterString)) + "\"";
  }
  return line;
}

}  // namespace mxgate::auth
