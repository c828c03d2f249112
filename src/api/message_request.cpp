// JSON request bodies of the HTTP send API into envelopes and RFC 5322 messages built with GMime
// (see include/mxgate/api/message_request.h). Runs on the api lane.
#include "mxgate/api/message_request.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"
#include "mxgate/base/clock.h"
#include "mxgate/mime/gmime.h"
#include "mxgate/mime/message.h"

namespace mxgate::api {

namespace {

using nlohmann::json;
using mime::GCharPtr;
using mime::GObjectPtr;

constexpr int kMaxDepth = 8;
constexpr size_t kMaxTags = 50;
constexpr size_t kMaxTagLength = 128;
constexpr size_t kMaxMetadata = 50;
constexpr size_t kMaxMetadataKey = 128;
constexpr size_t kMaxMetadataValue = 2048;
constexpr size_t kMaxHeaderValue = 998;

// Header fields the builder writes itself (or never writes, like Bcc): set by their own fields.
constexpr std::string_view kReservedHeaders[] = {
    "from", "to", "cc", "bcc", "reply-to", "subject", "date", "mime-version", "content-type",
    "content-transfer-encoding", "content-disposition", "content-id", "received", "return-path",
    "dkim-signature", "authentication-results"};

Built fail(int status, std::string code, std::string message, std::string field) {
  Built built;
  built.error = Error{status, std::move(code), std::move(message), std::move(field)};
  return built;
}

struct Refusal {
  Error error;
};

[[noreturn]] void refuse(std::string code, std::string message, std::string field, int status = 422) {
  throw Refusal{Error{status, std::move(code), std::move(message), std::move(field)}};
}

// A JSON document no deeper than kMaxDepth (deep nesting is refused before it costs stack).
json parseJson(std::string_view body) {
  json::parser_callback_t limit_depth = [](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxDepth) {
      refuse("malformed_json", "nesting deeper than " + std::to_string(kMaxDepth) + " levels", "", 400);
    }
    return true;
  };
  json document;
  try {
    document = json::parse(body.begin(), body.end(), limit_depth);
  } catch (const json::exception& e) {
    refuse("malformed_json", std::string("the body is not JSON: ") + e.what(), "", 400);
  }
  if (!document.is_object()) {
    refuse("malformed_json", "the body must be a JSON object", "", 400);
  }
  return document;
}

bool hasControl(std::string_view text, bool allow_line_breaks) {
  return std::any_of(text.begin(), text.end(), [allow_line_breaks](char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) {
      return false;
    }
    return byte == 0 || (!allow_line_breaks && (c == '\r' || c == '\n'));
  });
}

// A string member, or "" when absent or null.
std::string optionalString(const json& document, const char* field, bool multiline) {
  const auto it = document.find(field);
  if (it == document.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    refuse("invalid_field", "must be a string", field);
  }
  std::string value = it->get<std::string>();
  if (hasControl(value, multiline)) {
    refuse("invalid_field", multiline ? "must not contain NUL" : "must not contain line breaks or NUL", field);
  }
  return value;
}

struct Mailbox {
  std::string name;
  mail::Address address;
};

// One RFC 5322 mailbox ("a@example.org" or "Name <a@example.org>") whose address is a valid
// RFC 5321 Mailbox.
Mailbox parseMailbox(const json& value, const std::string& field) {
  if (!value.is_string()) {
    refuse("invalid_address", "must be a string holding one address", field);
  }
  const std::string text = value.get<std::string>();
  if (text.empty() || hasControl(text, false)) {
    refuse("invalid_address", "must hold one address", field);
  }
  GObjectPtr<InternetAddressList> list(internet_address_list_parse(nullptr, text.c_str()));
  if (!list || internet_address_list_length(list.get()) != 1 ||
      !INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(list.get(), 0))) {
    refuse("invalid_address", "must hold exactly one address", field);
  }
  InternetAddress* parsed = internet_address_list_get_address(list.get(), 0);
  Mailbox mailbox;
  const char* name = internet_address_get_name(parsed);
  mailbox.name = name != nullptr ? name : "";
  const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(parsed));
  if (addr == nullptr || mail::parseMailbox(addr, true, mailbox.address) != mail::AddressError::None) {
    refuse("invalid_address", "not a valid address", field);
  }
  return mailbox;
}

