// mime::parse: GMime 3 parses the message (RFC 5322, RFC 2045-2049); this file reads the
// top-level header section in order (RFC 5322 §2.2 unfolding, RFC 2047 decoding), the
// identification fields (§3.6.4 Message-ID, In-Reply-To, References), the Date (§3.3, given as
// RFC 3339 §5.6 with its offset), the address fields (§3.4, groups flattened) and the RFC 3834
// auto-reply signals, and hands the part tree to parts.cpp. Every string leaves as UTF-8.
//
// The input is wrapped, not copied: a GMimeStreamMem that does not own a GByteArray pointing
// at the caller's bytes, alive for the duration of the call. Pure; any thread (each call has its
// own GMime objects). Runs on the webhook payload lane.
#include <gmime/gmime.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmime_util.h"
#include "mxgate/base/ascii.h"
#include "mxgate/mime/message.h"
#include "parts.h"

namespace mxgate::mime {
namespace {

using detail::GCharPtr;
using detail::GObjectPtr;
using detail::validUtf8;

// A read-only GMime stream over the caller's bytes (no copy). GMime only reads from it.
class BorrowedStream {
 public:
  explicit BorrowedStream(std::string_view bytes)
      : array_(g_byte_array_new_take(reinterpret_cast<guint8*>(const_cast<char*>(bytes.data())), bytes.size())),
        stream_(g_mime_stream_mem_new_with_byte_array(array_)) {
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream_.get()), FALSE);
  }
  ~BorrowedStream() {
    stream_.reset();
    g_byte_array_free(array_, FALSE);  // frees the array header only, never the caller's bytes
  }
  BorrowedStream(const BorrowedStream&) = delete;
  BorrowedStream& operator=(const BorrowedStream&) = delete;

  GMimeStream* get() const { return stream_.get(); }

 private:
  GByteArray* array_;
  GObjectPtr<GMimeStream> stream_;
};

std::string withBrackets(const char* id) {
  std::string out;
  out.reserve(std::char_traits<char>::length(id) + 2);
  out.append(1, '<').append(validUtf8(id)).append(1, '>');
  return out;
}

std::vector<std::string> messageIds(GMimeObject* object, const char* field) {
  std::vector<std::string> out;
  const char* value = g_mime_object_get_header(object, field);
  if (value == nullptr) {
    return out;
  }
  GMimeReferences* references = g_mime_references_parse(nullptr, value);
  if (references == nullptr) {
    return out;
  }
  const int count = g_mime_references_length(references);
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    out.push_back(withBrackets(g_mime_references_get_message_id(references, i)));
  }
  g_mime_references_free(references);
  return out;
}

// Mailboxes of an address list in order, group members in place of their group (RFC 5322
// §3.4: a group holds mailboxes only; GMime's nesting is followed one level, which is all the
// grammar allows).
void collectMailboxes(InternetAddressList* list, std::vector<Mailbox>& out, bool expand_groups = true) {
  if (list == nullptr) {
    return;
  }
  const int count = internet_address_list_length(list);
  for (int i = 0; i < count; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      const char* email = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
      out.push_back(Mailbox{validUtf8(email), validUtf8(internet_address_get_name(address))});
    } else if (INTERNET_ADDRESS_IS_GROUP(address) && expand_groups) {
      collectMailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out, false);
    }
  }
}

std::vector<Mailbox> mailboxes(InternetAddressList* list) {
  std::vector<Mailbox> out;
  collectMailboxes(list, out);
  return out;
}

std::optional<Mailbox> firstMailbox(InternetAddressList* list) {
  std::vector<Mailbox> all = mailboxes(list);
  if (all.empty()) {
    return std::nullopt;
  }
  return std::move(all.front());
}

// RFC 3834 §5: the Auto-Submitted keyword (before any parameters), lower case; "no" when
// the field is absent or empty.
std::string autoSubmitted(GMimeObject* object) {
  const char* value = g_mime_object_get_header(object, "Auto-Submitted");
  if (value == nullptr) {
    return "no";
  }
  std::string_view keyword(value);
  keyword = ascii::trim(keyword.substr(0, keyword.find(';')));
  return keyword.empty() ? "no" : ascii::toLowerCopy(validUtf8(keyword));
}

