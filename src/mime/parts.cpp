// The part-tree walk of mime::parse (see parts.h). RFC 2046 §5.1.3/§5.1.4: inline text/plain
// and text/html leaves are the bodies; inside a multipart/alternative each kind comes from
// one alternative only (the first that has it), the other alternatives' leaves become
// attachments. RFC 2183: a text part with a file name or "attachment" disposition is an
// attachment. RFC 2045 §6 transfer decoding and the charset conversion to UTF-8 are GMime's
// (data wrappers, GMimeFilterCharset); 8-bit text in an unknown or wrong charset falls back to
// GMime's UTF-8 / ISO-8859-1 guess. RFC 3462/3464: multipart/report with
// report-type=delivery-status or a message/delivery-status part marks a bounce.
//
// The walk uses an explicit stack (no recursion), so the depth of the input only costs heap
// space bounded by the part count GMime built. Pure; any thread once mime::initialize() ran.
#include "parts.h"

#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gmime_util.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/digest.h"
#include "mxgate/base/utf8.h"

namespace mxgate::mime::detail {
namespace {

enum Kind { kText = 0, kHtml = 1 };

constexpr int kEachChild = -2;  // pushChildren: each child is its own alternative

// A multipart/alternative outside embedded messages, and which child supplied each body kind.
struct Alternative {
  int parent = -1;        // enclosing alternative (index into the walker's list), -1 for none
  int parent_child = -1;  // which child of the enclosing alternative holds this one
  std::array<int, 2> claimed{-1, -1};  // child index that supplied text / html, -1 for none yet
};

struct Frame {
  GMimeObject* object = nullptr;  // nullptr: closes the parenthesis of a container
  size_t depth = 0;
  int alternative = -1;  // nearest enclosing alternative
  int child = -1;        // which child of that alternative this part lies in
  bool embedded = false;  // inside a message/rfc822 part: structure only
  bool skipped = false;   // beyond the limits: counted only
};

std::string_view bytesOf(GMimeStream* stream) {
  const GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  if (array == nullptr) {
    return {};
  }
  return std::string_view(reinterpret_cast<const char*>(array->data), array->len);
}

bool isUnicodeOrAscii(const char* charset) {
  const char* canonical = g_mime_charset_canon_name(charset);
  return canonical == nullptr || ascii::equalsIgnoreCase(canonical, "utf-8") ||
         ascii::equalsIgnoreCase(canonical, "us-ascii") || ascii::equalsIgnoreCase(canonical, "ascii") ||
         ascii::equalsIgnoreCase(canonical, "ansi_x3.4-1968");
}

// The part's text, transfer-decoded and converted to UTF-8.
std::string textOf(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) {
    return {};
  }
  const GObjectPtr<GMimeStream> memory(g_mime_stream_mem_new());
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  GMimeFilter* filter =
      charset == nullptr || isUnicodeOrAscii(charset) ? nullptr : g_mime_filter_charset_new(charset, "utf-8");
  if (filter != nullptr) {
    const GObjectPtr<GMimeStream> filtered(g_mime_stream_filter_new(memory.get()));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), filter);
    g_object_unref(filter);
    g_mime_data_wrapper_write_to_stream(content, filtered.get());
    g_mime_stream_flush(filtered.get());
  } else {
    g_mime_data_wrapper_write_to_stream(content, memory.get());
  }
  const std::string_view bytes = bytesOf(memory.get());
  if (g_utf8_validate_len(bytes.data(), bytes.size(), nullptr) || utf8::isWellFormed(bytes)) {
    return std::string(bytes);
  }
  // Undeclared, mislabelled or unknown charset: GMime's fallback charsets (UTF-8, then
  // ISO-8859-1, which accepts any byte).
  const GCharPtr decoded(g_mime_utils_decode_8bit(nullptr, bytes.data(), bytes.size()));
  return validUtf8(decoded.get());
}

bool hasFilename(GMimeObject* object) {
  const char* name = filenameOf(object);
  return name != nullptr && *name != '\0';
}

bool isAttachmentDisposition(GMimeObject* object) {
  const char* disposition = g_mime_object_get_disposition(object);
  return disposition != nullptr && ascii::equalsIgnoreCase(disposition, "attachment");
}

// The longest prefix of UTF-8 text not over max bytes that ends on a character boundary.
size_t utf8Cut(std::string_view text, size_t max) {
  if (max >= text.size()) {
    return text.size();
  }
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return cut;
}

class Walker {
 public:
  Walker(const Limits& limits, size_t input_size, Message& out)
      : limits_(limits), out_(out), reparse_budget_(input_size) {}