// A string or an array of strings, each one mailbox.
std::vector<Mailbox> parseMailboxes(const json& document, const char* field) {
  std::vector<Mailbox> out;
  const auto it = document.find(field);
  if (it == document.end() || it->is_null()) {
    return out;
  }
  if (it->is_string()) {
    out.push_back(parseMailbox(*it, field));
    return out;
  }
  if (!it->is_array()) {
    refuse("invalid_field", "must be an address or an array of addresses", field);
  }
  for (size_t i = 0; i < it->size(); ++i) {
    out.push_back(parseMailbox((*it)[i], std::string(field) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

void parseTags(const json& document, Submission& submission) {
  const auto it = document.find("tags");
  if (it == document.end() || it->is_null()) {
    return;
  }
  if (!it->is_array() || it->size() > kMaxTags) {
    refuse("invalid_field", "must be an array of at most " + std::to_string(kMaxTags) + " strings", "tags");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& tag = (*it)[i];
    const std::string field = "tags[" + std::to_string(i) + "]";
    if (!tag.is_string() || tag.get_ref<const std::string&>().empty() ||
        tag.get_ref<const std::string&>().size() > kMaxTagLength || hasControl(tag.get_ref<const std::string&>(), false)) {
      refuse("invalid_field", "must be a string of 1 to " + std::to_string(kMaxTagLength) + " characters", field);
    }
    submission.tags.push_back(tag.get<std::string>());
  }
}

// "list_unsubscribe": true asks for RFC 8058 one-click unsubscribe (the tracking stage adds it).
void parseListUnsubscribe(const json& document, Submission& submission) {
  const auto it = document.find("list_unsubscribe");
  if (it == document.end() || it->is_null()) {
    return;
  }
  if (!it->is_boolean()) {
    refuse("invalid_field", "must be true or false", "list_unsubscribe");
  }
  submission.list_unsubscribe = it->get<bool>();
}

void parseMetadata(const json& document, Submission& submission) {
  const auto it = document.find("metadata");
  if (it == document.end() || it->is_null()) {
    return;
  }
  if (!it->is_object() || it->size() > kMaxMetadata) {
    refuse("invalid_field", "must be an object of at most " + std::to_string(kMaxMetadata) + " string values",
           "metadata");
  }
  for (const auto& [key, value] : it->items()) {
    const std::string field = "metadata." + key;
    if (key.empty() || key.size() > kMaxMetadataKey || hasControl(key, false)) {
      refuse("invalid_field", "keys are 1 to " + std::to_string(kMaxMetadataKey) + " characters", "metadata");
    }
    if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxMetadataValue ||
        hasControl(value.get_ref<const std::string&>(), false)) {
      refuse("invalid_field", "must be a string of at most " + std::to_string(kMaxMetadataValue) + " characters",
             field);
    }
    submission.metadata.emplace_back(key, value.get<std::string>());
  }
}

// "send_at": Unix seconds (an integer, or its digits as a string) or an RFC 3339 date-time ("2026-12-08T09:30:00Z",
// "2026-12-08T10:30:00+01:00", fractions of a second ignored); null or absent = now.
void parseSendAt(const json& document, Submission& submission) {
  const auto it = document.find("send_at");
  if (it == document.end() || it->is_null()) {
    return;
  }
  std::optional<uint64_t> seconds;
  if (it->is_number_unsigned()) {
    seconds = it->get<uint64_t>();
  } else if (it->is_string()) {
    seconds = mxgate::parseTimeSeconds(it->get_ref<const std::string&>());
  }
  if (!seconds || *seconds == 0 || *seconds > kMaxSendAtSeconds) {
    refuse("invalid_field", "Unix seconds or an RFC 3339 date-time such as 2026-12-08T09:30:00Z", "send_at");
  }
  submission.send_at_us = *seconds * 1000000;
}

// to + cc + bcc into the envelope, repeats removed (the local part as written, the domain
// without case).
void collectRecipients(const std::vector<const std::vector<Mailbox>*>& lists, const Limits& limits,
                       Submission& submission) {
  std::set<std::string> seen;
  for (const auto* list : lists) {
    for (const Mailbox& mailbox : *list) {
      if (seen.insert(mailbox.address.str()).second) {
        submission.recipients.push_back(mailbox.address);
      }
    }
  }
  if (submission.recipients.size() > limits.max_recipients) {
    refuse("too_many_recipients",
           "at most " + std::to_string(limits.max_recipients) + " recipients (to, cc and bcc together)", "to");
  }
  submission.smtputf8 = submission.mail_from.isUtf8() ||
                        std::any_of(submission.recipients.begin(), submission.recipients.end(),
                                    [](const mail::Address& address) { return address.isUtf8(); });
}

bool validFieldName(std::string_view name) {
  return !name.empty() && name.size() <= 76 && std::all_of(name.begin(), name.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 33 && byte <= 126 && c != ':';
  });
}

void addMailboxes(GMimeMessage* message, GMimeAddressType type, const std::vector<Mailbox>& mailboxes) {
  for (const Mailbox& mailbox : mailboxes) {
    g_mime_message_add_mailbox(message, type, mailbox.name.empty() ? nullptr : mailbox.name.c_str(),
                               mailbox.address.str().c_str());
  }
}

GMimeObject* textPart(const char* subtype, const std::string& text) {
  GMimeTextPart* part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, text.c_str());  // charset utf-8 (or us-ascii) chosen by GMime
  g_mime_object_encode(GMIME_OBJECT(part), GMIME_ENCODING_CONSTRAINT_7BIT);
  return GMIME_OBJECT(part);
}

struct Attachment {
  std::string filename;
  std::string content_type;
  std::string content;
  std::string content_id;
};

std::vector<Attachment> parseAttachments(const json& document) {
  std::vector<Attachment> out;
  const auto it = document.find("attachments");
  if (it == document.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    refuse("invalid_field", "must be an array of attachments", "attachments");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    const std::string prefix = "attachments[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      refuse("invalid_field", "must be an object", prefix);
    }
    for (const auto& [key, value] : item.items()) {
      if (key != "filename" && key != "content_type" && key != "content_base64" && key != "content_id") {
        refuse("unknown_field", "not a field of an attachment", prefix + "." + key);
      }
    }
    Attachment attachment;
    attachment.filename = optionalString(item, "filename", false);
    if (attachment.filename.empty()) {
      refuse("missing_field", "an attachment needs a filename", prefix + ".filename");
    }
    attachment.content_type = optionalString(item, "content_type", false);
    if (attachment.content_type.empty()) {
      attachment.content_type = "application/octet-stream";
    }
    GObjectPtr<GMimeContentType> type(g_mime_content_type_parse(nullptr, attachment.content_type.c_str()));
    if (!type || attachment.content_type.find('/') == std::string::npos ||
        g_mime_content_type_is_type(type.get(), "multipart", "*") ||
        g_mime_content_type_is_type(type.get(), "message", "*")) {
      refuse("invalid_field", "must be a media type such as application/pdf (not multipart or message)",
             prefix + ".content_type");
    }
    const auto content = item.find("content_base64");
    if (content == item.end() || !content->is_string()) {
      refuse("missing_field", "an attachment needs content_base64", prefix + ".content_base64");
    }
    auto decoded = base64::decode(content->get_ref<const std::string&>());
    if (!decoded) {
      refuse("invalid_base64", "not base64 (RFC 4648, no white space)", prefix + ".content_base64");
    }
    attachment.content = std::move(*decoded);
    attachment.content_id = optionalString(item, "content_id", false);
    if (attachment.content_id.find_first_of("<> \t") != std::string::npos ||
        (!attachment.content_id.empty() && attachment.content_id.find('@') == std::string::npos)) {
      refuse("invalid_field", "must look like part1@example.org (no angle brackets)", prefix + ".content_id");
    }
    out.push_back(std::move(attachment));
  }
  return out;
}

