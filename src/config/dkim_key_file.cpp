// DKIM private key files (see dkim_key_file.h): checked with stat(2) and parsed with OpenSSL,
// so that a key that cannot sign is a configuration error with file, line and key, not a
// failure at delivery time. Runs where the configuration loads.
#include "dkim_key_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace mxgate::config {
namespace {

constexpr size_t kMaxKeyFile = 64 * 1024;
constexpr mode_t kPrivateModeMask = S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;

// An encrypted key would otherwise make OpenSSL prompt for a passphrase on the terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

std::string_view algorithmName(DkimAlgorithm algorithm) {
  return algorithm == DkimAlgorithm::RsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

// The content of the open key file at fd, after checking its type, mode and size.
std::string readOpenKeyFile(int fd, const std::string& quoted, std::string& content) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return fmt::format("cannot read {}: {}", quoted, std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return fmt::format("{} is not a regular file", quoted);
  }
  if ((info.st_mode & kPrivateModeMask) != 0) {
    return fmt::format("{} has mode {:04o}: a private key must not be readable or writable by group or others "
                       "(chmod 600)",
                       quoted, info.st_mode & 07777);
  }
  if (static_cast<size_t>(info.st_size) > kMaxKeyFile) {
    return fmt::format("{} is larger than {} bytes: not a DKIM key", quoted, kMaxKeyFile);
  }
  content.assign(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::read(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fmt::format("cannot read {}: {}", quoted, n < 0 ? std::strerror(errno) : "the file shrank while read");
    }
    done += static_cast<size_t>(n);
  }
  return "";
}

}  // namespace

std::string loadDkimKeyFile(DkimKey& key) {
  const std::string quoted = fmt::format("\"{}\"", key.key_file);
  const int fd = ::open(key.key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return fmt::format("cannot read {}: {}", quoted, std::strerror(errno));
  }
  std::string pem;
  const std::string error = readOpenKeyFile(fd, quoted, pem);
  ::close(fd);
  if (!error.empty()) {
    return error;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr, EVP_PKEY_free);
  if (!pkey) {
    return fmt::format("{} is not a PEM private key (keys with a passphrase are not supported)", quoted);
  }
  const int type = EVP_PKEY_get_base_id(pkey.get());
  const int wanted = key.algorithm == DkimAlgorithm::RsaSha256 ? EVP_PKEY_RSA : EVP_PKEY_ED25519;
  if (type != wanted) {
    const char* held = type == EVP_PKEY_RSA ? "an RSA" : type == EVP_PKEY_ED25519 ? "an Ed25519" : "another kind of";
    return fmt::format("{} holds {} key, not one for algorithm \"{}\"", quoted, held, algorithmName(key.algorithm));
  }
  if (type == EVP_PKEY_RSA) {
    const int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < static_cast<int>(kMinRsaBits) || bits > static_cast<int>(kMaxRsaBits)) {
      return fmt::format("{} is a {}-bit RSA key: DKIM keys must have {} to {} bits (RFC 8301)", quoted, bits,
                         kMinRsaBits, kMaxRsaBits);
    }
  }
  key.private_key = std::make_shared<const std::string>(std::move(pem));
  return "";
}

}  // namespace mxgate::config
