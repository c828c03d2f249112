// Shared helpers for the TLS unit tests: a temporary directory, certificate fixtures
// (our self-signed EC certificate, an independently built RSA one, and a test CA issuing
// good, wrong-name, expired and self-signed server certificates), reading files and pumping
// bytes between two in-memory sessions.
// Single-threaded: each test case runs on the Boost.Test main thread.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>

#include "mxgate/tls/tls.h"

namespace mxgate::tls {

inline std::ostream& operator<<(std::ostream& out, Session::Status status) {
  switch (status) {
    case Session::Status::Ok: return out << "Ok";
    case Session::Status::Closed: return out << "Closed";
    case Session::Status::Error: return out << "Error";
  }
  return out << "Status(" << static_cast<int>(status) << ")";
}

}  // namespace mxgate::tls

namespace mxgate::tls::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mxgate-tls-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE(in.good());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

template <typename Write>
void writePem(const std::string& path, Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_file(path.c_str(), "w"), BIO_free_all);
  BOOST_REQUIRE(bio != nullptr);
  BOOST_REQUIRE(write(bio.get()) == 1);
}

using OwnedKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using OwnedCert = std::unique_ptr<X509, decltype(&X509_free)>;

// What makeCertificate builds: subject CN (and a DNS subjectAltName when dns_name is set),
// validity relative to now in seconds, a CA flag, and the issuer (null = self-signed).
struct CertificateSpec {
  std::string common_name;
  std::string dns_name;  // "" = no subjectAltName
  long not_before = -3600;
  long not_after = 86400;
  bool is_ca = false;
  long serial = 42;
  X509* issuer = nullptr;
  EVP_PKEY* issuer_key = nullptr;
};

inline void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> extension(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value), X509_EXTENSION_free);
  BOOST_REQUIRE(extension != nullptr);
  BOOST_REQUIRE(X509_add_ext(cert, extension.get(), -1) == 1);
}