GMimeObject* attachmentPart(const Attachment& attachment) {
  GObjectPtr<GMimeContentType> type(g_mime_content_type_parse(nullptr, attachment.content_type.c_str()));
  GMimePart* part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(type.get()),
                                              g_mime_content_type_get_media_subtype(type.get()));
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(attachment.content.data(), attachment.content.size()));
  GObjectPtr<GMimeDataWrapper> wrapper(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, wrapper.get());
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  g_mime_object_set_disposition(GMIME_OBJECT(part), attachment.content_id.empty() ? "attachment" : "inline");
  g_mime_part_set_filename(part, attachment.filename.c_str());
  if (!attachment.content_id.empty()) {
    g_mime_part_set_content_id(part, attachment.content_id.c_str());
  }
  return GMIME_OBJECT(part);
}

GMimeObject* multipart(const char* subtype, std::vector<GMimeObject*> parts) {
  GMimeMultipart* container = g_mime_multipart_new_with_subtype(subtype);
  for (GMimeObject* part : parts) {
    g_mime_multipart_add(container, part);
    g_object_unref(part);
  }
  return GMIME_OBJECT(container);
}

// text / html / both as multipart/alternative; inline attachments (with a content_id) with
// the html in multipart/related; other attachments after the body in multipart/mixed.
GMimeObject* bodyOf(const std::string& text, const std::string& html, const std::vector<Attachment>& attachments) {
  GMimeObject* html_part = nullptr;
  if (!html.empty()) {
    std::vector<GMimeObject*> related{textPart("html", html)};
    for (const Attachment& attachment : attachments) {
      if (!attachment.content_id.empty()) {
        related.push_back(attachmentPart(attachment));
      }
    }
    html_part = related.size() == 1 ? related.front() : multipart("related", std::move(related));
  }
  GMimeObject* body = nullptr;
  if (!text.empty() && html_part != nullptr) {
    body = multipart("alternative", {textPart("plain", text), html_part});
  } else {
    body = html_part != nullptr ? html_part : textPart("plain", text);
  }
  std::vector<GMimeObject*> mixed{body};
  for (const Attachment& attachment : attachments) {
    if (attachment.content_id.empty() || html.empty()) {
      mixed.push_back(attachmentPart(attachment));
    }
  }
  return mixed.size() == 1 ? body : multipart("mixed", std::move(mixed));
}

