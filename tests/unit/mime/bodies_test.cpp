// mime::parse, body side: text and HTML bodies (RFC 2046 multipart/alternative and mixed),
// attachments with RFC 2183 dispositions and RFC 2231 / RFC 2047 file names, decoded sizes and
// SHA-256, charset conversion against GMime's own charset samples (corpora/mime/gmime-charsets),
// DSN detection (RFC 3462/3464), nested message/rfc822 parts (plain and base64-encoded), the
// structure string and every limit.
#include <boost/test/unit_test.hpp>

#include <string>

#include "mime_test_util.h"
#include "mxgate/base/base64.h"
#include "mxgate/mime/message.h"

namespace mxgate::mime {
namespace {

using test::crlf;
using test::readFile;

const std::string kCharsets = std::string(MXGATE_SHARED_DIR) + "/corpora/mime/gmime-charsets/";

const std::string kAlternative = crlf(
    "From: a@example.com\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>Grüße</p>\n"
    "--alt--\n");

BOOST_AUTO_TEST_SUITE(mime_bodies)

BOOST_AUTO_TEST_CASE(alternative_gives_text_and_html) {
  const Message m = parse(kAlternative);
  BOOST_TEST(m.text == "Grüße");
  BOOST_TEST(m.html == "<p>Grüße</p>");
  BOOST_TEST(m.attachments.empty());
  BOOST_TEST(m.structure == "multipart/alternative(text/plain,text/html)");
  BOOST_TEST(m.part_count == 3u);
  BOOST_TEST(!m.truncated);
}

BOOST_AUTO_TEST_CASE(mixed_with_related_html_and_attachments) {
  const Message m = parse(crlf(
      "Content-Type: multipart/mixed; boundary=\"mix\"\n"
      "\n"
      "preamble\n"
      "--mix\n"
      "Content-Type: multipart/alternative; boundary=\"alt\"\n"
      "\n"
      "--alt\n"
      "Content-Type: text/plain\n"
      "\n"
      "plain body\n"
      "--alt\n"
      "Content-Type: multipart/related; boundary=\"rel\"\n"
      "\n"
      "--rel\n"
      "Content-Type: text/html\n"
      "\n"
      "<img src=\"cid:logo@x\">\n"
      "--rel\n"
      "Content-Type: image/gif\n"
      "Content-ID: <logo@x>\n"
      "Content-Transfer-Encoding: base64\n"
      "\n"
      "R0lGODlhAQABAA==\n"
      "--rel--\n"
      "--alt--\n"
      "--mix\n"
      "Content-Type: text/plain; name=\"notes.txt\"\n"
      "\n"
      "Attachment text.\n"
      "--mix\n"
      "Content-Type: text/html\n"
      "Content-Disposition: attachment\n"
      "\n"
      "<b>attached html</b>\n"
      "--mix\n"
      "Content-Type: application/pdf\n"
      "Content-Disposition: attachment; filename*=utf-8''Rechnung%20%E2%82%AC%2012.pdf\n"
      "Content-Transfer-Encoding: base64\n"
      "\n"
      "JVBERi0xLjQgZmFrZQ==\n"
      "--mix\n"
      "Content-Type: text/plain\n"
      "Content-Disposition: inline\n"
      "\n"
      "footer\n"
      "--mix--\n"
      "epilogue\n"));
  BOOST_TEST(m.text == "plain body\nfooter");
  BOOST_TEST(m.html == "<img src=\"cid:logo@x\">");
  BOOST_TEST(m.structure ==
             "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/gif)),"
             "text/plain,text/html,application/pdf,text/plain)");
  BOOST_TEST(m.part_count == 10u);
  BOOST_TEST_REQUIRE(m.attachments.size() == 4u);

  const Attachment& gif = m.attachments[0];
  BOOST_TEST(gif.filename == "");
  BOOST_TEST(gif.content_type == "image/gif");
  BOOST_TEST(gif.disposition == "inline");
  BOOST_TEST(gif.content_id == "logo@x");
  BOOST_TEST(gif.size == 10u);
  BOOST_TEST(gif.sha256 == "fb6567d497606314a968515ebf9063dcee9fcff777897c384ed8e6a26dbd7190");
  BOOST_TEST(gif.content == std::string("GIF89a\x01\x00\x01\x00", 10));
  BOOST_TEST(gif.content_kept);

  const Attachment& notes = m.attachments[1];
  BOOST_TEST(notes.filename == "notes.txt");
  BOOST_TEST(notes.content_type == "text/plain");
  BOOST_TEST(notes.disposition == "attachment");
  BOOST_TEST(notes.content == "Attachment text.");
  BOOST_TEST(notes.sha256 == "f9ec8c9ab1aa9df1dd3280330f644ea12e67bdb6674e0dedf8c2a1c0171ae447");

  BOOST_TEST(m.attachments[2].content_type == "text/html");
  BOOST_TEST(m.attachments[2].filename == "");
  BOOST_TEST(m.attachments[2].disposition == "attachment");

  const Attachment& pdf = m.attachments[3];
  BOOST_TEST(pdf.filename == "Rechnung € 12.pdf");
  BOOST_TEST(pdf.content_type == "application/pdf");
  BOOST_TEST(pdf.size == 13u);
  BOOST_TEST(pdf.sha256 == "932d2676c1e461ba50d559bba416fbc6af8da1f74309ae81370c615223d0e349");
  BOOST_TEST(pdf.content == "%PDF-1.4 fake");
}

BOOST_AUTO_TEST_CASE(file_name_encodings) {
  const Message m = parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "Content-Type: application/octet-stream; name=\"=?UTF-8?Q?=C3=BCbersicht=2Exlsx?=\"\n"
      "\n"
      "a\n"
      "--b\n"
      "Content-Type: application/octet-stream\n"
      "Content-Disposition: attachment;\n"
      " filename*0*=iso-8859-1''Gr%FC%DFe%20;\n"
      " filename*1=\"und Tsch\"; filename*2*=%FC%DF.txt\n"
      "\n"
      "b\n"
      "--b--\n"));
  BOOST_TEST_REQUIRE(m.attachments.size() == 2u);
  BOOST_TEST(m.attachments[0].filename == "übersicht.xlsx");
  BOOST_TEST(m.attachments[1].filename == "Grüße und Tschüß.txt");
}

