// Files holding secrets (the admin token, link signing keys): written whole to a temporary
// file with mode 0600, fsync'd and renamed into place, so a crash leaves the old file or the
// new one, never half of one. Blocking; used at start-up on the main thread.
#pragma once

#include <string>

namespace mxgate::base {

// Creates the parent directory if needed. False with the reason in error.
bool writeSecretFile(const std::string& path, const std::string& content, std::string& error);
// count random bytes from OpenSSL's CSPRNG, or "" when it fails.
std::string randomBytes(size_t count);
// The same as lower-case hex.
std::string randomHex(size_t count);

}  // namespace mxgate::base