std::string serialize(GMimeObject* object) {
  GObjectPtr<GMimeStream> output(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(object, mime::dosFormat(), output.get());
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(output.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

void checkSize(const std::string& message, const Limits& limits) {
  if (message.size() > limits.max_message_size) {
    refuse("too_large",
           "the message is " + std::to_string(message.size()) + " bytes; at most " +
               std::to_string(limits.max_message_size) + " are accepted",
           "", 413);
  }
}

void checkKnownFields(const json& document, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : document.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      // An empty name is shown quoted, so the error still names the field.
      refuse("unknown_field", "not a field of this request", key.empty() ? "\"\"" : key);
    }
  }
}

Built buildJson(std::string_view body, const Limits& limits) {
  const json document = parseJson(body);
  checkKnownFields(document, {"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "headers",
                              "attachments", "tags", "metadata", "send_at", "list_unsubscribe"});
  if (document.find("from") == document.end()) {
    refuse("missing_field", "the sender's address is required", "from");
  }
  const Mailbox from = parseMailbox(document["from"], "from");
  const std::vector<Mailbox> to = parseMailboxes(document, "to");
  if (to.empty()) {
    refuse("missing_field", "at least one recipient is required", "to");
  }
  const std::vector<Mailbox> cc = parseMailboxes(document, "cc");
  const std::vector<Mailbox> bcc = parseMailboxes(document, "bcc");
  const std::vector<Mailbox> reply_to = parseMailboxes(document, "reply_to");
  const std::string subject = optionalString(document, "subject", false);
  const std::string text = optionalString(document, "text", true);
  const std::string html = optionalString(document, "html", true);
  const std::vector<Attachment> attachments = parseAttachments(document);
  if (text.empty() && html.empty()) {
    refuse("missing_field", "a message needs text or html", "text");
  }

  Built built;
  Submission& submission = built.submission;
  submission.mail_from = from.address;
  collectRecipients({&to, &cc, &bcc}, limits, submission);
  parseTags(document, submission);
  parseMetadata(document, submission);
  parseListUnsubscribe(document, submission);
  parseSendAt(document, submission);

  GObjectPtr<GMimeMessage> message(g_mime_message_new(TRUE));
  addMailboxes(message.get(), GMIME_ADDRESS_TYPE_FROM, {from});
  addMailboxes(message.get(), GMIME_ADDRESS_TYPE_TO, to);
  addMailboxes(message.get(), GMIME_ADDRESS_TYPE_CC, cc);
  addMailboxes(message.get(), GMIME_ADDRESS_TYPE_REPLY_TO, reply_to);
  g_mime_message_set_subject(message.get(), subject.c_str(), "utf-8");
  GDateTime* now = g_date_time_new_now_utc();
  g_mime_message_set_date(message.get(), now);
  g_date_time_unref(now);
  bool has_message_id = false;
  if (const auto headers = document.find("headers"); headers != document.end() && !headers->is_null()) {
    if (!headers->is_object()) {
      refuse("invalid_field", "must be an object of header field names and string values", "headers");
    }
    for (const auto& [name, value] : headers->items()) {
      const std::string field = "headers." + name;
      const std::string lower = ascii::toLowerCopy(name);
      if (!validFieldName(name) ||
          std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lower) != std::end(kReservedHeaders)) {
        refuse("invalid_field", "not a header field name that may be set here", field);
      }
      if (!value.is_string() || value.get_ref<const std::string&>().size() > kMaxHeaderValue ||
          hasControl(value.get_ref<const std::string&>(), false)) {
        refuse("invalid_field", "must be a string of one line", field);
      }
      if (lower == "message-id") {
        has_message_id = true;
      }
      g_mime_object_set_header(GMIME_OBJECT(message.get()), name.c_str(), value.get_ref<const std::string&>().c_str(),
                               "utf-8");
    }
  }
  if (!has_message_id) {
    GCharPtr id(g_mime_utils_generate_message_id(std::string(limits.hostname).c_str()));
    g_mime_message_set_message_id(message.get(), id.get());
  }
  GObjectPtr<GMimeObject> mime_body(bodyOf(text, html, attachments));
  g_mime_message_set_mime_part(message.get(), mime_body.get());
  submission.message = serialize(GMIME_OBJECT(message.get()));
  checkSize(submission.message, limits);
  built.ok = true;
  return built;
}

