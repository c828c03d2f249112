// Small helpers around GMime 3 / GLib for the MIME parser (owning pointers: mxgate/mime/gmime.h):
// UTF-8 repair (RFC 3629) of library output, and the lower-case
// "type/subtype" of a part (RFC 2045 §5.1: type and subtype are case-insensitive).
// Pure; any thread once mime::initialize() ran.
#pragma once

#include <gmime/gmime.h>

#include <string>
#include <string_view>

#include "mxgate/mime/gmime.h"

namespace mxgate::mime::detail {

using mime::GCharPtr;
using mime::GObjectPtr;

// The text as well-formed UTF-8: unchanged when it already is, otherwise every malformed
// sequence replaced by U+FFFD. nullptr gives "".
std::string validUtf8(std::string_view text);
std::string validUtf8(const char* text);

// "type/subtype" in lower case; "text/plain" when the object has no content type (RFC 2045 §5.2).
std::string mimeType(GMimeObject* object);

// The part's file name: Content-Disposition "filename", else Content-Type "name" (RFC 2183 §2.3,
// RFC 2231 and RFC 2047 decoding done by GMime), as g_mime_part_get_filename does but for any
// object, message/rfc822 parts included; nullptr when it has none.
const char* filenameOf(GMimeObject* object);

}  // namespace mxgate::mime::detail
