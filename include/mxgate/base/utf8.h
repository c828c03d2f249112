// UTF-8 validation (RFC 3629): rejects overlong forms, surrogates, code points above
// U+10FFFF and truncated sequences. Used for SMTPUTF8 addresses (RFC 6531), command lines and
// configuration files. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace mxgate::utf8 {

// Length in bytes of the well-formed sequence starting at text[pos] (1 for ASCII), or 0 when
// the bytes there are not well-formed UTF-8. Requires pos < text.size().
size_t sequenceLength(std::string_view text, size_t pos);

// Number of leading bytes of text that are well-formed UTF-8.
size_t validPrefix(std::string_view text);

inline bool isWellFormed(std::string_view text) { return validPrefix(text) == text.size(); }

}  // namespace mxgate::utf8
