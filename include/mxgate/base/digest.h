// Lower-case hex and SHA-256 (FIPS 180-4, OpenSSL's EVP) of bytes: attachment checksums in
// payloads, event ids, random tokens and the keys of disabled-endpoint records; HMAC-SHA256
// for credential hashes. Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::base {

std::string hexLower(std::string_view bytes);
std::string sha256Hex(std::string_view bytes);
// HMAC-SHA256 (RFC 2104) of data under key: 32 raw bytes.
std::string hmacSha256(std::string_view key, std::string_view data);

}  // namespace mxgate::base
