// Unit tests for tls::Context: server and client settings, the TLS 1.2 suite list
// (ECDHE + AEAD only), and the errors for bad versions, missing files (certificates, keys,
// CA files) and mismatched keys.
#include <openssl/ssl.h>

#include <boost/test/unit_test.hpp>

#include "tls_test_support.h"

using namespace mxgate::tls;
using namespace mxgate::tls::test;

BOOST_AUTO_TEST_SUITE(context)

BOOST_AUTO_TEST_CASE(server_settings) {
  TempDir dir;
  auto context = ecServer(dir, "mx.test");
  SSL_CTX* ctx = context->raw();
  BOOST_TEST(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
  const uint64_t options = SSL_CTX_get_options(ctx);
  BOOST_TEST((options & SSL_OP_NO_RENEGOTIATION) != 0U);
  BOOST_TEST((options & SSL_OP_NO_COMPRESSION) != 0U);
  BOOST_TEST((options & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0U);
  BOOST_TEST((SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS) != 0U);
  BOOST_TEST(SSL_CTX_get_session_cache_mode(ctx) == SSL_SESS_CACHE_OFF);

  auto strict = ecServer(dir, "mx.test", 13);
  BOOST_TEST(SSL_CTX_get_min_proto_version(strict->raw()) == TLS1_3_VERSION);
}

BOOST_AUTO_TEST_CASE(server_suites_are_ecdhe_aead_only) {
  TempDir dir;
  auto context = ecServer(dir, "mx.test");
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(context->raw());
  int tls12 = 0;
  int tls13 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    const std::string name = SSL_CIPHER_get_name(cipher);
    BOOST_TEST(SSL_CIPHER_is_aead(cipher) == 1, name);
    if (std::string(SSL_CIPHER_get_version(cipher)) == "TLSv1.3") {
      ++tls13;
      continue;
    }
    ++tls12;
    BOOST_TEST(SSL_CIPHER_get_kx_nid(cipher) == NID_kx_ecdhe, name);
    BOOST_TEST(name.find("CBC") == std::string::npos, name);
  }
  BOOST_TEST(tls12 == 6);
  BOOST_TEST(tls13 == 3);
}

BOOST_AUTO_TEST_CASE(client_settings) {
  std::string error;
  auto opportunistic = Context::client(12, error);
  BOOST_REQUIRE_MESSAGE(opportunistic != nullptr, error);
  BOOST_TEST(SSL_CTX_get_verify_mode(opportunistic->raw()) == SSL_VERIFY_NONE);
  BOOST_TEST(SSL_CTX_get_min_proto_version(opportunistic->raw()) == TLS1_2_VERSION);
  BOOST_TEST((SSL_CTX_get_options(opportunistic->raw()) & SSL_OP_NO_RENEGOTIATION) != 0U);

  auto verifying = Context::verifyingClient(13, "", error);
  BOOST_REQUIRE_MESSAGE(verifying != nullptr, error);
  BOOST_TEST(SSL_CTX_get_verify_mode(verifying->raw()) == SSL_VERIFY_PEER);
  BOOST_TEST(SSL_CTX_get_min_proto_version(verifying->raw()) == TLS1_3_VERSION);
}

BOOST_AUTO_TEST_CASE(rejects_unsupported_minimum_versions) {
  TempDir dir;
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(dir.file("cert.pem"), dir.file("key.pem"), "mx.test", error));
  for (int version : {0, 10, 11, 14}) {
    error.clear();
    BOOST_TEST(Context::server(dir.file("cert.pem"), dir.file("key.pem"), version, error) ==
               nullptr);
    BOOST_TEST(error.find("12 or 13") != std::string::npos, error);
    error.clear();
    BOOST_TEST(Context::client(version, error) == nullptr);
    BOOST_TEST(error.find("12 or 13") != std::string::npos, error);
  }
}

BOOST_AUTO_TEST_CASE(missing_files_are_named) {
  TempDir dir;
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(dir.file("cert.pem"), dir.file("key.pem"), "mx.test", error));

  const std::string missing = dir.file("nope.pem");
  BOOST_TEST(Context::server(missing, dir.file("key.pem"), 12, error) == nullptr);
  BOOST_TEST(error.find(missing) != std::string::npos, error);
  BOOST_TEST(error.find("No such file or directory") != std::string::npos, error);

  BOOST_TEST(Context::server(dir.file("cert.pem"), missing, 12, error) == nullptr);
  BOOST_TEST(error.find("private key " + missing) != std::string::npos, error);

  std::ofstream(dir.file("junk.pem")) << "not a certificate\n";
  BOOST_TEST(Context::server(dir.file("junk.pem"), dir.file("key.pem"), 12, error) == nullptr);
  BOOST_TEST(error.find(dir.file("junk.pem")) != std::string::npos, error);
  BOOST_TEST(error.find("no start line") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(verifying_client_ca_file_errors_are_named) {
  TempDir dir;
  std::string error;
  const std::string missing = dir.file("missing-ca.pem");
  BOOST_TEST(Context::verifyingClient(12, missing, error) == nullptr);
  BOOST_TEST(error.find("cannot load CA file " + missing) != std::string::npos, error);

  std::ofstream(dir.file("junk.pem")) << "not a certificate\n";
  error.clear();
  BOOST_TEST(Context::verifyingClient(12, dir.file("junk.pem"), error) == nullptr);
  BOOST_TEST(error.find("cannot load CA file " + dir.file("junk.pem")) != std::string::npos, error);

  TestCa ca(dir);
  auto context = Context::verifyingClient(12, ca.certFile(), error);
  BOOST_REQUIRE_MESSAGE(context != nullptr, error);
  BOOST_TEST(SSL_CTX_get_verify_mode(context->raw()) == SSL_VERIFY_PEER);
}

BOOST_AUTO_TEST_CASE(mismatched_key_is_rejected) {
  TempDir dir;
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(dir.file("a.crt"), dir.file("a.key"), "a.test", error));
  BOOST_REQUIRE(ensureSelfSigned(dir.file("b.crt"), dir.file("b.key"), "b.test", error));
  makeRsaCertificate(dir.file("rsa.crt"), dir.file("rsa.key"));

  // Same key type, different key.
  BOOST_TEST(Context::server(dir.file("a.crt"), dir.file("b.key"), 12, error) == nullptr);
  BOOST_TEST(error.find(dir.file("b.key")) != std::string::npos, error);
  BOOST_TEST(error.find("key values mismatch") != std::string::npos, error);

  // Different key type (RSA certificate, EC key) gets past loading and fails the check.
  error.clear();
  BOOST_TEST(Context::server(dir.file("rsa.crt"), dir.file("a.key"), 12, error) == nullptr);
  BOOST_TEST(error.find(dir.file("a.key")) != std::string::npos, error);
  BOOST_TEST(error.find("does not match") != std::string::npos, error);

  // The matching pairs load.
  BOOST_TEST(Context::server(dir.file("a.crt"), dir.file("a.key"), 12, error) != nullptr);
  BOOST_TEST(Context::server(dir.file("rsa.crt"), dir.file("rsa.key"), 12, error) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