// Bare LF line ends become CRLF (the spool and SMTP want CRLF); CRLF stays.
std::string crlf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 32);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
      out += '\r';
    }
    out += bytes[i];
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) {
    out += "\r\n";
  }
  return out;
}

Built buildRaw(std::string_view body, const Limits& limits) {
  const json document = parseJson(body);
  checkKnownFields(document, {"mail_from", "to", "message_base64", "tags", "metadata", "send_at",
                              "list_unsubscribe"});
  const auto encoded = document.find("message_base64");
  if (encoded == document.end() || !encoded->is_string()) {
    refuse("missing_field", "the message is required, base64-encoded", "message_base64");
  }
  auto decoded = base64::decode(encoded->get_ref<const std::string&>());
  if (!decoded) {
    refuse("invalid_base64", "not base64 (RFC 4648, no white space)", "message_base64");
  }
  if (decoded->find('\0') != std::string::npos) {
    refuse("invalid_message", "the message contains a NUL byte", "message_base64");
  }
  const std::vector<Mailbox> to = parseMailboxes(document, "to");
  if (to.empty()) {
    refuse("missing_field", "at least one envelope recipient is required", "to");
  }
  std::string message = crlf(*decoded);
  checkSize(message, limits);

  GObjectPtr<GMimeStream> input(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(input.get()));
  GObjectPtr<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!parsed) {
    refuse("invalid_message", "not an RFC 5322 message", "message_base64");
  }
  InternetAddressList* from_list = g_mime_message_get_from(parsed.get());
  if (from_list == nullptr || internet_address_list_length(from_list) == 0) {
    refuse("invalid_message", "the message has no From header field", "message_base64");
  }

  Built built;
  Submission& submission = built.submission;
  if (document.contains("mail_from") && !document["mail_from"].is_null()) {
    submission.mail_from = parseMailbox(document["mail_from"], "mail_from").address;
  } else {
    GCharPtr from_text(internet_address_list_to_string(from_list, nullptr, FALSE));
    submission.mail_from = parseMailbox(json(from_text.get()), "message_base64").address;
  }
  collectRecipients({&to}, limits, submission);
  parseTags(document, submission);
  parseMetadata(document, submission);
  parseListUnsubscribe(document, submission);
  parseSendAt(document, submission);

  // Date and Message-ID are added when missing (RFC 5322 §3.6 wants both); the rest of the
  // message goes on as it came.
  const bool has_date = g_mime_object_get_header(GMIME_OBJECT(parsed.get()), "Date") != nullptr;
  const bool has_id = g_mime_message_get_message_id(parsed.get()) != nullptr;
  if (!has_date || !has_id) {
    if (!has_date) {
      GDateTime* now = g_date_time_new_now_utc();
      g_mime_message_set_date(parsed.get(), now);
      g_date_time_unref(now);
    }
    if (!has_id) {
      GCharPtr id(g_mime_utils_generate_message_id(std::string(limits.hostname).c_str()));
      g_mime_message_set_message_id(parsed.get(), id.get());
    }
    message = serialize(GMIME_OBJECT(parsed.get()));
    checkSize(message, limits);
  }
  submission.message = std::move(message);
  built.ok = true;
  return built;
}

template <class Build>
Built guarded(Build build, std::string_view body, const Limits& limits) {
  mime::initialize();
  try {
    return build(body, limits);
  } catch (const Refusal& refusal) {
    return fail(refusal.error.status, refusal.error.code, refusal.error.message, refusal.error.field);
  }
}

}  // namespace

Built buildFromJson(std::string_view body, const Limits& limits) { return guarded(buildJson, body, limits); }

Built buildFromRaw(std::string_view body, const Limits& limits) { return guarded(buildRaw, body, limits); }

std::string errorJson(const Error& error) {
  json out = {{"error",
               {{"status", error.status}, {"code", error.code}, {"message", error.message}, {"field", error.field}}}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mxgate::api
