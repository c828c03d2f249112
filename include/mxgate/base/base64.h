// Base64 (RFC 4648 §4) and base64url (RFC 4648 §5) encoding and decoding, shared by the
// webhook signatures, the payload's inline attachments and the signed links.
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxgate::base64 {

enum class Alphabet { Standard, Url };

// Standard: with '=' padding. Url: without padding.
std::string encode(std::string_view bytes, Alphabet alphabet = Alphabet::Standard);
// Padding is optional in both alphabets (but must be correct when present). nullopt on any
// character outside the alphabet (no white space), on a length that cannot be base64, or on
// non-zero trailing bits.
std::optional<std::string> decode(std::string_view text, Alphabet alphabet = Alphabet::Standard);

}  // namespace mxgate::base64