  void run(GMimeObject* root) {
    stack_.push_back(Frame{root, 0, -1, -1, false, false});
    while (!stack_.empty()) {
      const Frame frame = stack_.back();
      stack_.pop_back();
      if (frame.object == nullptr) {
        closeContainer();
      } else if (frame.skipped || out_.part_count >= limits_.max_parts || frame.depth > limits_.max_depth) {
        ++out_.skipped_parts;
        out_.truncated = true;
        pushChildren(frame, frame.alternative, frame.child, true);
      } else {
        ++out_.part_count;
        visit(frame);
      }
    }
  }

 private:
  void visit(const Frame& frame) {
    GMimeObject* object = frame.object;
    const std::string type = mimeType(object);
    if (!out_.structure.empty() && out_.structure.back() != '(') {
      out_.structure.push_back(',');
    }
    out_.structure.append(type);

    if (GMIME_IS_MULTIPART(object)) {
      int alternative = frame.alternative;
      int child = frame.child;
      if (!frame.embedded && type == "multipart/report") {
        const char* report = g_mime_object_get_content_type_parameter(object, "report-type");
        if (report != nullptr && ascii::equalsIgnoreCase(report, "delivery-status")) {
          out_.is_bounce = true;
        }
      }
      if (!frame.embedded && type == "multipart/alternative") {
        alternatives_.push_back(Alternative{frame.alternative, frame.child, {-1, -1}});
        alternative = static_cast<int>(alternatives_.size() - 1);
        child = kEachChild;
      }
      pushChildren(frame, alternative, child, false);
    } else if (GMIME_IS_MESSAGE_PART(object)) {
      if (!frame.embedded) {
        GMimeMessage* message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        const GObjectPtr<GMimeStream> memory(g_mime_stream_mem_new());
        if (message != nullptr) {
          g_mime_object_write_to_stream(GMIME_OBJECT(message), mime::dosFormat(), memory.get());
        }
        addAttachment(object, type, bytesOf(memory.get()));
      }
      pushChildren(frame, frame.alternative, frame.child, false);
    } else if (GMIME_IS_PART(object)) {
      visitLeaf(frame, GMIME_PART(object), type);
    }
  }

  void visitLeaf(const Frame& frame, GMimePart* part, const std::string& type) {
    GMimeObject* object = GMIME_OBJECT(part);
    const bool message = type == "message/rfc822" || type == "message/global";
    if (frame.embedded && !message) {
      return;
    }
    if (!frame.embedded) {
      if (type == "message/delivery-status") {
        out_.is_bounce = true;
      }
      const bool text = type == "text/plain";
      const bool html = type == "text/html";
      if ((text || html) && !hasFilename(object) && !isAttachmentDisposition(object) &&
          claim(text ? kText : kHtml, frame.alternative, frame.child)) {
        appendBody(text ? kText : kHtml, textOf(part));
        return;
      }
    }
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    const GObjectPtr<GMimeStream> memory(g_mime_stream_mem_new());
    if (content != nullptr) {
      g_mime_data_wrapper_write_to_stream(content, memory.get());
    }
    if (!frame.embedded) {
      addAttachment(object, type, bytesOf(memory.get()));
    }
    if (message) {
      pushEncodedMessage(frame, memory.get());
    }
  }

