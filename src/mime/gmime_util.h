// Small helpers around GMime 3 / GLib for the MIME parser: owning pointers for GObjects and
// g_malloc'd strings, UTF-8 repair (RFC 3629) of library output, and the lower-case
// "type/subtype" of a part (RFC 2045 §5.1: type and subtype are case-insensitive).
// Pure; any thread once mime::initialize() ran.
#pragma once

#include <gmime/gmime.h>

#include <memory>
#include <string>
#include <string_view>

namespace mxgate::mime::detail {

struct GObjectUnref {
  void operator()(gpointer object) const { g_object_unref(object); }
};
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer memory) const { g_free(memory); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

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

// Shared CRLF format options for serializing (never modified after creation).
GMimeFormatOptions* dosFormat();

}  // namespace mxgate::mime::detail