BOOST_AUTO_TEST_CASE(html_only_and_several_inline_text_parts) {
  const Message html = parse(crlf("Content-Type: text/html; charset=us-ascii\n\n<p>hi</p>\n"));
  BOOST_TEST(html.text == "");
  BOOST_TEST(html.html == "<p>hi</p>\r\n");

  const Message joined = parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\none\n"
      "--b\nContent-Type: image/png\n\npng\n"
      "--b\nContent-Type: text/plain\n\ntwo\n"
      "--b\nContent-Type: text/html\n\n<p>1</p>\n"
      "--b\nContent-Type: text/html\n\n<p>2</p>\n"
      "--b--\n"));
  BOOST_TEST(joined.text == "one\ntwo");
  BOOST_TEST(joined.html == "<p>1</p>\n<p>2</p>");
  BOOST_TEST_REQUIRE(joined.attachments.size() == 1u);
  BOOST_TEST(joined.attachments[0].content_type == "image/png");
}

BOOST_AUTO_TEST_CASE(other_alternatives_become_attachments) {
  const Message m = parse(crlf(
      "Content-Type: multipart/alternative; boundary=a\n\n"
      "--a\nContent-Type: text/plain\n\nfirst\n"
      "--a\nContent-Type: text/plain\n\nsecond\n"
      "--a\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n"
      "--a\nContent-Type: text/html\n\n<p>x</p>\n"
      "--a--\n"));
  BOOST_TEST(m.text == "first");
  BOOST_TEST(m.html == "<p>x</p>");
  BOOST_TEST_REQUIRE(m.attachments.size() == 2u);
  BOOST_TEST(m.attachments[0].content_type == "text/plain");
  BOOST_TEST(m.attachments[0].content == "second");
  BOOST_TEST(m.attachments[1].content_type == "text/calendar");
}

