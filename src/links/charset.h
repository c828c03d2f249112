// Charset conversion of MIME text parts (RFC 2046 §4.1.2 charset parameter) to UTF-8 and back,
// strict in both directions: a conversion that would lose or alter a byte fails instead.
// UTF-8, US-ASCII and ISO-8859-1 are converted here; other charsets through GMime's iconv
// names. Private to the links component; pure, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxgate::links::detail {

// The charset a part's text is converted through, with the bytes decoded to UTF-8.
struct DecodedText {
  std::string charset;  // what fromUtf8 gets to restore the part's bytes
  std::string text;     // UTF-8
};

// Decodes a part's bytes. Without a charset parameter, valid UTF-8 is taken as UTF-8. When the
// charset is missing, unknown or does not match the bytes, the text goes through ISO-8859-1,
// which maps every byte to one code point and back (the inserted links are ASCII), unless the
// charset is a UTF-16/UTF-32 form (then nullopt: ASCII cannot be inserted into those bytes).
std::optional<DecodedText> decodeText(std::string_view bytes, const char* charset);

// Encodes UTF-8 text into charset (as returned in DecodedText); nullopt when some character has
// no exact representation.
std::optional<std::string> fromUtf8(std::string_view text, const std::string& charset);

}  // namespace mxgate::links::detail
