// UTF-8 validation (see include/mxgate/base/utf8.h). RFC 3629 §4 table of well-formed byte
// sequences. Pure; any thread.
#include "mxgate/base/utf8.h"

namespace mxgate::utf8 {

size_t sequenceLength(std::string_view text, size_t pos) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(text[pos + k]); };
  const unsigned char lead = at(0);
  if (lead < 0x80) {
    return 1;
  }
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) {
      second_min = 0xA0;  // overlong
    } else if (lead == 0xED) {
      second_max = 0x9F;  // surrogates
    }
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) {
      second_min = 0x90;  // overlong
    } else if (lead == 0xF4) {
      second_max = 0x8F;  // above U+10FFFF
    }
  } else {
    return 0;
  }
  if (text.size() - pos < length || at(1) < second_min || at(1) > second_max) {
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if ((at(k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return length;
}

size_t validPrefix(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t length = sequenceLength(text, pos);
    if (length == 0) {
      return pos;
    }
    pos += length;
  }
  return pos;
}

}  // namespace mxgate::utf8
