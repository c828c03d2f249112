// Lower-case hex and SHA-256 (FIPS 180-4, OpenSSL's EVP) of bytes: attachment checksums in
// payloads, event ids, random tokens and the keys of disabled-endpoint records. Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::base {

std::string hexLower(std::string_view bytes);
std::string sha256Hex(std::string_view bytes);

}  // namespace mxgate::base
