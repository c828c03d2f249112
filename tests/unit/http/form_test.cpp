// Unit tests for form field lookup (http/form.h): urlencoded bodies ('+', %XX, a name without
// '=', the first of repeated names), multipart/form-data (quoted and token boundaries, a
// preamble, several parts, a field among files), and bodies that do not parse giving nothing:
// the RFC 8058 one-click unsubscribe POST in both encodings.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "mxgate/http/form.h"

namespace {

// The field's value after "=", or "<none>".
std::string found(std::string_view content_type, std::string_view body, std::string_view name) {
  const std::optional<std::string> value = mxgate::http::formField(content_type, body, name);
  return value ? "=" + *value : "<none>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_form)

BOOST_AUTO_TEST_CASE(urlencoded_fields_are_decoded) {
  BOOST_TEST(found("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", "List-Unsubscribe") ==
             "=One-Click");
  BOOST_TEST(found("", "a=1&List-Unsubscribe=One-Click\r\n", "List-Unsubscribe") == "=One-Click\r\n");
  BOOST_TEST(found("", "List%2DUnsubscribe=One%2dClick", "List-Unsubscribe") == "=One-Click");
  BOOST_TEST(found("", "q=a+b%20c%zz%4", "q") == "=a b c%zz%4");
  BOOST_TEST(found("", "flag&x=1", "flag") == "=");
  BOOST_TEST(found("", "x=1&x=2", "x") == "=1");
  BOOST_TEST(found("", "List-Unsubscribe-Other=One-Click", "List-Unsubscribe") == "<none>");
  BOOST_TEST(found("", "", "x") == "<none>");
}

BOOST_AUTO_TEST_CASE(multipart_fields_are_found_by_their_content_disposition_name) {
  const std::string body =
      "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nList-Unsubscribe\r\n--XyZ\r\n"
      "content-disposition: Form-Data; NAME=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
  BOOST_TEST(found("multipart/form-data; boundary=XyZ", body, "List-Unsubscribe") == "=One-Click");
  BOOST_TEST(found("Multipart/Form-Data; charset=utf-8; boundary=\"XyZ\"", body, "file") == "=List-Unsubscribe");
  BOOST_TEST(found("multipart/form-data; boundary=XyZ", body, "One-Click") == "<none>");
  const std::string starts = "--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n\r\n--b--";
  BOOST_TEST(found("multipart/form-data; boundary=b", starts, "n") == "=");
}

BOOST_AUTO_TEST_CASE(multipart_bodies_that_do_not_parse_give_nothing) {
  const std::string part = "--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nv";
  BOOST_TEST(found("multipart/form-data", part + "\r\n--b--", "n") == "<none>");                    // no boundary
  BOOST_TEST(found("multipart/form-data; boundary=\"b", part + "\r\n--b--", "n") == "<none>");      // open quote
  BOOST_TEST(found("multipart/form-data; boundary=b", part, "n") == "<none>");                      // not closed
  BOOST_TEST(found("multipart/form-data; boundary=b", "n=v", "n") == "<none>");                     // not multipart
  BOOST_TEST(found("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data", "n") == "<none>");
  BOOST_TEST(found("multipart/form-data; boundary=" + std::string(71, 'b'), part, "n") == "<none>");
}

BOOST_AUTO_TEST_SUITE_END()
