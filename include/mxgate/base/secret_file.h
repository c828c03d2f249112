// Files holding secrets (the admin token, link signing keys): written whole to a temporary
// file with mode 0600, fsync'd and renamed into place, so a crash leaves the old file or the
// new one, never half of one. Blocking; used at start-up on the main thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::base {

// Creates the parent directory if needed. False with the reason in error.
bool writeSecretFile(const std::string& path, const std::string& content, std::string& error);
// count random bytes from OpenSSL's CSPRNG, or "" when it fails.
std::string randomBytes(size_t count);
// The same as lower-case hex.
std::string randomHex(size_t count);
// A secret kept in a file (the admin token, the credential key): the file's first line, which
// must hold at least 32 characters; a missing file is created with 32 random bytes in hex.
// what names the secret in errors and in the log line of a creation. False with the reason.
bool ensureSecretFile(const std::string& path, std::string_view what, std::string& secret, std::string& error);

}  // namespace mxgate::base
