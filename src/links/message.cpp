// Whole-message link rewriting with GMime 3: the leaf text/html and text/plain parts of the
// message (RFC 2045/2046; not inside attached message/rfc822 parts, not Content-Disposition:
// attachment per RFC 2183) are decoded to UTF-8, rewritten, and encoded back into their own
// charset and transfer encoding (7bit/8bit text with lines over 998 octets, RFC 5322 §2.1.1,
// becomes quoted-printable). List-Unsubscribe targets (RFC 2369) are never rewritten.
// Untouched parts and headers are written back byte for byte (CRLF format).
// Pure; any thread once mime::initialize() ran (runs on the webhook payload lane).
#include <gmime/gmime.h>

#include <algorithm>
#include <memory>

#include "body_rewriters.h"
#include "charset.h"
#include "mxgate/base/ascii.h"
#include "mxgate/mime/gmime.h"
#include "mxgate/mime/message.h"

namespace mxgate::links {
namespace {

constexpr size_t kMaxLineOctets = 998;

using mime::GObjectPtr;

struct BodyParts {
  std::vector<GMimePart*> html;
  std::vector<GMimePart*> text;
};

// The leaf text parts in document order, without recursion; attached messages, attachments
// and the contents of multipart/signed and multipart/encrypted (RFC 1847: S/MIME and PGP/MIME,
// whose signatures a rewrite would break) are left out.
BodyParts bodyParts(GMimeMessage* message) {
  BodyParts parts;
  std::vector<GMimeObject*> stack;
  if (GMimeObject* root = g_mime_message_get_mime_part(message)) {
    stack.push_back(root);
  }
  while (!stack.empty()) {
    GMimeObject* object = stack.back();
    stack.pop_back();
    if (GMIME_IS_MULTIPART_SIGNED(object) || GMIME_IS_MULTIPART_ENCRYPTED(object)) {
      continue;
    }
    if (GMIME_IS_MULTIPART(object)) {
      auto* multipart = GMIME_MULTIPART(object);
      for (int i = g_mime_multipart_get_count(multipart); i > 0; --i) {
        if (GMimeObject* child = g_mime_multipart_get_part(multipart, i - 1)) {
          stack.push_back(child);
        }
      }
      continue;
    }
    if (!GMIME_IS_PART(object)) {
      continue;  // message/rfc822 and other containers are not ours to change
    }
    const char* disposition = g_mime_object_get_disposition(object);
    if (disposition != nullptr && ascii::equalsIgnoreCase(disposition, "attachment")) {
      continue;
    }
    GMimeContentType* type = g_mime_object_get_content_type(object);
    if (type == nullptr) {
      continue;
    }
    if (g_mime_content_type_is_type(type, "text", "html")) {
      parts.html.push_back(GMIME_PART(object));
    } else if (g_mime_content_type_is_type(type, "text", "plain")) {
      parts.text.push_back(GMIME_PART(object));
    }
  }
  return parts;
}

std::vector<std::string> unsubscribeTargets(GMimeMessage* message) {
  std::vector<std::string> urls;
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(message));
  const int count = headers == nullptr ? 0 : g_mime_header_list_get_count(headers);
  for (int i = 0; i < count; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(headers, i);
    const char* name = header == nullptr ? nullptr : g_mime_header_get_name(header);
    const char* value = header == nullptr ? nullptr : g_mime_header_get_value(header);
    if (name != nullptr && value != nullptr && ascii::equalsIgnoreCase(name, "List-Unsubscribe")) {
      for (std::string& url : listUnsubscribeUrls(value)) {
        urls.push_back(std::move(url));
      }
    }
  }
  return urls;
}

bool hasLongLine(std::string_view bytes) {
  size_t start = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) {
      end = bytes.size();
    }
    size_t length = end - start;
    if (length > 0 && end < bytes.size() && bytes[end - 1] == '\r') {
      --length;
    }
    if (length > kMaxLineOctets) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Rewrites one part in place. Returns false, with the part and next_index as they were, when
// nothing changed or the new text has no exact form in the part's charset.
bool rewritePart(GMimePart* part, bool html, detail::LinkPolicy& policy, uint32_t& next_index,
                 std::vector<std::string>* no_track_urls) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) {
    return false;
  }
  GObjectPtr<GMimeStream> decoded(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, decoded.get()) < 0) {
    return false;
  }
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded.get()));
  const std::string_view raw(reinterpret_cast<const char*>(bytes->data), bytes->len);
  const auto text = detail::decodeText(raw, g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset"));
  if (!text) {
    return false;
  }
  const uint32_t first_index = next_index;
  std::string rewritten;
  const bool changed = html ? detail::rewriteHtmlInto(text->text, policy, rewritten, no_track_urls)
                            : detail::rewriteTextInto(text->text, policy, rewritten);
  if (!changed) {
    return false;
  }
  const auto encoded = detail::fromUtf8(rewritten, text->charset);
  if (!encoded) {
    next_index = first_index;
    return false;
  }
  const GMimeContentEncoding encoding = g_mime_part_get_content_encoding(part);
  const bool line_limited = encoding == GMIME_CONTENT_ENCODING_DEFAULT || encoding == GMIME_CONTENT_ENCODING_7BIT ||
                            encoding == GMIME_CONTENT_ENCODING_8BIT;
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(encoded->data(), encoded->size()));
  GObjectPtr<GMimeDataWrapper> wrapper(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, wrapper.get());
  if (line_limited && hasLongLine(*encoded)) {
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  }
  return true;
}

}  // namespace

Result rewriteMessage(std::string_view message, std::string_view queue_id, const Settings& settings) {
  Result result;
  if (settings.mode == Mode::Off || settings.key == nullptr) {
    return result;
  }
  mime::initialize();
  GObjectPtr<GMimeStream> input(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(input.get()));
  GObjectPtr<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!parsed) {
    return result;
  }

  std::vector<std::string> skip_urls = unsubscribeTargets(parsed.get());
  const BodyParts parts = bodyParts(parsed.get());
  uint32_t next_index = 1;
  bool changed = false;
  std::vector<std::string> no_track_urls;
  {
    detail::LinkPolicy policy(queue_id, settings, skip_urls, next_index);
    for (GMimePart* part : parts.html) {
      changed = rewritePart(part, true, policy, next_index, &no_track_urls) || changed;
    }
  }
  if (settings.rewrite_text && !parts.text.empty()) {
    skip_urls.insert(skip_urls.end(), std::make_move_iterator(no_track_urls.begin()),
                     std::make_move_iterator(no_track_urls.end()));
    detail::LinkPolicy policy(queue_id, settings, skip_urls, next_index);
    for (GMimePart* part : parts.text) {
      changed = rewritePart(part, false, policy, next_index, nullptr) || changed;
    }
  }
  if (!changed) {
    return result;
  }

  GObjectPtr<GMimeStream> output(g_mime_stream_mem_new_with_byte_array(g_byte_array_sized_new(
      static_cast<guint>(std::min<size_t>(message.size() + message.size() / 4, G_MAXUINT)))));
  if (g_mime_object_write_to_stream(GMIME_OBJECT(parsed.get()), mime::dosFormat(), output.get()) < 0) {
    return result;
  }
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(output.get()));
  result.message.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
  result.rewritten = next_index - 1;
  result.changed = true;
  return result;
}

}  // namespace mxgate::links
