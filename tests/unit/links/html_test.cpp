// HTML rewriting tests: which hrefs are rewritten (http/https only; not our host, other
// rewriters, allow-listed hosts or no-track links), quoting and entity handling, byte
// identity outside the replaced values, and the Track-mode open pixel.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "links_test_util.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

using test::expectedLink;
using test::kQueueId;
using test::replaceOnce;

std::string rewrite(std::string_view html, const Settings& settings, uint32_t& next_index,
                    const std::vector<std::string>& skip = {}) {
  return rewriteHtml(html, kQueueId, settings, skip, next_index);
}

BOOST_AUTO_TEST_SUITE(links_html)

const std::string kDocument =
    "<!DOCTYPE html>\r\n<html><head><title>T &amp; C</title></head>\r\n<body>\r\n"
    "<p><a href=\"https://example.com/a?x=1&amp;y=2\">one</a>\r\n"
    "<a href='http://example.org/b' class=x>two</a>\r\n"
    "<a class=y href=https://example.net/c>three</a>\r\n"
    "<a href=\"mailto:someone@example.com\">mail</a> <a href=\"tel:+123\">tel</a>\r\n"
    "<a href=\"/relative/path\">rel</a> <a href=\"#frag\">frag</a> <a href=\"ftp://example.com/f\">ftp</a>\r\n"
    "<A HREF=\" HTTPS://Example.com/upper \">upper</A>\r\n"
    "<a data-mxgate-no-track href=\"https://example.com/notrack1\">nt1</a>\r\n"
    "<a clicktracking=\"OFF\" href=\"https://example.com/notrack2\">nt2</a>\r\n"
    "<a href=\"https://allowed.example/x\">allowed</a> <a href=\"https://Sub.Allowed.Example/y\">sub</a>\r\n"
    "<a href=\"https://www.partner.example:8443/p\">partner</a>\r\n"
    "<a href=\"https://notallowed.example/z\">not allowed</a>\r\n"
    "<a href=\"https://urldefense.com/v3/__https://x.example__;!!abc$\">pp3</a>\r\n"
    "<a href=\"https://urldefense.proofpoint.com/v2/url?u=https-3A__x.example\">pp2</a>\r\n"
    "<a href=\"https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fx.example\">sl</a>\r\n"
    "<a href=\"https://url.uk.m.mimecastprotect.com/s/abc\">mc</a> <a href=\"https://protect-us.mimecast.com/s/abc\">mc2</a>\r\n"
    "<a href=\"https://links.example.test/l/k/p/m\">own</a> <a href=\"https://LINKS.example.test:443/o/k/p/m\">own2</a>\r\n"
    "<map><area shape=rect coords=\"0,0,1,1\" href=\"https://example.com/area\"></map>\r\n"
    "<img src=\"https://example.com/img.png\"> <link href=\"https://example.com/style.css\">\r\n"
    "</p></body></html>\r\n";

BOOST_AUTO_TEST_CASE(only_http_links_are_rewritten) {
  uint32_t next_index = 1;
  const std::string out = rewrite(kDocument, test::settings(), next_index);
  BOOST_TEST(next_index == 7u);

  // The expected output, built from the input by replacing exactly the attribute values.
  std::string expected = kDocument;
  size_t pos = 0;
  expected = replaceOnce(expected, "\"https://example.com/a?x=1&amp;y=2\"",
                         "\"" + expectedLink("https://example.com/a?x=1&y=2", 1) + "\"", pos);
  expected = replaceOnce(expected, "'http://example.org/b'", "'" + expectedLink("http://example.org/b", 2) + "'", pos);
  expected = replaceOnce(expected, "https://example.net/c", "\"" + expectedLink("https://example.net/c", 3) + "\"", pos);
  expected = replaceOnce(expected, "\" HTTPS://Example.com/upper \"",
                         "\"" + expectedLink("HTTPS://Example.com/upper", 4) + "\"", pos);
  expected = replaceOnce(expected, "\"https://notallowed.example/z\"",
                         "\"" + expectedLink("https://notallowed.example/z", 5) + "\"", pos);
  expected = replaceOnce(expected, "\"https://example.com/area\"", "\"" + expectedLink("https://example.com/area", 6) + "\"", pos);
  BOOST_TEST(out == expected);
}

BOOST_AUTO_TEST_CASE(unchanged_document_is_returned_as_is) {
  uint32_t next_index = 1;
  const std::string html = "<p><a href=\"mailto:x@example.com\">x</a> <a href=\"#top\">top</a></p>";
  BOOST_TEST(rewrite(html, test::settings(), next_index) == html);
  BOOST_TEST(next_index == 1u);
  BOOST_TEST(rewrite(kDocument, test::settings(Mode::Off), next_index) == kDocument);
  BOOST_TEST(next_index == 1u);
  Settings no_key = test::settings();
  no_key.key = nullptr;
  BOOST_TEST(rewrite(kDocument, no_key, next_index) == kDocument);
}

