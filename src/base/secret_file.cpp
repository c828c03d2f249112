// Durable, private secret files (see include/mxgate/base/secret_file.h). Main thread.
#include "mxgate/base/secret_file.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mxgate/base/digest.h"
#include "mxgate/base/log.h"

namespace mxgate::base {

bool writeSecretFile(const std::string& path, const std::string& content, std::string& error) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path;
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

std::string randomBytes(size_t count) {
  std::string random(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), static_cast<int>(random.size())) != 1) {
    return "";
  }
  return random;
}

std::string randomHex(size_t count) { return hexLower(randomBytes(count)); }

bool ensureSecretFile(const std::string& path, std::string_view what, std::string& secret, std::string& error) {
  std::ifstream in(path);
  if (in) {
    std::getline(in, secret);
    if (secret.size() >= 32) {
      return true;
    }
    error = std::string(what) + " file " + path + " holds fewer than 32 characters";
    return false;
  }
  secret = randomHex(32);
  if (secret.empty()) {
    error = "cannot generate the " + std::string(what);
    return false;
  }
  if (!writeSecretFile(path, secret + "\n", error)) {
    error = "cannot write " + std::string(what) + " file " + path;
    return false;
  }
  log::info("-", "secret_file_created").kv("what", what).kv("path", path);
  return true;
}

}  // namespace mxgate::base
