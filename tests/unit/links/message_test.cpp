// Whole-message tests: charsets and transfer encodings kept (RFC 2045 §6, RFC 2046 §4.1.2),
// untouched parts and headers byte-identical, List-Unsubscribe targets (RFC 2369) and no-track
// links kept in both parts, attachments and attached messages left alone, 7bit lines over 998
// octets (RFC 5322 §2.1.1) re-encoded as quoted-printable, and index order HTML then text.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gmime_test_util.h"
#include "links_test_util.h"
#include "mxgate/base/base64.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

using test::expectedLink;
using test::kQueueId;

// Base64 body lines of 76 characters, CRLF terminated.
std::string base64Lines(std::string_view bytes) {
  const std::string encoded = base64::encode(bytes);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76) {
    out += encoded.substr(i, 76) + "\r\n";
  }
  return out;
}

const std::string kPlain =
    "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln!\r\nVisit https://example.com/shop?item=1.\r\n"
    "Unsubscribe: https://example.org/unsub?u=1\r\nPrivate: https://example.com/private\r\n";
// iso-8859-1 bytes of the HTML body, and their quoted-printable form.
const std::string kHtml =
    "<html><body><p>Caf\xE9 cr\xE8me: <a href=\"https://example.com/menu\">menu</a></p>\r\n"
    "<p><a href=\"https://example.org/unsub?u=1\">unsubscribe</a> "
    "<a data-mxgate-no-track href=\"https://example.com/private\">private</a></p></body></html>\r\n";
const std::string kHtmlQp =
    "<html><body><p>Caf=E9 cr=E8me: <a href=3D\"https://example.com/menu\">menu</a></p>\r\n"
    "<p><a href=3D\"https://example.org/unsub?u=3D1\">unsubscribe</a> <a data-mxgate=\r\n"
    "-no-track href=3D\"https://example.com/private\">private</a></p></body></html>\r\n";
const std::string kPdf = std::string("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj <</URI (https://example.com/in-pdf)>> endobj\n") +
                         std::string(300, '\x07') + "\n%%EOF\n";

const std::string kHeaders =
    "Return-Path: <sender@example.org>\r\n"
    "From: =?utf-8?q?J=C3=B6rg?= <sender@example.org>\r\n"
    "To: rcpt@example.com\r\n"
    "Subject: Links and\r\n folded subject\r\n"
    "List-Unsubscribe: <mailto:unsub@example.org>,\r\n <https://example.org/unsub?u=1>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n";

const std::string kTail =
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n" +
    base64Lines(kPdf) +
    "--outer\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
    "Attached text with https://example.com/attached-note\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n\r\n"
    "From: a@example.org\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n"
    "<a href=\"https://example.com/inner\">Inner</a>\r\n"
    "--outer--\r\n";

const std::string kBeforeText =
    "This is a multi-part message.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n";

const std::string kMessage = kHeaders + kBeforeText + base64Lines(kPlain) +
                             "--alt\r\n"
                             "Content-Type: text/html; charset=iso-8859-1\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
                             kHtmlQp + "--alt--\r\n\r\n" + kTail;

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  size_t pos = 0;
  return test::replaceOnce(text, from, to, pos);
}

// The message rewritten in mode has the open pixel before </body> and nothing else changed.
void expectPixelOnly(const std::string& message, Mode mode) {
  const Result result = rewriteMessage(message, kQueueId, test::settings(mode));
  BOOST_TEST_REQUIRE(result.changed);
  BOOST_TEST(result.rewritten == 0u);
  BOOST_TEST(result.message == replaced(message, "</p></body>",
                                        "</p><img src=\"" + test::expectedPixel() +
                                            "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\"></body>"));
}

BOOST_AUTO_TEST_SUITE(links_message)

BOOST_AUTO_TEST_CASE(test_messages_round_trip_through_gmime) {
  BOOST_TEST(test::roundTrip(kMessage) == kMessage);
}

