// Unit tests for ensureSelfSigned: file modes, no regeneration, and the certificate's
// contents checked field by field with OpenSSL (RFC 5280 v3 extensions, P-256 key).
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <ctime>

#include "tls_test_support.h"

using namespace mxgate::tls;
using namespace mxgate::tls::test;

namespace {

struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using CertPtr = std::unique_ptr<X509, CertDeleter>;

CertPtr loadCert(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_file(path.c_str(), "r"), BIO_free_all);
  BOOST_REQUIRE(bio != nullptr);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  BOOST_REQUIRE(cert != nullptr);
  return cert;
}

mode_t fileMode(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string commonName(X509* cert) {
  char buffer[128] = {};
  BOOST_REQUIRE(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer,
                                          sizeof(buffer)) > 0);
  return buffer;
}

std::vector<std::string> dnsNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  BOOST_REQUIRE(sans != nullptr);
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    BOOST_REQUIRE(name->type == GEN_DNS);
    const ASN1_IA5STRING* dns = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

// Seconds from now to `time` (negative in the past).
long long secondsFromNow(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  BOOST_REQUIRE(ASN1_TIME_diff(&days, &seconds, nullptr, time) == 1);
  return static_cast<long long>(days) * 86400 + seconds;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(self_signed)

BOOST_AUTO_TEST_CASE(creates_parent_directories_and_a_0600_key) {
  TempDir dir;
  const std::string cert_file = dir.file("a/b/cert.pem");
  const std::string key_file = dir.file("c/d/e/key.pem");
  std::string error;
  BOOST_REQUIRE_MESSAGE(ensureSelfSigned(cert_file, key_file, "mx.example.test", error), error);
  BOOST_TEST(fileMode(key_file) == 0600);
  BOOST_TEST(fileMode(cert_file) == 0644);
  BOOST_TEST(readFile(key_file).starts_with("-----BEGIN PRIVATE KEY-----\n"));
  BOOST_TEST(readFile(cert_file).starts_with("-----BEGIN CERTIFICATE-----\n"));
  // Only the two files remain: no temporary files left behind.
  BOOST_TEST(std::distance(fs::directory_iterator(dir.path() / "a/b"), fs::directory_iterator()) ==
             1);
  BOOST_TEST(
      std::distance(fs::directory_iterator(dir.path() / "c/d/e"), fs::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_CASE(certificate_contents) {
  TempDir dir;
  std::string error;
  BOOST_REQUIRE_MESSAGE(
      ensureSelfSigned(dir.file("cert.pem"), dir.file("key.pem"), "mx.example.test", error), error);
  CertPtr cert = loadCert(dir.file("cert.pem"));

  BOOST_TEST(X509_get_version(cert.get()) == X509_VERSION_3);
  BOOST_TEST(commonName(cert.get()) == "mx.example.test");
  BOOST_TEST(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) ==
             0);
  BOOST_TEST(dnsNames(cert.get()) == std::vector<std::string>{"mx.example.test"},
             boost::test_tools::per_element());

  // Key: EC P-256, and the certificate is signed by it.
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  BOOST_REQUIRE(key != nullptr);
  BOOST_TEST(EVP_PKEY_is_a(key, "EC"));
  char group[64] = {};
  size_t group_len = 0;
  BOOST_REQUIRE(EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) == 1);
  BOOST_TEST(std::string(group) == "prime256v1");
  BOOST_TEST(X509_verify(cert.get(), key) == 1);
  BOOST_TEST(X509_get_signature_nid(cert.get()) == NID_ecdsa_with_SHA256);

  // Serial: 128 bits.
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), BN_free);
  BOOST_REQUIRE(serial != nullptr);
  BOOST_TEST(BN_num_bits(serial.get()) == 128);

  // Validity: from an hour ago, for ten years.
  const long long not_before = secondsFromNow(X509_get0_notBefore(cert.get()));
  const long long not_after = secondsFromNow(X509_get0_notAfter(cert.get()));
  BOOST_TEST(not_before <= -3600 + 5);
  BOOST_TEST(not_before >= -3600 - 60);
  BOOST_TEST(not_after - not_before == 3652LL * 86400);

  // Extensions.
  const uint32_t flags = X509_get_extension_flags(cert.get());
  BOOST_TEST((flags & EXFLAG_CA) == 0U);
  BOOST_TEST((flags & EXFLAG_BCONS) != 0U);
  BOOST_TEST(X509_get_key_usage(cert.get()) == static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  BOOST_TEST(X509_get_extended_key_usage(cert.get()) == static_cast<uint32_t>(XKU_SSL_SERVER));
  BOOST_TEST(X509_get0_subject_key_id(cert.get()) != nullptr);
  BOOST_TEST(X509_check_host(cert.get(), "mx.example.test", 0, 0, nullptr) == 1);
  BOOST_TEST(X509_check_host(cert.get(), "other.example.test", 0, 0, nullptr) == 0);
  BOOST_TEST(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
}

BOOST_AUTO_TEST_CASE(serials_differ_between_certificates) {
  TempDir dir;
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(dir.file("1.crt"), dir.file("1.key"), "mx.test", error));
  BOOST_REQUIRE(ensureSelfSigned(dir.file("2.crt"), dir.file("2.key"), "mx.test", error));
  CertPtr first = loadCert(dir.file("1.crt"));
  CertPtr second = loadCert(dir.file("2.crt"));
  BOOST_TEST(ASN1_INTEGER_cmp(X509_get0_serialNumber(first.get()),
                              X509_get0_serialNumber(second.get())) != 0);
}

BOOST_AUTO_TEST_CASE(second_call_keeps_existing_files) {
  TempDir dir;
  const std::string cert_file = dir.file("cert.pem");
  const std::string key_file = dir.file("key.pem");
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(cert_file, key_file, "mx.test", error));
  const std::string cert = readFile(cert_file);
  const std::string key = readFile(key_file);
  BOOST_REQUIRE(ensureSelfSigned(cert_file, key_file, "another.test", error));
  BOOST_TEST(readFile(cert_file) == cert);
  BOOST_TEST(readFile(key_file) == key);
}

