// Shared helpers for the TLS unit tests: a temporary directory, certificate fixtures
// (our self-signed EC certificate and an independently built RSA one), reading files and
// pumping bytes between two in-memory sessions.
// Single-threaded: each test case runs on the Boost.Test main thread.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

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

// An RSA-2048 self-signed certificate built here, independently of ensureSelfSigned.
inline void makeRsaCertificate(const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  BOOST_REQUIRE(key != nullptr);
  BOOST_REQUIRE(cert != nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  BOOST_REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  BOOST_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 42) == 1);
  BOOST_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr);
  BOOST_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400) != nullptr);
  BOOST_REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           reinterpret_cast<const unsigned char*>("rsa.test"), -1,
                                           -1, 0) == 1);
  BOOST_REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  BOOST_REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  BOOST_REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  writePem(key_file, [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  writePem(cert_file, [&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
}

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
  auto context = Context::client(12, false, error);
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