// GMime's charset samples: the same text in legacy charsets must come out as the UTF-8 file.
BOOST_AUTO_TEST_CASE(legacy_charsets_convert_to_utf8) {
  struct Sample {
    const char* file;
    const char* charset;
    const char* utf8_file;
  };
  const Sample samples[] = {
      {"cyrillic.cp1251.txt", "windows-1251", "cyrillic.utf-8.txt"},
      {"cyrillic.koi8-r.txt", "koi8-r", "cyrillic.utf-8.txt"},
      {"cyrillic.iso-8859-5.txt", "iso-8859-5", "cyrillic.utf-8.txt"},
      {"japanese.iso-2022-jp.txt", "iso-2022-jp", "japanese.utf-8.txt"},
      {"japanese.shift-jis.txt", "shift_jis", "japanese.utf-8.txt"},
      {"japanese.utf-8.txt", "utf-8", "japanese.utf-8.txt"},
  };
  for (const Sample& sample : samples) {
    BOOST_TEST_CONTEXT(sample.file) {
      const std::string message = crlf(std::string("Content-Type: text/plain; charset=\"") + sample.charset +
                                        "\"\nContent-Transfer-Encoding: base64\n\n") +
                                  base64::encode(readFile(kCharsets + sample.file)) + "\r\n";
      const std::string expected = readFile(kCharsets + sample.utf8_file);
      BOOST_TEST_REQUIRE(!expected.empty());
      BOOST_TEST(parse(message).text == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(big5_and_windows_1252) {
  // chinese.utf-8.txt holds characters Big5 lacks, so the Big5 sample is checked by its text.
  const std::string big5 = crlf("Content-Type: text/plain; charset=big5\nContent-Transfer-Encoding: base64\n\n") +
                           base64::encode(readFile(kCharsets + "chinese.big5.txt")) + "\r\n";
  const Message chinese = parse(big5);
  BOOST_TEST(chinese.text.starts_with("基換年大田胞中強活味。意愛需免室要身代打邸政開。"));
  // 0x92 is U+2019 in windows-1252; GMime's mapping of the iso-8859-1 label is not asked here.
  const std::string fable =
      crlf("Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n") +
                            base64::encode(readFile(kCharsets + "french-fable.cp1252.txt")) + "\r\n";
  const Message french = parse(fable);
  BOOST_TEST(french.text.starts_with("Maître Corbeau, sur un arbre perché,\nTenait en son bec un fromage.\n"
                                     "Maître Renard, par l’odeur alléché,"));
}

BOOST_AUTO_TEST_CASE(quoted_printable_utf8) {
  const std::string qp = readFile(kCharsets + "wikipedia.qp");
  const Message m =
      parse("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp);
  BOOST_TEST(m.text == readFile(kCharsets + "wikipedia.txt"));
}

BOOST_AUTO_TEST_CASE(undeclared_and_wrong_charsets_are_repaired) {
  // 8-bit Latin-1 without a charset and under a us-ascii label: GMime's fallback gives é.
  BOOST_TEST(parse(crlf("Content-Type: text/plain\n\ncaf\xE9\n")).text == "café\r\n");
  BOOST_TEST(parse(crlf("Content-Type: text/plain; charset=us-ascii\n\ncaf\xE9\n")).text == "café\r\n");
  BOOST_TEST(parse(crlf("Content-Type: text/plain; charset=x-no-such-charset\n\ncaf\xE9\n")).text == "café\r\n");
  // Invalid bytes in a declared UTF-8 part never leave as malformed UTF-8.
  BOOST_TEST(parse(crlf("Content-Type: text/plain; charset=utf-8\n\nok \xC3\xA9 \xE9\n")).text == "ok Ã© é\r\n");
}

BOOST_AUTO_TEST_CASE(delivery_status_notification) {
  const std::string dsn = crlf(
      "From: MAILER-DAEMON@mx.example\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n"
      "\n"
      "--r\n"
      "Content-Type: text/plain\n"
      "\n"
      "Delivery failed.\n"
      "--r\n"
      "Content-Type: message/delivery-status\n"
      "\n"
      "Reporting-MTA: dns; mx.example\n"
      "\n"
      "Final-Recipient: rfc822; gone@example.com\n"
      "Action: failed\n"
      "Status: 5.1.1\n"
      "--r\n"
      "Content-Type: message/rfc822\n"
      "\n"
      "Subject: original\n"
      "Content-Type: text/plain\n"
      "\n"
      "original body\n"
      "--r--\n");
  const Message m = parse(dsn);
  BOOST_TEST(m.is_bounce);
  BOOST_TEST(m.text == "Delivery failed.");
  BOOST_TEST(m.structure == "multipart/report(text/plain,message/delivery-status,message/rfc822(text/plain))");
  BOOST_TEST_REQUIRE(m.attachments.size() == 2u);
  BOOST_TEST(m.attachments[0].content_type == "message/delivery-status");
  BOOST_TEST(m.attachments[1].content_type == "message/rfc822");
  BOOST_TEST(m.attachments[1].content == "Subject: original\r\nContent-Type: text/plain\r\n\r\noriginal body");

  const Message mdn = parse(crlf(
      "Content-Type: multipart/report; report-type=disposition-notification; boundary=r\n\n"
      "--r\nContent-Type: text/plain\n\nread\n"
      "--r\nContent-Type: message/disposition-notification\n\nDisposition: manual-action/MDN-sent-manually; displayed\n"
      "--r--\n"));
  BOOST_TEST(!mdn.is_bounce);

  const Message lone = parse(crlf(
      "Content-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: message/delivery-status\n\nAction: failed\n"
      "--m--\n"));
  BOOST_TEST(lone.is_bounce);

  // A forwarded bounce is not itself a bounce.
  const Message forwarded = parse(crlf("Subject: Fwd: bounce\nContent-Type: multipart/mixed; boundary=f\n\n"
                                       "--f\nContent-Type: text/plain\n\nsee below\n"
                                       "--f\nContent-Type: message/rfc822\n\n") +
                                  dsn + crlf("--f--\n"));
  BOOST_TEST(!forwarded.is_bounce);
  BOOST_TEST(forwarded.text == "see below");
  BOOST_TEST(forwarded.structure ==
             "multipart/mixed(text/plain,message/rfc822(multipart/report(text/plain,message/delivery-status,"
             "message/rfc822(text/plain))))");
  BOOST_TEST_REQUIRE(forwarded.attachments.size() == 1u);
  BOOST_TEST(forwarded.attachments[0].content_type == "message/rfc822");
}

BOOST_AUTO_TEST_CASE(nested_message_is_one_attachment) {
  const Message m = parse(crlf(
      "Content-Type: multipart/mixed; boundary=o\n"
      "\n"
      "--o\n"
      "Content-Type: text/plain\n"
      "\n"
      "outer text\n"
      "--o\n"
      "Content-Type: message/rfc822\n"
      "Content-Disposition: attachment; filename=\"fwd.eml\"\n"
      "\n"
      "From: inner@example.com\n"
      "Subject: inner\n"
      "Content-Type: multipart/alternative; boundary=i\n"
      "\n"
      "--i\n"
      "Content-Type: text/plain\n"
      "\n"
      "inner text\n"
      "--i\n"
      "Content-Type: text/html\n"
      "\n"
      "<p>inner</p>\n"
      "--i--\n"
      "--o--\n"));
  BOOST_TEST(m.text == "outer text");
  BOOST_TEST(m.html == "");
  BOOST_TEST(m.structure == "multipart/mixed(text/plain,message/rfc822(multipart/alternative(text/plain,text/html)))");
  BOOST_TEST(m.part_count == 6u);
  BOOST_TEST_REQUIRE(m.attachments.size() == 1u);
  const Attachment& inner = m.attachments[0];
  BOOST_TEST(inner.filename == "fwd.eml");
  BOOST_TEST(inner.content_type == "message/rfc822");
  BOOST_TEST(inner.disposition == "attachment");
  BOOST_TEST(inner.content.starts_with("From: inner@example.com\r\nSubject: inner\r\n"));
  BOOST_TEST(inner.content.find("<p>inner</p>") != std::string::npos);
  BOOST_TEST(inner.size == inner.content.size());
}

BOOST_AUTO_TEST_CASE(base64_encoded_nested_message) {
  const std::string inner = crlf("Subject: encoded\nContent-Type: text/plain\n\nhidden text\n");
  const Message m = parse(crlf("Content-Type: multipart/mixed; boundary=o\n\n"
                               "--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n") +
                          base64::encode(inner) + crlf("\n--o--\n"));
  BOOST_TEST(m.structure == "multipart/mixed(message/rfc822(text/plain))");
  BOOST_TEST(m.text == "");
  BOOST_TEST_REQUIRE(m.attachments.size() == 1u);
  BOOST_TEST(m.attachments[0].content_type == "message/rfc822");
  BOOST_TEST(m.attachments[0].content == inner);
}

BOOST_AUTO_TEST_CASE(nested_encoded_messages_cannot_multiply_memory) {
  // Quoted-printable decoding of plain ASCII is the identity, so each level is nearly as large
  // as the one around it; the re-parsed bytes stay within the input's size in total.
  std::string message = crlf("Subject: innermost\n\nbody\n");
  for (int level = 0; level < 5; ++level) {
    message = crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n") + message;
  }
  const Message m = parse(message);
  BOOST_TEST(m.structure == "message/rfc822(message/rfc822)");
  BOOST_TEST(m.part_count == 2u);
  BOOST_TEST(m.skipped_parts == 1u);
  BOOST_TEST(m.truncated);
  BOOST_TEST_REQUIRE(m.attachments.size() == 1u);
  BOOST_TEST(m.attachments[0].size == message.size() - 77);  // the decoded content: everything after the top header
}

BOOST_AUTO_TEST_CASE(part_limit) {
  Limits limits;
  limits.max_parts = 3;
  const Message m = parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\nbody\n"
      "--b\nContent-Type: image/png\n\n1\n"
      "--b\nContent-Type: image/png\n\n2\n"
      "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
      "--c\nContent-Type: image/png\n\n3\n"
      "--c--\n"
      "--b--\n"),
                          limits);
  BOOST_TEST(m.part_count == 3u);
  BOOST_TEST(m.skipped_parts == 3u);
  BOOST_TEST(m.truncated);
  BOOST_TEST(m.text == "body");
  BOOST_TEST(m.structure == "multipart/mixed(text/plain,image/png)");
  BOOST_TEST(m.attachments.size() == 1u);
}

BOOST_AUTO_TEST_CASE(depth_limit) {
  std::string nested = "Content-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i < 5; ++i) {
    nested += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) +
              "\n\n";
  }
  nested += "--b4\nContent-Type: text/plain\n\ndeep\n--b4--\n";
  for (int i = 4; i-- > 0;) {
    nested += "--b" + std::to_string(i) + "--\n";
  }
  const Message whole = parse(crlf(nested));
  BOOST_TEST(whole.structure ==
             "multipart/mixed(multipart/mixed(multipart/mixed(multipart/mixed(multipart/mixed(text/plain)))))");
  BOOST_TEST(whole.text == "deep");

  Limits limits;
  limits.max_depth = 2;
  const Message cut = parse(crlf(nested), limits);
  BOOST_TEST(cut.structure == "multipart/mixed(multipart/mixed(multipart/mixed))");
  BOOST_TEST(cut.part_count == 3u);
  BOOST_TEST(cut.skipped_parts == 3u);
  BOOST_TEST(cut.truncated);
  BOOST_TEST(cut.text == "");
}

BOOST_AUTO_TEST_CASE(deep_nesting_does_not_recurse) {
  std::string nested;
  const int levels = 3000;  // beyond GMime's own nesting limit of 1024
  for (int i = 0; i < levels; ++i) {
    const std::string boundary = "b" + std::to_string(i);
    nested += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary + "\r\n";
  }
  nested += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  const Message m = parse(nested);
  BOOST_TEST(m.part_count == 33u);  // the root and 32 levels (Limits::max_depth)
  BOOST_TEST(m.skipped_parts > 0u);
  BOOST_TEST(m.truncated);
}

BOOST_AUTO_TEST_CASE(kept_attachment_bytes) {
  Limits limits;
  limits.max_kept_attachment_bytes = 10;
  const Message m = parse(crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream\n\n123456\n"
      "--b\nContent-Type: application/octet-stream\n\n12345\n"
      "--b\nContent-Type: application/octet-stream\n\n1\n"
      "--b--\n"),
                          limits);
  BOOST_TEST_REQUIRE(m.attachments.size() == 3u);
  BOOST_TEST(m.attachments[0].content_kept);
  BOOST_TEST(m.attachments[0].content == "123456");
  BOOST_TEST(!m.attachments[1].content_kept);
  BOOST_TEST(m.attachments[1].content == "");
  BOOST_TEST(m.attachments[1].size == 5u);
  BOOST_TEST(m.attachments[1].sha256 == "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5");
  BOOST_TEST(!m.attachments[2].content_kept);  // once the budget is exceeded, nothing more is kept
  BOOST_TEST(!m.truncated);
}