// Auto-Submitted other than "no" (RFC 3834 §5), or the de-facto signals of vacation responders
// and list software: X-Autoreply, X-Autorespond, Precedence: auto_reply / bulk / junk.
bool isAutoReply(GMimeObject* object, const std::string& auto_submitted) {
  if (auto_submitted != "no" || g_mime_object_get_header(object, "X-Autoreply") != nullptr ||
      g_mime_object_get_header(object, "X-Autorespond") != nullptr) {
    return true;
  }
  const char* precedence = g_mime_object_get_header(object, "Precedence");
  if (precedence == nullptr) {
    return false;
  }
  const std::string_view value = ascii::trim(precedence);
  return ascii::equalsIgnoreCase(value, "auto_reply") || ascii::equalsIgnoreCase(value, "bulk") ||
         ascii::equalsIgnoreCase(value, "junk");
}

// RFC 3339 date-time with the field's own offset, e.g. "2003-07-01T10:52:37+02:00".
std::string rfc3339(GDateTime* date) {
  if (date == nullptr) {
    return {};
  }
  const GCharPtr text(g_date_time_format(date, "%Y-%m-%dT%H:%M:%S%:z"));
  return text == nullptr ? std::string() : std::string(text.get());
}

// GMime keeps the top-level Content-* fields in the body part's list and the others in the
// message's; both lists are in input order, so a merge by stream offset restores the header
// section as written.
void readHeaders(GMimeObject* message, GMimeObject* body, const Limits& limits, Message& out) {
  GMimeHeaderList* lists[2] = {g_mime_object_get_header_list(message),
                               body == nullptr ? nullptr : g_mime_object_get_header_list(body)};
  int counts[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    counts[i] = lists[i] == nullptr ? 0 : g_mime_header_list_get_count(lists[i]);
  }
  int next[2] = {0, 0};
  while (next[0] < counts[0] || next[1] < counts[1]) {
    GMimeHeader* heads[2] = {nullptr, nullptr};
    for (int i = 0; i < 2; ++i) {
      heads[i] = next[i] < counts[i] ? g_mime_header_list_get_header_at(lists[i], next[i]) : nullptr;
    }
    const bool message_first =
        heads[1] == nullptr ||
        (heads[0] != nullptr && g_mime_header_get_offset(heads[0]) <= g_mime_header_get_offset(heads[1]));
    const int from = message_first ? 0 : 1;
    ++next[from];
    if (out.headers.size() == limits.max_header_fields) {
      out.truncated = true;
      return;
    }
    out.headers.push_back(HeaderField{validUtf8(g_mime_header_get_name(heads[from])),
                                      validUtf8(g_mime_header_get_value(heads[from]))});
  }
}

}  // namespace

Message parse(std::string_view bytes, const Limits& limits) {
  initialize();
  Message out;
  out.auto_submitted = "no";
  if (bytes.empty()) {
    return out;
  }
  if (bytes.size() > G_MAXUINT) {  // a GByteArray's length is a guint
    bytes = bytes.substr(0, G_MAXUINT);
    out.truncated = true;
  }
  const BorrowedStream stream(bytes);
  const GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (message == nullptr) {
    // GMime gives up when the first line is not a header field: read it all as a body after an
    // empty header section, as mature parsers do. (The stream keeps its own copy.)
    std::string headerless;
    headerless.reserve(bytes.size() + 2);
    headerless.append("\r\n").append(bytes);
    const GObjectPtr<GMimeStream> copy(g_mime_stream_mem_new_with_buffer(headerless.data(), headerless.size()));
    const GObjectPtr<GMimeParser> retry(g_mime_parser_new_with_stream(copy.get()));
    message.reset(g_mime_parser_construct_message(retry.get(), nullptr));
    if (message == nullptr) {
      return out;
    }
  }
  GMimeMessage* msg = message.get();
  GMimeObject* object = GMIME_OBJECT(msg);

  GMimeObject* body = g_mime_message_get_mime_part(msg);
  readHeaders(object, body, limits, out);
  if (const char* id = g_mime_message_get_message_id(msg); id != nullptr && *id != '\0') {
    out.message_id = withBrackets(id);
  }
  out.in_reply_to = messageIds(object, "In-Reply-To");
  out.references = messageIds(object, "References");
  out.date = rfc3339(g_mime_message_get_date(msg));
  out.subject = validUtf8(g_mime_message_get_subject(msg));
  out.from = firstMailbox(g_mime_message_get_from(msg));
  out.sender = firstMailbox(g_mime_message_get_sender(msg));
  out.reply_to = mailboxes(g_mime_message_get_reply_to(msg));
  out.to = mailboxes(g_mime_message_get_to(msg));
  out.cc = mailboxes(g_mime_message_get_cc(msg));
  out.auto_submitted = autoSubmitted(object);
  out.is_auto_reply = isAutoReply(object, out.auto_submitted);

  if (body != nullptr) {
    detail::walkParts(body, limits, bytes.size(), out);
  }
  return out;
}

}  // namespace mxgate::mime
