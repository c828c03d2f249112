// Self-signed server certificate for first start: an EC P-256 key and an X.509 v3
// certificate (RFC 5280 §4.1, §4.2.1.3 key usage, §4.2.1.6 subject alternative name,
// §4.2.1.9 basic constraints, §4.2.1.12 extended key usage) for the node's host name.
// Runs once on the startup thread; it does blocking file I/O (fsync) and must not run on a loop.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "mxgate/tls/tls.h"
#include "openssl_util.h"

namespace mxgate::tls {
namespace {

namespace fs = std::filesystem;

using BioPtr = detail::Owned<BIO, BIO_free_all>;
using BnPtr = detail::Owned<BIGNUM, BN_free>;
using ExtensionPtr = detail::Owned<X509_EXTENSION, X509_EXTENSION_free>;
using PkeyPtr = detail::Owned<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = detail::Owned<X509, X509_free>;

constexpr long kValidityDays = 3652;     // ten years, counting leap days
constexpr long kBackdateSeconds = 3600;  // tolerate peers whose clocks run a little behind
constexpr size_t kMaxCommonName = 64;    // ub-common-name, RFC 5280 Appendix A.1
constexpr size_t kMaxLabel = 63;         // RFC 1035 §2.3.4

// A DNS host name of letter-digit-hyphen labels that also fits the subject CN. Nothing else
// is accepted, so the name can be embedded in an extension configuration string safely.
bool validHostname(std::string_view name) {
  if (name.empty() || name.size() > kMaxCommonName) {
    return false;
  }
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') {
        return false;
      }
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (c != '-' || label == 0)) {
      return false;
    }
    if (++label > kMaxLabel) {
      return false;
    }
  }
  return label > 0 && name.back() != '-';
}

// Builds and signs the certificate; null on failure with the reason on the OpenSSL error queue.
X509Ptr makeCertificate(EVP_PKEY* key, const std::string& hostname) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return nullptr;
  }
  // 128 random bits with the top bit forced on: never zero, always 16 octets (+ sign octet).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return nullptr;
  }
  serial[0] |= 0x80;
  BnPtr serial_bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!serial_bn ||
      BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return nullptr;
  }
  time_t now = std::time(nullptr);
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kBackdateSeconds, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidityDays, -kBackdateSeconds, &now) ==
          nullptr) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return nullptr;
  }
  X509V3_CTX v3{};
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + hostname;
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san.c_str()},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& [nid, value] : extensions) {
    ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &v3, nid, value));
    if (!extension || X509_add_ext(cert.get(), extension.get(), -1) != 1) {
      return nullptr;
    }
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return nullptr;
  }
  return cert;
}

std::string_view memContents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string_view(data, static_cast<size_t>(size)) : std::string_view();
}

std::string systemError(const std::string& what, const fs::path& path, int code) {
  return "tls: " + what + " " + path.string() + ": " + std::generic_category().message(code);
}

// Replaces `path` atomically: a temporary file in the same directory (created 0600 by
// mkostemp, then set to `mode`), written, fsynced, renamed over `path`, directory fsynced.
bool writeFileAtomically(const fs::path& path, std::string_view data, mode_t mode,
                         std::string& error) {
  std::string temp = path.string() + ".tmp.XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    error = systemError("cannot create a temporary file for", path, errno);
    return false;
  }
  auto fail = [&](const char* what, int code) {
    close(fd);
    unlink(temp.c_str());
    error = systemError(what, path, code);
    return false;
  };
  if (fchmod(fd, mode) != 0) {
    return fail("cannot set the mode of", errno);
  }
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write", errno);
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  if (fsync(fd) != 0) {
    return fail("cannot fsync", errno);
  }
  if (close(fd) != 0) {
    const int code = errno;
    unlink(temp.c_str());
    error = systemError("cannot close", path, code);
    return false;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int code = errno;
    unlink(temp.c_str());
    error = systemError("cannot rename a temporary file to", path, code);
    return false;
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    error = systemError("cannot open directory", dir, errno);
    return false;
  }
  const int synced = fsync(dir_fd);
  const int code = errno;
  close(dir_fd);
  if (synced != 0) {
    error = systemError("cannot fsync directory", dir, code);
    return false;
  }
  return true;
}

}  // namespace

bool ensureSelfSigned(const std::string& cert_file, const std::string& key_file,
                      const std::string& hostname, std::string& error) {
  const fs::path cert_path(cert_file);
  const fs::path key_path(key_file);
  std::error_code ec;
  const bool have_cert = fs::exists(cert_path, ec);
  if (ec) {
    error = "tls: cannot check " + cert_file + ": " + ec.message();
    return false;
  }
  const bool have_key = fs::exists(key_path, ec);
  if (ec) {
    error = "tls: cannot check " + key_file + ": " + ec.message();
    return false;
  }
  if (have_cert && have_key) {
    return true;
  }
  if (cert_path.lexically_normal() == key_path.lexically_normal()) {
    error = "tls: certificate and key must be separate files, both are " + cert_file;
    return false;
  }
  if (!validHostname(hostname)) {
    error = "tls: cannot make a certificate for '" + hostname +
            "': not a host name of at most 64 characters";
    return false;
  }
  for (const fs::path* path : {&cert_path, &key_path}) {
    if (path->has_parent_path()) {
      fs::create_directories(path->parent_path(), ec);
      if (ec) {
        error =
            "tls: cannot create directory " + path->parent_path().string() + ": " + ec.message();
        return false;
      }
    }
  }
  ERR_clear_error();
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    error = "tls: cannot generate a P-256 key: " + detail::takeErrors("unknown error");
    return false;
  }
  X509Ptr cert = makeCertificate(key.get(), hostname);
  if (!cert) {
    error = "tls: cannot create a certificate for " + hostname + ": " +
            detail::takeErrors("unknown error");
    return false;
  }
  // Memory BIOs wipe their buffer when freed, so the PEM key does not linger on the heap.
  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (!key_pem || !cert_pem ||
      PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1) {
    error = "tls: cannot encode the key and certificate: " + detail::takeErrors("unknown error");
    return false;
  }
  return writeFileAtomically(key_path, memContents(key_pem.get()), 0600, error) &&
         writeFileAtomically(cert_path, memContents(cert_pem.get()), 0644, error);
}

}  // namespace mxgate::tls
