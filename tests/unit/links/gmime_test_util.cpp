// GMime helpers for the links unit tests; see gmime_test_util.h. Test-only; single thread.
#include "gmime_test_util.h"

#include <gmime/gmime.h>

#include <memory>

#include "mxgate/base/ascii.h"
#include "mxgate/mime/message.h"

namespace mxgate::links::test {
namespace {

struct Unref {
  void operator()(void* object) const { g_object_unref(object); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Unref>;

Ptr<GMimeMessage> parse(std::string_view text) {
  mime::initialize();
  Ptr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
  Ptr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return Ptr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}

std::string typeOf(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) {
    return "?";
  }
  const char* media = g_mime_content_type_get_media_type(type);
  const char* sub = g_mime_content_type_get_media_subtype(type);
  return ascii::toLowerCopy(std::string(media ? media : "") + "/" + (sub ? sub : ""));
}

std::string tree(GMimeObject* object) {
  if (object == nullptr) {
    return "-";
  }
  std::string out = typeOf(object);
  if (GMIME_IS_MULTIPART(object)) {
    auto* multipart = GMIME_MULTIPART(object);
    out += "(";
    for (int i = 0; i < g_mime_multipart_get_count(multipart); ++i) {
      out += (i ? "," : "") + tree(g_mime_multipart_get_part(multipart, i));
    }
    out += ")";
  } else if (GMIME_IS_MESSAGE_PART(object)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    out += "[" + (inner ? tree(g_mime_message_get_mime_part(inner)) : std::string("-")) + "]";
  }
  return out;
}

void collect(GMimeObject* object, std::vector<LeafPart>& parts) {
  if (GMIME_IS_MULTIPART(object)) {
    auto* multipart = GMIME_MULTIPART(object);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); ++i) {
      collect(g_mime_multipart_get_part(multipart, i), parts);
    }
    return;
  }
  LeafPart leaf;
  leaf.content_type = typeOf(object);
  const char* charset = g_mime_object_get_content_type_parameter(object, "charset");
  leaf.charset = charset ? charset : "";
  if (GMIME_IS_PART(object)) {
    GMimePart* part = GMIME_PART(object);
    const char* encoding = g_mime_content_encoding_to_string(g_mime_part_get_content_encoding(part));
    leaf.encoding = encoding ? encoding : "";
    if (GMimeDataWrapper* content = g_mime_part_get_content(part)) {
      Ptr<GMimeStream> out(g_mime_stream_mem_new());
      g_mime_data_wrapper_write_to_stream(content, out.get());
      const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
      leaf.decoded.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
    }
  }
  parts.push_back(std::move(leaf));
}

}  // namespace

bool parses(std::string_view message) { return parse(message) != nullptr; }

std::string roundTrip(std::string_view message) {
  auto parsed = parse(message);
  if (!parsed) {
    return "";
  }
  GMimeFormatOptions* format = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
  char* text = g_mime_object_to_string(GMIME_OBJECT(parsed.get()), format);
  g_mime_format_options_free(format);
  std::string out = text ? text : "";
  g_free(text);
  return out;
}

std::string partTree(std::string_view message) {
  auto parsed = parse(message);
  return parsed ? tree(g_mime_message_get_mime_part(parsed.get())) : "";
}

std::vector<LeafPart> leafParts(std::string_view message) {
  std::vector<LeafPart> parts;
  auto parsed = parse(message);
  if (parsed && g_mime_message_get_mime_part(parsed.get()) != nullptr) {
    collect(g_mime_message_get_mime_part(parsed.get()), parts);
  }
  return parts;
}

std::string headerSection(std::string_view message) {
  const size_t end = message.find("\r\n\r\n");
  return std::string(message.substr(0, end == std::string_view::npos ? message.size() : end + 4));
}

}  // namespace mxgate::links::test
