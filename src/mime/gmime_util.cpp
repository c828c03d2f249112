// Helpers around GMime 3 / GLib for the MIME parser (see gmime_util.h): UTF-8 repair
// (RFC 3629), lower-case media types (RFC 2045 §5.1), file names (RFC 2183 §2.3) and the shared
// CRLF format options. Pure; any thread once mime::initialize() ran.
#include "gmime_util.h"

#include <cstring>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::mime::detail {

std::string validUtf8(std::string_view text) {
  // GLib's validator is the fast path; it refuses NUL bytes, which the loop below keeps.
  if (g_utf8_validate_len(text.data(), text.size(), nullptr)) {
    return std::string(text);
  }
  const size_t valid = utf8::validPrefix(text);
  std::string out(text.substr(0, valid));
  for (size_t pos = valid; pos < text.size();) {
    const size_t length = utf8::sequenceLength(text, pos);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER for one malformed byte
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

std::string validUtf8(const char* text) {
  return text == nullptr ? std::string() : validUtf8(std::string_view(text));
}

std::string mimeType(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  const char* media = type == nullptr ? nullptr : g_mime_content_type_get_media_type(type);
  const char* subtype = type == nullptr ? nullptr : g_mime_content_type_get_media_subtype(type);
  if (media == nullptr || subtype == nullptr) {
    return "text/plain";
  }
  std::string out;
  out.reserve(std::strlen(media) + std::strlen(subtype) + 1);
  out.append(media).append(1, '/').append(subtype);
  for (char& c : out) {
    c = ascii::toLower(c);
  }
  return out;
}

const char* filenameOf(GMimeObject* object) {
  const char* name = g_mime_object_get_content_disposition_parameter(object, "filename");
  return name != nullptr ? name : g_mime_object_get_content_type_parameter(object, "name");
}

}  // namespace mxgate::mime::detail

namespace mxgate::mime {

GMimeFormatOptions* dosFormat() {
  static GMimeFormatOptions* const options = [] {
    GMimeFormatOptions* created = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(created, GMIME_NEWLINE_FORMAT_DOS);
    return created;
  }();
  return options;
}

}  // namespace mxgate::mime
