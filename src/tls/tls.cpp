// OpenSSL contexts for SMTP: the server context used by STARTTLS (RFC 3207) and implicit TLS
// (RFC 8314) listeners, and the client context used for delivery (opportunistic TLS per
// RFC 7435, or verified per RFC 6125 host name rules), plus the error-queue helper.
// Contexts are built on the configuration thread and then shared read-only by all loop threads.
#include "mxgate/tls/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "openssl_util.h"

namespace mxgate::tls {
namespace detail {

std::string takeErrors(const char* fallback) {
  std::string message;
  char buffer[256];
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!message.empty()) {
      message += "; ";
    }
    message += buffer;
  }
  return message.empty() ? std::string(fallback) : message;
}

}  // namespace detail
namespace {

using CtxPtr = detail::Owned<SSL_CTX, SSL_CTX_free>;

// TLS 1.2 suites: ECDHE (forward secrecy) with AEAD ciphers only, for ECDSA and RSA
// certificates. No CBC (LUCKY13), no static RSA, no DHE (no parameters to manage).
// TLS 1.3 keeps OpenSSL's default suites, which are all AEAD with ephemeral key exchange.
constexpr const char* kServerTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

// Maps the configured minimum (12 or 13) to the OpenSSL constant; 0 when out of range.
int protocolVersion(int min_version) {
  switch (min_version) {
    case 12: return TLS1_2_VERSION;
    case 13: return TLS1_3_VERSION;
    default: return 0;
  }
}

// Creates a context with the settings common to both roles. Null (error set) on failure.
CtxPtr newContext(const SSL_METHOD* method, int min_version, std::string& error) {
  const int version = protocolVersion(min_version);
  if (version == 0) {
    error = "tls: minimum protocol version must be 12 or 13, got " + std::to_string(min_version);
    return nullptr;
  }
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) {
    error = "tls: cannot create context: " + detail::takeErrors("out of memory");
    return nullptr;
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), version) != 1) {
    error = "tls: cannot set minimum protocol version: " + detail::takeErrors("rejected");
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

std::shared_ptr<Context> Context::server(const std::string& cert_file, const std::string& key_file,
                                         int min_version, std::string& error) {
  CtxPtr ctx = newContext(TLS_server_method(), min_version, error);
  if (!ctx) {
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Resumption is rare for SMTP; a server-side cache would only hold memory.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(ctx.get(), kServerTls12Ciphers) != 1) {
    error = "tls: cannot set the cipher list: " + detail::takeErrors("rejected");
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    error = "tls: cannot load certificate chain " + cert_file + ": " +
            detail::takeErrors("unknown error");
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "tls: cannot load private key " + key_file + " (for certificate " + cert_file +
            "): " + detail::takeErrors("unknown error");
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    error = "tls: private key " + key_file + " does not match certificate " + cert_file + ": " +
            detail::takeErrors("mismatch");
    return nullptr;
  }
  return std::shared_ptr<Context>(new Context(ctx.release()));
}

std::shared_ptr<Context> Context::client(int min_version, std::string& error) {
  CtxPtr ctx = newContext(TLS_client_method(), min_version, error);
  if (!ctx) {
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return std::shared_ptr<Context>(new Context(ctx.release()));
}

std::shared_ptr<Context> Context::verifyingClient(int min_version, const std::string& ca_file, std::string& error) {
  CtxPtr ctx = newContext(TLS_client_method(), min_version, error);
  if (!ctx) {
    return nullptr;
  }
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      error = "tls: cannot load the system CA store: " + detail::takeErrors("unknown error");
      return nullptr;
    }
  } else if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    error = "tls: cannot load CA file " + ca_file + ": " + detail::takeErrors("no certificate in it");
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return std::shared_ptr<Context>(new Context(ctx.release()));
}

std::shared_ptr<Context> Context::daneClient(int min_version, std::string& error) {
  CtxPtr ctx = newContext(TLS_client_method(), min_version, error);
  if (!ctx) {
    return nullptr;
  }
  if (SSL_CTX_dane_enable(ctx.get()) <= 0) {
    error = "tls: cannot enable DANE: " + detail::takeErrors("unknown error");
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return std::shared_ptr<Context>(new Context(ctx.release()));
}

Context::~Context() { SSL_CTX_free(ctx_); }

}  // namespace mxgate::tls
