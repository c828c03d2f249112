// Loading (and first-run creation) of the link signing key file; see
// include/mxgate/links/key_file.h. Main thread.
#include "mxgate/links/key_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mxgate/base/base64.h"
#include "mxgate/base/log.h"
#include "mxgate/base/secret_file.h"

namespace mxgate::links {
namespace {

constexpr size_t kMinSecretBytes = 32;

}  // namespace

std::shared_ptr<const KeyRing> loadKeyFile(const std::string& path, bool create, std::string& error) {
  if (create && !std::filesystem::exists(path)) {
    const std::string secret = base::randomBytes(kMinSecretBytes);
    if (secret.size() != kMinSecretBytes ||
        !base::writeSecretFile(path, "# link signing keys, newest first: <key id> <base64 secret>\nk1 " +
                                         base64::encode(secret) + "\n", error)) {
      error = "cannot create the link key file " + path;
      return nullptr;
    }
    log::info("-", "link_keys_created").kv("path", path);
  }
  std::ifstream in(path);
  if (!in) {
    error = "cannot read the link key file " + path;
    return nullptr;
  }
  auto ring = std::make_shared<KeyRing>();
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string id;
    std::string encoded;
    std::string extra;
    fields >> id >> encoded >> extra;
    const std::optional<std::string> secret = base64::decode(encoded);
    const std::string where = path + ":" + std::to_string(number) + ": ";
    if (!validKeyId(id) || !extra.empty()) {
      error = where + "expected \"<key id> <base64 secret>\" with a key id of 1 to 16 of A-Z a-z 0-9 _ -";
      return nullptr;
    }
    if (!secret || secret->size() < kMinSecretBytes) {
      error = where + "the secret must be the base64 of at least 32 bytes";
      return nullptr;
    }
    if (ring->find(id) != nullptr) {
      error = where + "key id " + id + " appears twice";
      return nullptr;
    }
    ring->keys.push_back(Key{id, *secret});
  }
  if (ring->keys.empty()) {
    error = path + ": no keys";
    return nullptr;
  }
  return ring;
}

}  // namespace mxgate::links