  // GMime leaves a base64 or quoted-printable message/rfc822 part undecoded (a leaf); its
  // decoded content is parsed here so the structure shows the message inside. The decoded
  // bytes parsed this way stay within the input's size in total (nested encodings cannot
  // multiply the memory).
  void pushEncodedMessage(const Frame& frame, GMimeStream* decoded) {
    const size_t size = bytesOf(decoded).size();
    if (frame.depth >= limits_.max_depth || size > reparse_budget_) {
      ++out_.skipped_parts;
      out_.truncated = true;
      return;
    }
    reparse_budget_ -= size;
    g_mime_stream_seek(decoded, 0, GMIME_STREAM_SEEK_SET);
    const GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(decoded));
    GMimeMessage* message = g_mime_parser_construct_message(parser.get(), nullptr);
    if (message == nullptr) {
      return;
    }
    encoded_messages_.emplace_back(message);
    if (GMimeObject* body = g_mime_message_get_mime_part(message); body != nullptr) {
      out_.structure.push_back('(');
      stack_.push_back(Frame{});
      stack_.push_back(Frame{body, frame.depth + 1, frame.alternative, frame.child, true, false});
    }
  }

  // Pushes the closing marker and the children of a container (multipart or message part).
  void pushChildren(const Frame& frame, int alternative, int child, bool skipped) {
    std::vector<GMimeObject*> children;
    if (GMIME_IS_MULTIPART(frame.object)) {
      GMimeMultipart* multipart = GMIME_MULTIPART(frame.object);
      const int count = g_mime_multipart_get_count(multipart);
      for (int i = 0; i < count; ++i) {
        children.push_back(g_mime_multipart_get_part(multipart, i));
      }
    } else if (GMIME_IS_MESSAGE_PART(frame.object)) {
      GMimeMessage* message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(frame.object));
      GMimeObject* body = message == nullptr ? nullptr : g_mime_message_get_mime_part(message);
      if (body != nullptr) {
        children.push_back(body);
      }
    }
    if (children.empty()) {
      return;
    }
    if (!skipped) {
      out_.structure.push_back('(');
      stack_.push_back(Frame{});
    }
    const bool embedded = frame.embedded || GMIME_IS_MESSAGE_PART(frame.object);
    for (size_t i = children.size(); i-- > 0;) {
      const int index = child == kEachChild ? static_cast<int>(i) : child;
      stack_.push_back(Frame{children[i], frame.depth + 1, alternative, index, embedded, skipped});
    }
  }

  void closeContainer() {
    if (out_.structure.back() == '(') {
      out_.structure.pop_back();  // no child was walked
    } else {
      out_.structure.push_back(')');
    }
  }

  // Whether a body part of this kind may come from this place: every enclosing alternative
  // takes each kind from one of its children only. On success the claims are recorded.
  bool claim(Kind kind, int alternative, int child) {
    for (int at = alternative, from = child; at != -1; from = alternatives_[at].parent_child, at = parentOf(at)) {
      const int claimed = alternatives_[at].claimed[kind];
      if (claimed != -1 && claimed != from) {
        return false;
      }
    }
    for (int at = alternative, from = child; at != -1; from = alternatives_[at].parent_child, at = parentOf(at)) {
      alternatives_[at].claimed[kind] = from;
    }
    return true;
  }

  int parentOf(int alternative) const { return alternatives_[alternative].parent; }

  void appendBody(Kind kind, const std::string& text) {
    std::string& body = kind == kText ? out_.text : out_.html;
    const std::string_view separator = body_parts_[kind]++ > 0 ? "\n" : "";
    const uint64_t room = limits_.max_body_bytes > body.size() ? limits_.max_body_bytes - body.size() : 0;
    if (separator.size() + text.size() <= room) {
      body.append(separator).append(text);
      return;
    }
    out_.truncated = true;
    if (room == 0) {
      return;
    }
    body.append(separator.substr(0, static_cast<size_t>(room)));
    const size_t left = static_cast<size_t>(room) - std::min<size_t>(separator.size(), static_cast<size_t>(room));
    body.append(text, 0, utf8Cut(text, left));
  }

  void addAttachment(GMimeObject* object, const std::string& type, std::string_view content) {
    Attachment attachment;
    attachment.filename = validUtf8(filenameOf(object));
    attachment.content_type = type;
    attachment.content_id = validUtf8(g_mime_object_get_content_id(object));
    const char* disposition = g_mime_object_get_disposition(object);
    if (disposition != nullptr) {
      attachment.disposition = ascii::equalsIgnoreCase(disposition, "inline") ? "inline" : "attachment";
    } else {
      // No Content-Disposition: a part referenced by Content-ID (RFC 2392, e.g. an image in
      // multipart/related) without a file name is shown inline.
      attachment.disposition = !attachment.content_id.empty() && attachment.filename.empty() ? "inline" : "attachment";
    }
    attachment.size = content.size();
    attachment.sha256 = base::sha256Hex(content);
    if (keep_ && content.size() <= limits_.max_kept_attachment_bytes - kept_) {
      attachment.content.assign(content);
      attachment.content_kept = true;
      kept_ += content.size();
    } else {
      keep_ = false;  // not a truncation: size and sha256 stay, content_kept says the rest
    }
    out_.attachments.push_back(std::move(attachment));
  }

  const Limits& limits_;
  Message& out_;
  std::vector<Frame> stack_;
  std::vector<Alternative> alternatives_;
  std::vector<GObjectPtr<GMimeMessage>> encoded_messages_;  // parsed from decoded content, alive for the walk
  size_t reparse_budget_;  // decoded bytes pushEncodedMessage may still parse
  std::array<size_t, 2> body_parts_{0, 0};
  bool keep_ = true;
  uint64_t kept_ = 0;  // never above limits_.max_kept_attachment_bytes
};

}  // namespace

void walkParts(GMimeObject* root, const Limits& limits, size_t input_size, Message& out) {
  Walker(limits, input_size, out).run(root);
}

}  // namespace mxgate::mime::detail
