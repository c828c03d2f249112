// Standard Webhooks signatures (see include/mxgate/webhook/signing.h). Any thread.
#include "mxgate/webhook/signing.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mxgate/base/base64.h"

namespace mxgate::webhook {
namespace {

// OpenSSL's HMAC implementation, fetched once; EVP_MAC objects are safe to share.
EVP_MAC* hmac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

}  // namespace

std::string signatureHeader(std::string_view id, uint64_t timestamp, std::string_view body,
                            const std::vector<std::string>& keys) {
  const std::string prefix = std::string(id) + "." + std::to_string(timestamp) + ".";
  std::string header;
  for (const std::string& key : keys) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_length = 0;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac());
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size());
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    EVP_MAC_final(ctx, mac, &mac_length, sizeof mac);
    EVP_MAC_CTX_free(ctx);
    if (!header.empty()) {
      header += ' ';
    }
    header += "v1,";
    header += base64::encode(std::string_view(reinterpret_cast<const char*>(mac), mac_length));
  }
  return header;
}

std::string messageWebhookId(std::string_view queue_id, std::string_view tenant) {
  return "msg_" + std::string(queue_id) + "_" + std::string(tenant);
}

}  // namespace mxgate::webhook