BOOST_AUTO_TEST_CASE(missing_half_regenerates_both) {
  TempDir dir;
  const std::string cert_file = dir.file("cert.pem");
  const std::string key_file = dir.file("key.pem");
  std::string error;
  BOOST_REQUIRE(ensureSelfSigned(cert_file, key_file, "mx.test", error));
  const std::string key = readFile(key_file);
  fs::remove(cert_file);
  BOOST_REQUIRE_MESSAGE(ensureSelfSigned(cert_file, key_file, "mx.test", error), error);
  BOOST_TEST(readFile(key_file) != key);
  BOOST_TEST(fileMode(key_file) == 0600);
  // The new pair belongs together.
  BOOST_TEST(Context::server(cert_file, key_file, 12, error) != nullptr);
}

BOOST_AUTO_TEST_CASE(rejects_names_that_are_not_host_names) {
  TempDir dir;
  for (const std::string& bad : std::vector<std::string>{
           "", "mx.test,DNS:evil.test", "mx..test", ".mx.test", "mx.test.", "-mx.test", "mx-.test",
           "mx test", "mx.t\xc3\xa9st", "mx_1.test", std::string(64, 'a'),
           std::string(30, 'a') + "." + std::string(34, 'b')}) {
    std::string error;
    BOOST_TEST(!ensureSelfSigned(dir.file("cert.pem"), dir.file("key.pem"), bad, error), bad);
    BOOST_TEST(error.find("not a host name") != std::string::npos);
    BOOST_TEST(!fs::exists(dir.file("key.pem")));
  }
  for (const std::string& good :
       {std::string(63, 'a'), std::string(31, 'a') + "." + std::string(32, 'b'),
        std::string("0-9.mx.test")}) {
    TempDir other;
    std::string error;
    BOOST_TEST(ensureSelfSigned(other.file("cert.pem"), other.file("key.pem"), good, error), error);
  }
}

BOOST_AUTO_TEST_CASE(unusable_directory_is_an_error) {
  TempDir dir;
  const std::string blocker = dir.file("file");
  std::ofstream(blocker) << "x";
  std::string error;
  BOOST_TEST(!ensureSelfSigned(blocker + "/cert.pem", blocker + "/key.pem", "mx.test", error));
  BOOST_TEST(error.find(blocker) != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(certificate_and_key_must_be_separate_files) {
  TempDir dir;
  std::string error;
  BOOST_TEST(!ensureSelfSigned(dir.file("both.pem"), dir.file("./both.pem"), "mx.test", error));
  BOOST_TEST(error.find("separate files") != std::string::npos, error);
  BOOST_TEST(!fs::exists(dir.file("both.pem")));
}

BOOST_AUTO_TEST_SUITE_END()