// A certificate for key as spec says, signed with SHA-256 by the issuer's key (or key).
inline OwnedCert makeCertificate(EVP_PKEY* key, const CertificateSpec& spec) {
  OwnedCert cert(X509_new(), X509_free);
  BOOST_REQUIRE(cert != nullptr);
  X509* issuer = spec.issuer != nullptr ? spec.issuer : cert.get();
  EVP_PKEY* signing_key = spec.issuer_key != nullptr ? spec.issuer_key : key;
  X509_NAME* name = X509_get_subject_name(cert.get());
  BOOST_REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  BOOST_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial) == 1);
  BOOST_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before) != nullptr);
  BOOST_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after) != nullptr);
  BOOST_REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                           -1, -1, 0) == 1);
  BOOST_REQUIRE(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) == 1);
  BOOST_REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  addExtension(cert.get(), issuer, NID_basic_constraints, spec.is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (spec.is_ca) {
    addExtension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (!spec.dns_name.empty()) {
    addExtension(cert.get(), issuer, NID_subject_alt_name, ("DNS:" + spec.dns_name).c_str());
  }
  BOOST_REQUIRE(X509_sign(cert.get(), signing_key, EVP_sha256()) > 0);
  return cert;
}

inline void writeKeyAndCertificate(EVP_PKEY* key, X509* cert, const std::string& cert_file,
                                   const std::string& key_file) {
  writePem(key_file, [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  writePem(cert_file, [&](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

// An RSA-2048 self-signed certificate built here, independently of ensureSelfSigned.
inline void makeRsaCertificate(const std::string& cert_file, const std::string& key_file) {
  OwnedKey key(EVP_RSA_gen(2048), EVP_PKEY_free);
  BOOST_REQUIRE(key != nullptr);
  CertificateSpec spec;
  spec.common_name = "rsa.test";
  OwnedCert cert = makeCertificate(key.get(), spec);
  writeKeyAndCertificate(key.get(), cert.get(), cert_file, key_file);
}

// A test certificate authority (ca.crt in dir) and the server certificates of the
// verification cases: issued by it with a good or a wrong name, expired, or self-signed.
// Keys are P-256 (quick to make). Each method returns a server context for the certificate.
class TestCa {
 public:
  explicit TestCa(const TempDir& dir) : dir_(dir), key_(newKey()), cert_(nullptr, X509_free) {
    CertificateSpec spec;
    spec.common_name = "mxgate test CA";
    spec.is_ca = true;
    spec.serial = 1;
    cert_ = makeCertificate(key_.get(), spec);
    writePem(certFile(), [&](BIO* bio) { return PEM_write_bio_X509(bio, cert_.get()); });
  }

  std::string certFile() const { return dir_.file("ca.crt"); }

  // A server certificate for dns_name issued by this CA, valid from now + not_before to
  // now + not_after (seconds), written to <stem>.crt / <stem>.key.
  std::shared_ptr<Context> issue(const std::string& stem, const std::string& dns_name, long not_before = -3600,
                                 long not_after = 86400) {
    OwnedKey key = newKey();
    CertificateSpec spec;
    spec.common_name = dns_name;
    spec.dns_name = dns_name;
    spec.not_before = not_before;
    spec.not_after = not_after;
    spec.serial = ++serial_;
    spec.issuer = cert_.get();
    spec.issuer_key = key_.get();
    OwnedCert cert = makeCertificate(key.get(), spec);
    return serve(stem, key.get(), cert.get());
  }

  // A certificate for dns_name that signs itself (no CA vouches for it).
  std::shared_ptr<Context> selfSigned(const std::string& stem, const std::string& dns_name) {
    OwnedKey key = newKey();
    CertificateSpec spec;
    spec.common_name = dns_name;
    spec.dns_name = dns_name;
    OwnedCert cert = makeCertificate(key.get(), spec);
    return serve(stem, key.get(), cert.get());
  }

 private:
  static OwnedKey newKey() {
    OwnedKey key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    BOOST_REQUIRE(key != nullptr);
    return key;
  }

  std::shared_ptr<Context> serve(const std::string& stem, EVP_PKEY* key, X509* cert) {
    writeKeyAndCertificate(key, cert, dir_.file(stem + ".crt"), dir_.file(stem + ".key"));
    std::string error;
    auto context = Context::server(dir_.file(stem + ".crt"), dir_.file(stem + ".key"), 12, error);
    BOOST_REQUIRE_MESSAGE(context != nullptr, error);
    return context;
  }

  const TempDir& dir_;
  OwnedKey key_;
  OwnedCert cert_;
  long serial_ = 1;
};

// A server context from a fresh self-signed EC certificate for `hostname` in `dir`.
inline std::shared_ptr<Context> ecServer(const TempDir& dir, const std::string& hostname,
                                         int min_version = 12) {
  std::string error;
  BOOST_REQUIRE_MESSAGE(
      ensureSelfSigned(dir.file("cert.pem"), dir.file("key.pem"), hostname, error), error);
  auto context = Context::server(dir.file("cert.pem"), dir.file("key.pem"), min_version, error);
  BOOST_REQUIRE_MESSAGE(context != nullptr, error);
  return context;
}

inline std::shared_ptr<Context> opportunisticClient() {
  std::string error;
  auto context = Context::client(12, error);
  BOOST_REQUIRE_MESSAGE(context != nullptr, error);
  return context;
}

// Moves ciphertext between the two sessions in pieces of at most `piece` bytes until neither
// has anything left to send. Received plaintext is appended to the *_got strings; returns
// false as soon as a feed reports anything but Ok.
inline bool pump(Session& client, Session& server, std::string& client_got, std::string& server_got,
                 size_t piece = SIZE_MAX) {
  for (int round = 0; round < 100000; ++round) {
    if (!client.hasOutgoing() && !server.hasOutgoing()) {
      return true;
    }
    for (auto [from, to, got] :
         {std::tuple{&client, &server, &server_got}, std::tuple{&server, &client, &client_got}}) {
      const std::string bytes = from->takeOutgoing();
      for (size_t at = 0; at < bytes.size(); at += piece) {
        if (to->feed(std::string_view(bytes).substr(at, piece), *got) != Session::Status::Ok) {
          return false;
        }
      }
    }
  }
  return false;
}

// Runs a full handshake between the two sessions; both must report it done.
inline void handshake(Session& client, Session& server, size_t piece = SIZE_MAX) {
  std::string client_got;
  std::string server_got;
  client.startHandshake();
  BOOST_REQUIRE_MESSAGE(pump(client, server, client_got, server_got, piece),
                        "client: " << client.lastError() << " server: " << server.lastError());
  BOOST_REQUIRE(client.handshakeDone());
  BOOST_REQUIRE(server.handshakeDone());
  BOOST_REQUIRE(client_got.empty());
  BOOST_REQUIRE(server_got.empty());
}

}  // namespace mxgate::tls::test
