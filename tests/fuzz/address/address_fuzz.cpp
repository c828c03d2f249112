// libFuzzer target for envelope addresses (RFC 5321 §4.1.2, §4.1.3, §4.5.3.1; RFC 6531 §3.3;
// RFC 3629): parseMailbox with and without UTF-8; an accepted address must print (str()) to a
// form that parses back to the same Address. utf8::isWellFormed is checked against a slow
// code-point decoder. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"
#include "mxgate/mail/address.h"

namespace {

using namespace mxgate::mail;
namespace ascii = mxgate::ascii;
namespace utf8 = mxgate::utf8;

// Reference UTF-8 check by decoding code points (RFC 3629 §3-4).
bool referenceUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t cp = 0;
    if (lead < 0x80) {
      length = 1;
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (utf8::isWellFormed(input) != referenceUtf8(input)) {
    __builtin_trap();
  }
  for (bool allow_utf8 : {false, true}) {
    Address address;
    const AddressError err = parseMailbox(input, allow_utf8, address);
    if (err != AddressError::None) {
      continue;
    }
    Address again;
    if (parseMailbox(address.str(), allow_utf8, again) != AddressError::None || again.local != address.local ||
        again.domain != address.domain) {
      __builtin_trap();
    }
    if (address.isNull() || address.local.size() > 64 || address.domain.size() > 255 ||
        (!allow_utf8 && address.isUtf8()) || !utf8::isWellFormed(address.str()) ||
        !isValidDomain(address.domain, allow_utf8) || ascii::toLowerCopy(address.domain) != address.domain ||
        address.str().size() != input.size()) {
      __builtin_trap();
    }
  }
  isValidDomain(input, false);
  isValidDomain(input, true);
  return 0;
}