BOOST_AUTO_TEST_CASE(multipart_charsets_encodings_and_untouched_parts) {
  const Result result = rewriteMessage(kMessage, kQueueId, test::settings());
  BOOST_TEST_REQUIRE(result.changed);
  BOOST_TEST(result.rewritten == 2u);
  const std::string& out = result.message;

  // Headers, the preamble, the part headers before the first changed body, and everything after
  // the alternative part are byte-identical.
  BOOST_TEST(out.rfind(kHeaders + kBeforeText, 0) == 0u);
  BOOST_TEST_REQUIRE(out.size() > kTail.size());
  BOOST_TEST(out.substr(out.size() - kTail.size()) == kTail);

  BOOST_TEST(test::partTree(out) == test::partTree(kMessage));
  BOOST_TEST(test::partTree(out) ==
             "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf,text/plain,message/rfc822[text/html])");
  const auto parts = test::leafParts(out);
  BOOST_TEST_REQUIRE(parts.size() == 5u);

  BOOST_TEST(parts[0].charset == "utf-8");
  BOOST_TEST(parts[0].encoding == "base64");
  BOOST_TEST(parts[0].decoded == replaced(kPlain, "https://example.com/shop?item=1", expectedLink("https://example.com/shop?item=1", 2)));

  BOOST_TEST(parts[1].charset == "iso-8859-1");
  BOOST_TEST(parts[1].encoding == "quoted-printable");
  // The CRLF before a boundary delimiter belongs to the delimiter (RFC 2046 §5.1.1).
  const std::string html_body = kHtml.substr(0, kHtml.size() - 2);
  BOOST_TEST(parts[1].decoded == replaced(html_body, "https://example.com/menu", expectedLink("https://example.com/menu", 1)));
  BOOST_TEST(parts[1].decoded.find("Caf\xE9 cr\xE8me") != std::string::npos);

  BOOST_TEST(parts[2].decoded == kPdf);
  BOOST_TEST(parts[3].decoded == "Attached text with https://example.com/attached-note");
}