BOOST_AUTO_TEST_CASE(entities_and_escaping) {
  // The decoded value is the target; the host of the new link is escaped in the attribute.
  Settings settings = test::settings();
  settings.host = "links.example.test/&\"x";
  uint32_t next_index = 5;
  const std::string html = "<a href=\"h&#116;tps://example.com/?a=1&amp;b=&quot;2&quot;&lt;\">x</a>";
  const std::string link = signLink('l', settings.host, test::currentKey(),
                                    LinkTarget{"https://example.com/?a=1&b=\"2\"<", std::string(kQueueId), 5, std::string(test::kTenant), {}});
  std::string escaped;
  for (char c : link) {
    escaped += c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  }
  BOOST_TEST(escaped.find("links.example.test/&amp;&quot;x/l/") != std::string::npos);
  BOOST_TEST(rewrite(html, settings, next_index) == "<a href=\"" + escaped + "\">x</a>");
  BOOST_TEST(next_index == 6u);
}

BOOST_AUTO_TEST_CASE(browser_reading_of_values) {
  // Tabs and newlines inside are dropped, control characters around trimmed, as browsers do.
  uint32_t next_index = 1;
  const std::string html = "<a href=\"\x01 ht\ttp://exa\r\nmple.com/p \x1f\">x</a><a href=\"https:\\\\example.com\\q\">y</a>";
  BOOST_TEST(rewrite(html, test::settings(), next_index) ==
             "<a href=\"" + expectedLink("http://example.com/p", 1) + "\">x</a><a href=\"" +
                 expectedLink("https:\\\\example.com\\q", 2) + "\">y</a>");
  // A backslash ends the authority: this goes to evil.example, not to the allow-listed host.
  next_index = 1;
  const std::string sneaky = "<a href=\"https://evil.example\\@allowed.example/\">x</a>";
  BOOST_TEST(rewrite(sneaky, test::settings(), next_index) ==
             "<a href=\"" + expectedLink("https://evil.example\\@allowed.example/", 1) + "\">x</a>");
  // User info before the last '@' is not the host.
  next_index = 1;
  const std::string userinfo = "<a href=\"https://allowed.example@evil.example/\">x</a><a href=\"https://u@allowed.example/\">y</a>";
  BOOST_TEST(rewrite(userinfo, test::settings(), next_index) ==
             "<a href=\"" + expectedLink("https://allowed.example@evil.example/", 1) +
                 "\">x</a><a href=\"https://u@allowed.example/\">y</a>");
}

BOOST_AUTO_TEST_CASE(skip_urls_and_limits) {
  const std::string html =
      "<a href=\"https://example.com/1\">1</a><a href=\"https://example.com/unsub\">u</a>"
      "<a href=\"https://example.com/2\">2</a><a href=\"https://example.com/3\">3</a>";
  uint32_t next_index = 1;
  Settings settings = test::settings();
  settings.max_links = 2;
  BOOST_TEST(rewrite(html, settings, next_index, {"https://example.com/unsub"}) ==
             "<a href=\"" + expectedLink("https://example.com/1", 1) +
                 "\">1</a><a href=\"https://example.com/unsub\">u</a><a href=\"" + expectedLink("https://example.com/2", 2) +
                 "\">2</a><a href=\"https://example.com/3\">3</a>");
  BOOST_TEST(next_index == 3u);
  // Too long a URL stays.
  next_index = 1;
  const std::string long_url = "https://example.com/" + std::string(8192 - 20, 'a');
  BOOST_TEST(long_url.size() == 8192u);
  const std::string longer = "<a href=\"" + long_url + "b\">x</a><a href=\"" + long_url + "\">y</a>";
  BOOST_TEST(rewrite(longer, test::settings(), next_index) ==
             "<a href=\"" + long_url + "b\">x</a><a href=\"" + expectedLink(long_url, 1) + "\">y</a>");
}

BOOST_AUTO_TEST_CASE(misnested_anchor_is_rewritten_once) {
  // The adoption agency clones the <a> (same source attribute twice in the tree).
  uint32_t next_index = 1;
  const std::string html = "<a href=\"https://example.com/x\"><p>one</a>two</p><b><a href=https://example.com/y><i>z</b>w</i>";
  BOOST_TEST(rewrite(html, test::settings(), next_index) ==
             "<a href=\"" + expectedLink("https://example.com/x", 1) + "\"><p>one</a>two</p><b><a href=\"" +
                 expectedLink("https://example.com/y", 2) + "\"><i>z</b>w</i>");
  BOOST_TEST(next_index == 3u);
}

