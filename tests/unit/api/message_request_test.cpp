// Unit tests for the send API's request bodies (src/api/message_request.cpp): JSON built into
// MIME and parsed back with GMime (structure, header fields, attachment bytes, no Bcc), the raw
// form, and a refusal naming its field for every kind of bad input.
#include <gmime/gmime.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "mxgate/api/message_request.h"
#include "mxgate/api/send_api.h"
#include "mxgate/base/base64.h"
#include "mxgate/mime/gmime.h"
#include "mxgate/mime/message.h"

namespace api = mxgate::api;
namespace base64 = mxgate::base64;
using mxgate::mime::GObjectPtr;
using nlohmann::json;

namespace {

api::Built build(const json& body, api::Limits limits = {}) { return api::buildFromJson(body.dump(), limits); }

GObjectPtr<GMimeMessage> parseBack(const std::string& message) {
  mxgate::mime::initialize();
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return GObjectPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}

bool isType(GMimeObject* object, const char* type, const char* subtype) {
  return g_mime_content_type_is_type(g_mime_object_get_content_type(object), type, subtype);
}

std::string partContent(GMimeObject* object) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(GMIME_PART(object));
  GObjectPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(wrapper, out.get());
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

void expectRefused(const api::Built& built, int status, const std::string& code, const std::string& field) {
  BOOST_TEST_REQUIRE(!built.ok);
  BOOST_TEST(built.error.status == status);
  BOOST_TEST(built.error.code == code);
  BOOST_TEST(built.error.field == field);
  BOOST_TEST(!built.error.message.empty());
}

json minimal() { return {{"from", "app@tenant.example"}, {"to", "user@dest.example"}, {"text", "hello"}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(message_request)

BOOST_AUTO_TEST_CASE(text_html_and_attachment_parse_back) {
  const std::string pdf("%PDF-1.4\0\x01\x02\xff binary", 20);
  json body = {{"from", "Support Team <support@tenant.example>"},
               {"to", {"alice@dest.example", "Bob <bob@dest.example>"}},
               {"cc", "carol@dest.example"},
               {"bcc", {"hidden@dest.example"}},
               {"reply_to", "replies@tenant.example"},
               {"subject", "Your ticket"},
               {"text", "plain body\nsecond line"},
               {"html", "<p>html body</p>"},
               {"attachments", {{{"filename", "a.pdf"}, {"content_type", "application/pdf"},
                                 {"content_base64", base64::encode(pdf)}}}},
               {"tags", {"welcome"}},
               {"metadata", {{"ticket", "42"}}}};
  const api::Built built = build(body, api::Limits{1000, 1 << 20, "gw.example"});
  BOOST_TEST_REQUIRE(built.ok, built.error.message);
  const api::Submission& submission = built.submission;
  BOOST_TEST(submission.mail_from.str() == "support@tenant.example");
  BOOST_TEST_REQUIRE(submission.recipients.size() == 4u);
  BOOST_TEST(submission.recipients[3].str() == "hidden@dest.example");
  BOOST_TEST(submission.tags == std::vector<std::string>{"welcome"});
  BOOST_TEST(submission.metadata.size() == 1u);
  BOOST_TEST(submission.message.find("hidden@") == std::string::npos);
  BOOST_TEST(submission.message.find("Bcc") == std::string::npos);
  BOOST_TEST(submission.message.find("\n") == submission.message.find("\r\n") + 1);

  auto message = parseBack(submission.message);
  BOOST_TEST_REQUIRE(message.get() != nullptr);
  GMimeObject* object = GMIME_OBJECT(message.get());
  BOOST_TEST(std::string(g_mime_message_get_subject(message.get())) == "Your ticket");
  const char* id = g_mime_message_get_message_id(message.get());
  BOOST_TEST_REQUIRE(id != nullptr);
  BOOST_TEST(std::string(id).ends_with("@gw.example"));
  BOOST_TEST(g_mime_object_get_header(object, "Date") != nullptr);
  BOOST_TEST(internet_address_list_length(g_mime_message_get_to(message.get())) == 2);
  BOOST_TEST(internet_address_list_length(g_mime_message_get_cc(message.get())) == 1);
  BOOST_TEST(internet_address_list_length(g_mime_message_get_reply_to(message.get())) == 1);

  GMimeObject* top = g_mime_message_get_mime_part(message.get());
  BOOST_TEST_REQUIRE(isType(top, "multipart", "mixed"));
  GMimeMultipart* mixed = GMIME_MULTIPART(top);
  BOOST_TEST_REQUIRE(g_mime_multipart_get_count(mixed) == 2);
  GMimeObject* alternative = g_mime_multipart_get_part(mixed, 0);
  BOOST_TEST_REQUIRE(isType(alternative, "multipart", "alternative"));
  GMimeObject* text = g_mime_multipart_get_part(GMIME_MULTIPART(alternative), 0);
  GMimeObject* html = g_mime_multipart_get_part(GMIME_MULTIPART(alternative), 1);
  BOOST_TEST(isType(text, "text", "plain"));
  BOOST_TEST(isType(html, "text", "html"));
  mxgate::mime::GCharPtr text_body(g_mime_text_part_get_text(GMIME_TEXT_PART(text)));
  BOOST_TEST(std::string(text_body.get()).find("second line") != std::string::npos);
  GMimeObject* attachment = g_mime_multipart_get_part(mixed, 1);
  BOOST_TEST(isType(attachment, "application", "pdf"));
  BOOST_TEST(std::string(g_mime_part_get_filename(GMIME_PART(attachment))) == "a.pdf");
  BOOST_TEST(partContent(attachment) == pdf);
}

BOOST_AUTO_TEST_CASE(inline_image_goes_with_the_html_in_related) {
  json body = minimal();
  body.erase("text");
  body["html"] = "<img src=\"cid:logo@tenant.example\">";
  body["attachments"] = {{{"filename", "logo.png"}, {"content_type", "image/png"},
                          {"content_base64", base64::encode("PNG")}, {"content_id", "logo@tenant.example"}}};
  const api::Built built = build(body);
  BOOST_TEST_REQUIRE(built.ok, built.error.message);
  auto message = parseBack(built.submission.message);
  GMimeObject* top = g_mime_message_get_mime_part(message.get());
  BOOST_TEST_REQUIRE(isType(top, "multipart", "related"));
  GMimeObject* image = g_mime_multipart_get_part(GMIME_MULTIPART(top), 1);
  BOOST_TEST(std::string(g_mime_part_get_content_id(GMIME_PART(image))) == "logo@tenant.example");
  BOOST_TEST(partContent(image) == "PNG");
}

BOOST_AUTO_TEST_CASE(utf8_subject_headers_and_repeated_recipients) {
  json body = minimal();
  body["subject"] = "Grüße aus Köln";
  body["to"] = {"user@dest.example", "user@DEST.example"};
  body["bcc"] = "user@dest.example";
  body["headers"] = {{"X-Campaign", "spring"}, {"Message-ID", "<fixed@tenant.example>"}};
  const api::Built built = build(body);
  BOOST_TEST_REQUIRE(built.ok, built.error.message);
  BOOST_TEST(built.submission.recipients.size() == 1u);
  auto message = parseBack(built.submission.message);
  BOOST_TEST(std::string(g_mime_message_get_subject(message.get())) == "Grüße aus Köln");
  BOOST_TEST(std::string(g_mime_message_get_message_id(message.get())) == "fixed@tenant.example");
  BOOST_TEST(std::string(g_mime_object_get_header(GMIME_OBJECT(message.get()), "X-Campaign")) == "spring");
}

BOOST_AUTO_TEST_CASE(every_refusal_names_its_field) {
  expectRefused(api::buildFromJson("{\"from\":", {}), 400, "malformed_json", "");
  expectRefused(api::buildFromJson("[1,2]", {}), 400, "malformed_json", "");
  expectRefused(api::buildFromJson(std::string(100, '[') + std::string(100, ']'), {}), 400, "malformed_json", "");
  json body = minimal();
  body.erase("to");
  expectRefused(build(body), 422, "missing_field", "to");
  body = minimal();
  body.erase("from");
  expectRefused(build(body), 422, "missing_field", "from");
  body = minimal();
  body["to"] = {"ok@dest.example", "not an address"};
  expectRefused(build(body), 422, "invalid_address", "to[1]");
  body = minimal();
  body["cc"] = {"a@b.example, c@d.example"};
  expectRefused(build(body), 422, "invalid_address", "cc[0]");
  body = minimal();
  body["attachments"] = {{{"filename", "x"}, {"content_base64", "not base64!"}}};
  expectRefused(build(body), 422, "invalid_base64", "attachments[0].content_base64");
  body = minimal();
  body["attachments"] = {{{"content_base64", "AAAA"}}};
  expectRefused(build(body), 422, "missing_field", "attachments[0].filename");
  body = minimal();
  body["to"] = {"a@dest.example", "b@dest.example", "c@dest.example"};
  expectRefused(build(body, api::Limits{2}), 422, "too_many_recipients", "to");
  for (const json& bad : {json("tomorrow"), json("2030-01-01 00:00:00Z"), json(-5), json(0), json(1.5),
                          json(253402300800ULL), json::array()}) {
    body = minimal();
    body["send_at"] = bad;
    expectRefused(build(body), 422, "invalid_field", "send_at");
  }
  body = minimal();
  body["form"] = "typo@tenant.example";
  expectRefused(build(body), 422, "unknown_field", "form");
  body = minimal();
  body[""] = "a@tenant.example";
  expectRefused(build(body), 422, "unknown_field", "\"\"");
  body = minimal();
  body["headers"] = {{"Bcc", "x@y.example"}};
  expectRefused(build(body), 422, "invalid_field", "headers.Bcc");
  body = minimal();
  body["headers"] = {{"X-Injected", "a\r\nBcc: x@y.example"}};
  expectRefused(build(body), 422, "invalid_field", "headers.X-Injected");
  body = minimal();
  body["subject"] = "two\r\nlines";
  expectRefused(build(body), 422, "invalid_field", "subject");
  body = minimal();
  body.erase("text");
  expectRefused(build(body), 422, "missing_field", "text");
  body = minimal();
  body["tags"] = "not-an-array";
  expectRefused(build(body), 422, "invalid_field", "tags");
  body = minimal();
  body["metadata"] = {{"n", 5}};
  expectRefused(build(body), 422, "invalid_field", "metadata.n");
  body = minimal();
  body["text"] = std::string(5000, 'x');
  expectRefused(build(body, api::Limits{1000, 2048}), 413, "too_large", "");
}

BOOST_AUTO_TEST_CASE(send_at_takes_unix_seconds_or_an_rfc3339_date_time) {
  json body = minimal();
  BOOST_TEST(build(body).submission.send_at_us == 0u);
  body["send_at"] = nullptr;
  BOOST_TEST(build(body).submission.send_at_us == 0u);
  body["send_at"] = 1796722200;
  BOOST_TEST(build(body).submission.send_at_us == 1796722200000000u);
  body["send_at"] = "2026-12-08T10:30:00+01:00";
  BOOST_TEST(build(body).submission.send_at_us == 1796722200000000u);
  json raw = {{"to", "user@dest.example"},
              {"message_base64", "RnJvbTogYXBwQHRlbmFudC5leGFtcGxlDQoNCmhpDQo="},
              {"send_at", "2026-12-08T09:30:00Z"}};
  const api::Built built = api::buildFromRaw(raw.dump(), {});
  BOOST_TEST_REQUIRE(built.ok, built.error.message);
  BOOST_TEST(built.submission.send_at_us == 1796722200000000u);
}

BOOST_AUTO_TEST_CASE(list_unsubscribe_is_a_boolean) {
  BOOST_TEST(!build(minimal()).submission.list_unsubscribe);
  json body = minimal();
  body["list_unsubscribe"] = true;
  const api::Built built = build(body);
  BOOST_TEST_REQUIRE(built.ok);
  BOOST_TEST(built.submission.list_unsubscribe);
  body["list_unsubscribe"] = "yes";
  expectRefused(build(body), 422, "invalid_field", "list_unsubscribe");
}

BOOST_AUTO_TEST_CASE(raw_message_gets_crlf_date_and_message_id) {
  const std::string raw = "From: App <app@tenant.example>\nTo: user@dest.example\nSubject: raw\n\nbody line\n";
  json body = {{"to", {"user@dest.example", "other@dest.example"}}, {"message_base64", base64::encode(raw)},
               {"tags", {"raw"}}};
  const api::Built built = api::buildFromRaw(body.dump(), api::Limits{1000, 1 << 20, "gw.example"});
  BOOST_TEST_REQUIRE(built.ok, built.error.message);
  BOOST_TEST(built.submission.mail_from.str() == "app@tenant.example");
  BOOST_TEST(built.submission.recipients.size() == 2u);
  const std::string& message = built.submission.message;
  BOOST_TEST(message.find("body line\r\n") != std::string::npos);
  BOOST_TEST(message.find("\r\nSubject: raw\r\n") != std::string::npos);
  auto parsed = parseBack(message);
  BOOST_TEST(g_mime_message_get_message_id(parsed.get()) != nullptr);
  BOOST_TEST(g_mime_object_get_header(GMIME_OBJECT(parsed.get()), "Date") != nullptr);

  body["mail_from"] = "bounces@tenant.example";
  BOOST_TEST(api::buildFromRaw(body.dump(), {}).submission.mail_from.str() == "bounces@tenant.example");
}

BOOST_AUTO_TEST_CASE(raw_refusals_name_their_field) {
  json body = {{"to", "user@dest.example"}, {"message_base64", "%%%"}};
  expectRefused(api::buildFromRaw(body.dump(), {}), 422, "invalid_base64", "message_base64");
  body["message_base64"] = base64::encode("Subject: no from\r\n\r\nbody\r\n");
  expectRefused(api::buildFromRaw(body.dump(), {}), 422, "invalid_message", "message_base64");
  body.erase("to");
  expectRefused(api::buildFromRaw(body.dump(), {}), 422, "missing_field", "to");
  expectRefused(api::buildFromRaw("{}", {}), 422, "missing_field", "message_base64");
}

BOOST_AUTO_TEST_CASE(error_body_is_json_naming_the_field) {
  const json parsed = json::parse(api::errorJson(api::Error{422, "invalid_address", "bad", "to[0]"}));
  BOOST_TEST(parsed["error"]["status"] == 422);
  BOOST_TEST(parsed["error"]["code"] == "invalid_address");
  BOOST_TEST(parsed["error"]["field"] == "to[0]");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(api_key)

// "<tenant>.<name>.<secret>": user names hold exactly one dot and secrets (base64url) none.
BOOST_AUTO_TEST_CASE(splits_at_the_last_dot) {
  std::string username;
  std::string secret;
  BOOST_TEST(api::splitApiKey("acme.crm.c2VjcmV0-_x", username, secret));
  BOOST_TEST(username == "acme.crm");
  BOOST_TEST(secret == "c2VjcmV0-_x");
  BOOST_TEST(!api::splitApiKey("acme.crm", username, secret));  // no secret: "acme" is no user name
  BOOST_TEST(!api::splitApiKey("nodots", username, secret));
  BOOST_TEST(!api::splitApiKey("acme.crm.", username, secret));
}

BOOST_AUTO_TEST_SUITE_END()