BOOST_AUTO_TEST_CASE(indices_run_html_then_text_and_limits_span_parts) {
  const std::string message =
      "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nhttps://example.com/t1 https://example.com/t2\r\n"
      "--b\r\nContent-Type: text/html\r\n\r\n<a href=\"https://example.com/h1\">1</a><a href=\"https://example.com/h2\">2</a>\r\n"
      "--b--\r\n";
  BOOST_TEST_REQUIRE(test::roundTrip(message) == message);
  const Result all = rewriteMessage(message, kQueueId, test::settings());
  BOOST_TEST(all.rewritten == 4u);
  auto parts = test::leafParts(all.message);
  BOOST_TEST_REQUIRE(parts.size() == 2u);
  BOOST_TEST(parts[0].decoded == expectedLink("https://example.com/t1", 3) + " " + expectedLink("https://example.com/t2", 4));
  BOOST_TEST(parts[1].decoded == "<a href=\"" + expectedLink("https://example.com/h1", 1) + "\">1</a><a href=\"" +
                                     expectedLink("https://example.com/h2", 2) + "\">2</a>");

  Settings limited = test::settings();
  limited.max_links = 3;
  const Result three = rewriteMessage(message, kQueueId, limited);
  BOOST_TEST(three.rewritten == 3u);
  parts = test::leafParts(three.message);
  BOOST_TEST(parts[0].decoded == expectedLink("https://example.com/t1", 3) + " https://example.com/t2");

  Settings html_only = test::settings();
  html_only.rewrite_text = false;
  const Result html = rewriteMessage(message, kQueueId, html_only);
  BOOST_TEST(html.rewritten == 2u);
  BOOST_TEST(html.message.find("\r\nhttps://example.com/t1 https://example.com/t2\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(long_7bit_line_becomes_quoted_printable) {
  std::string line;
  std::string expected_line;
  for (int i = 0; i < 12; ++i) {
    const std::string url = "https://example.com/page/" + std::to_string(i);
    line += (i ? " " : "") + url;
    expected_line += (i ? " " : "") + expectedLink(url, static_cast<uint32_t>(i + 1));
  }
  BOOST_TEST_REQUIRE(line.size() < 998u);
  BOOST_TEST_REQUIRE(expected_line.size() > 998u);
  const std::string headers =
      "From: a@example.org\r\nTo: b@example.com\r\nSubject: long\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\nX-After: 1\r\n\r\n";
  const std::string message = headers + line + "\r\nsecond line\r\n";
  BOOST_TEST_REQUIRE(test::roundTrip(message) == message);
  const Result result = rewriteMessage(message, kQueueId, test::settings());
  BOOST_TEST_REQUIRE(result.changed);
  BOOST_TEST(result.rewritten == 12u);
  BOOST_TEST(test::headerSection(result.message) ==
             replaced(headers, "Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: quoted-printable"));
  size_t start = 0;
  while (start < result.message.size()) {
    const size_t end = result.message.find("\r\n", start);
    BOOST_TEST_REQUIRE(end != std::string::npos);
    BOOST_TEST(end - start <= 76u);
    start = end + 2;
  }
  const auto parts = test::leafParts(result.message);
  BOOST_TEST_REQUIRE(parts.size() == 1u);
  BOOST_TEST(parts[0].encoding == "quoted-printable");
  BOOST_TEST(parts[0].decoded == expected_line + "\r\nsecond line\r\n");

  // Without a Content-Transfer-Encoding field, one is added.
  const std::string bare = "From: a@example.org\r\nSubject: long\r\n\r\n" + line + "\r\n";
  const Result added = rewriteMessage(bare, kQueueId, test::settings());
  BOOST_TEST(test::headerSection(added.message) ==
             "From: a@example.org\r\nSubject: long\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  BOOST_TEST(test::leafParts(added.message).at(0).decoded == expected_line + "\r\n");

  // A short rewrite of a 7bit part stays 7bit.
  const std::string short_message = headers + "https://example.com/x\r\n";
  const Result short_result = rewriteMessage(short_message, kQueueId, test::settings());
  BOOST_TEST(short_result.message == headers + expectedLink("https://example.com/x", 1) + "\r\n");
}

BOOST_AUTO_TEST_CASE(charsets_through_iconv_and_mislabelled_bytes) {
  // windows-1252 goes through iconv (0x80 is the euro sign there) and back.
  const std::string cp1252 =
      "From: a@example.org\r\nContent-Type: text/plain; charset=windows-1252\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nPreis 5 \x80: https://example.com/buy\r\n";
  BOOST_TEST_REQUIRE(test::roundTrip(cp1252) == cp1252);
  Result result = rewriteMessage(cp1252, kQueueId, test::settings());
  BOOST_TEST(result.message == replaced(cp1252, "https://example.com/buy", expectedLink("https://example.com/buy", 1)));
  // us-ascii with an 8-bit byte: the bytes pass through unchanged around the link.
  const std::string mislabelled =
      "From: a@example.org\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
      "<p>\xE9t\xE9 <a href=\"https://example.com/\xC3\xA9t\xC3\xA9\">x</a></p>\r\n";
  result = rewriteMessage(mislabelled, kQueueId, test::settings());
  BOOST_TEST(result.message == replaced(mislabelled, "https://example.com/\xC3\xA9t\xC3\xA9",
                                        expectedLink("https://example.com/\xC3\x83\xC2\xA9t\xC3\x83\xC2\xA9", 1)));
  // utf-8 without a charset parameter keeps its bytes and reads the URL as UTF-8.
  const std::string bare_utf8 = "From: a@example.org\r\n\r\n\xC3\xA9 https://example.com/\xC3\xA9\r\n";
  result = rewriteMessage(bare_utf8, kQueueId, test::settings());
  BOOST_TEST(result.message == "From: a@example.org\r\n\r\n\xC3\xA9 " + expectedLink("https://example.com/\xC3\xA9", 1) + "\r\n");
  // UTF-16 is not ASCII-compatible: a part that does not decode is left alone.
  const std::string utf16 =
      "From: a@example.org\r\nContent-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
      "https://example.com/x\r\n";
  result = rewriteMessage(utf16, kQueueId, test::settings());
  BOOST_TEST(!result.changed);
}

BOOST_AUTO_TEST_CASE(track_mode_message) {
  const std::string message =
      "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nNo links here.\r\n"
      "--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>No links here.</p></body></html>\r\n"
      "--b--\r\n";
  BOOST_TEST_REQUIRE(test::roundTrip(message) == message);
  expectPixelOnly(message, Mode::Track);
}

BOOST_AUTO_TEST_CASE(open_pixel_mode_leaves_links) {
  // Outbound tracking with opens but not clicks: the pixel only.
  const std::string message = "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
                              "<html><body><p><a href=\"https://example.com/\">x</a></p></body></html>\r\n";
  expectPixelOnly(message, Mode::OpenPixel);
}

BOOST_AUTO_TEST_CASE(nothing_to_rewrite) {
  const std::string no_links =
      "From: a@example.org\r\nContent-Type: text/html\r\n\r\n<p>Hello <a href=\"mailto:x@example.org\">x</a></p>\r\n";
  Result result = rewriteMessage(no_links, kQueueId, test::settings());
  BOOST_TEST(!result.changed);
  BOOST_TEST(result.message.empty());
  BOOST_TEST(result.rewritten == 0u);

  result = rewriteMessage(kMessage, kQueueId, test::settings(Mode::Off));
  BOOST_TEST(!result.changed);
  BOOST_TEST(result.message.empty());

  // Only an attachment and an attached message carry links.
  const std::string attached = kHeaders + "--outer\r\nContent-Type: text/plain\r\n\r\nhello\r\n" + kTail;
  result = rewriteMessage(attached, kQueueId, test::settings());
  BOOST_TEST(!result.changed);

  // Signed (RFC 1847, S/MIME or PGP/MIME) content is left alone: a rewrite would break it.
  const std::string signed_message =
      "From: a@example.org\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s\r\n\r\n"
      "--s\r\nContent-Type: text/html\r\n\r\n<a href=\"https://example.com/signed\">x</a>\r\n"
      "--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--s--\r\n";
  BOOST_TEST(!rewriteMessage(signed_message, kQueueId, test::settings()).changed);

  // Not a message at all, and empty input.
  BOOST_TEST(!rewriteMessage("", kQueueId, test::settings()).changed);
  BOOST_TEST(!rewriteMessage(std::string(1000, '\0'), kQueueId, test::settings()).changed);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::links