BOOST_AUTO_TEST_CASE(track_mode_pixel) {
  const std::string pixel = "<img src=\"" + test::expectedPixel() + "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
  uint32_t next_index = 1;
  const std::string html = "<html><body><p>Hi <a href=\"https://example.com/\">x</a></p>\r\n</BODY>\r\n</html>\r\n";
  BOOST_TEST(rewrite(html, test::settings(Mode::Track), next_index) ==
             "<html><body><p>Hi <a href=\"" + expectedLink("https://example.com/", 1) + "\">x</a></p>\r\n" + pixel +
                 "</BODY>\r\n</html>\r\n");
  // Without </body> in the source, at the end; also without any link.
  next_index = 1;
  BOOST_TEST(rewrite("<p>no links</p>", test::settings(Mode::Track), next_index) == "<p>no links</p>" + pixel);
  BOOST_TEST(next_index == 1u);
  // A link after </body> is still rewritten; the pixel stays before </body>.
  next_index = 1;
  BOOST_TEST(rewrite("<body>a</body><a href=\"http://example.com/late\">l</a>", test::settings(Mode::Track), next_index) ==
             "<body>a" + pixel + "</body><a href=\"" + expectedLink("http://example.com/late", 1) + "\">l</a>");
  // SafeLinks mode adds no pixel.
  next_index = 1;
  BOOST_TEST(rewrite("<p>no links</p>", test::settings(), next_index) == "<p>no links</p>");
}

std::string repeated(std::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) {
    out += piece;
  }
  return out;
}

BOOST_AUTO_TEST_CASE(deep_documents_are_scanned_tag_by_tag) {
  // Gumbo's tree construction is quadratic in depth (200,000 nested divs took minutes); past
  // the depth limit each <a>/<area> tag is parsed alone, with the same result.
  uint32_t next_index = 1;
  const std::string deep = repeated("<div>", 300);
  const std::string out = rewrite(deep + kDocument, test::settings(), next_index);
  BOOST_TEST(next_index == 7u);
  uint32_t shallow_index = 1;
  BOOST_TEST(out == deep + rewrite(kDocument, test::settings(), shallow_index));

  // Comments, raw text and attribute values hide tags from the scan as they do from parsers.
  next_index = 1;
  const std::string hidden = repeated("<div>", 300) +
                             "<!-- <a href=\"https://example.com/c1\"> --><!--> <a href=\"https://example.com/a1\">"
                             "<script>var s = '<a href=\"https://example.com/s1\">';</script  >"
                             "<textarea><a href=\"https://example.com/t1\"></TEXTAREA>"
                             "<p title='<a href=\"https://example.com/v1\">' data-x=\"a>b\"><a\nhref=https://example.com/a2>"
                             "<style><a href=\"https://example.com/st\"></style><? <a href=\"https://example.com/pi\"> ?>"
                             "<a href=\"&#104;ttps://example.com/a3?x=1&amp;y=2\" clicktracking=&#111;ff>"
                             "<a data-mxgate-no-track href=\"https://example.com/nt\"></body><plaintext><a href=\"https://example.com/pt\">";
  std::string expected = hidden;
  size_t pos = 0;
  expected = test::replaceOnce(expected, "\"https://example.com/a1\"", "\"" + expectedLink("https://example.com/a1", 1) + "\"", pos);
  expected = test::replaceOnce(expected, "https://example.com/a2", "\"" + expectedLink("https://example.com/a2", 2) + "\"", pos);
  BOOST_TEST(rewrite(hidden, test::settings(), next_index) == expected);
  BOOST_TEST(next_index == 3u);

  // Track mode: the pixel goes before the first </body> the scan saw.
  next_index = 1;
  const std::string pixel = "<img src=\"" + test::expectedPixel() + "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
  BOOST_TEST(rewrite(deep + "<p>x</p></body>", test::settings(Mode::Track), next_index) == deep + "<p>x</p>" + pixel + "</body>");
}

BOOST_AUTO_TEST_CASE(pathological_documents_stay_cheap) {
  // 200,000 nested divs, and formatting elements the adoption agency would clone without end
  // (a few thousand of these took gigabytes in gumbo).
  const std::string link = "<a href=\"https://example.com/deep\">x</a>";
  std::string clones;
  for (int i = 0; i < 20000; ++i) {
    clones += "<div><b a=" + std::to_string(i) + "></div>";
  }
  for (const std::string& html : {repeated("<div>", 200000) + link, clones + link, repeated("<b>", 100000) + link,
                                  repeated("<table><tr><td>", 20000) + link}) {
    uint32_t next_index = 1;
    const std::string out = rewrite(html, test::settings(), next_index);
    BOOST_TEST(next_index == 2u);
    BOOST_TEST(out == html.substr(0, html.size() - link.size()) + "<a href=\"" + expectedLink("https://example.com/deep", 1) + "\">x</a>");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::links