BOOST_AUTO_TEST_CASE(body_limit_cuts_on_a_character_boundary) {
  Limits limits;
  limits.max_body_bytes = 6;
  const Message m = parse(crlf("Content-Type: text/plain; charset=utf-8\n\naaaaa\xC3\xA9zzz\n"), limits);
  BOOST_TEST(m.text == "aaaaa");
  BOOST_TEST(m.truncated);

  limits.max_body_bytes = 7;
  BOOST_TEST(parse(crlf("Content-Type: text/plain; charset=utf-8\n\naaaaa\xC3\xA9zzz\n"), limits).text == "aaaaaé");

  limits.max_body_bytes = 5;
  const Message joined = parse(crlf("Content-Type: multipart/mixed; boundary=b\n\n"
                                    "--b\nContent-Type: text/plain\n\nabcd\n"
                                    "--b\nContent-Type: text/plain\n\nxyz\n"
                                    "--b--\n"),
                               limits);
  BOOST_TEST(joined.text == "abcd\n");
  BOOST_TEST(joined.truncated);
}

BOOST_AUTO_TEST_CASE(content_types_are_lower_case) {
  const Message m = parse(crlf("Content-Type: MULTIPART/Mixed; boundary=b\n\n"
                               "--b\nContent-Type: Text/PLAIN\n\nx\n"
                               "--b\nContent-Type: Application/PDF\n\ny\n"
                               "--b--\n"));
  BOOST_TEST(m.structure == "multipart/mixed(text/plain,application/pdf)");
  BOOST_TEST_REQUIRE(m.attachments.size() == 1u);
  BOOST_TEST(m.attachments[0].content_type == "application/pdf");
  BOOST_TEST(m.text == "x");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::mime
