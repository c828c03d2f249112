// Plain-text rewriting tests: URL boundaries (trailing punctuation, brackets, angle
// brackets), scheme case, word starts, skip lists and the per-message limit; and the
// List-Unsubscribe URL list (RFC 2369 §2).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "links_test_util.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

using test::expectedLink;
using test::kQueueId;

std::string rewrite(std::string_view text, const Settings& settings, uint32_t& next_index,
                    const std::vector<std::string>& skip = {}) {
  return rewriteText(text, kQueueId, settings, skip, next_index);
}

BOOST_AUTO_TEST_SUITE(links_text)

BOOST_AUTO_TEST_CASE(boundaries) {
  const std::string text =
      "See https://example.com/a. Or (https://example.com/b), or https://en.wikipedia.org/wiki/Foo_(bar)!\r\n"
      "<https://example.com/c> HTTPS://EXAMPLE.COM/D? \"http://example.com/e?q='x'\"\r\n"
      "[https://example.com/f] {https://example.com/g}; https://example.com/h:,;!?'\r\n"
      "xhttps://example.com/no mailto:a@example.com http:// https://. ftp://example.com/\r\n"
      "https://example.com/i\x01tail https://example.com/j\ttab";
  uint32_t next_index = 1;
  const std::string out = rewrite(text, test::settings(), next_index);
  const std::string expected =
      "See " + expectedLink("https://example.com/a", 1) + ". Or (" + expectedLink("https://example.com/b", 2) + "), or " +
      expectedLink("https://en.wikipedia.org/wiki/Foo_(bar)", 3) + "!\r\n<" + expectedLink("https://example.com/c", 4) + "> " +
      expectedLink("HTTPS://EXAMPLE.COM/D", 5) + "? \"" + expectedLink("http://example.com/e?q='x", 6) + "'\"\r\n[" +
      expectedLink("https://example.com/f", 7) + "] {" + expectedLink("https://example.com/g", 8) + "}; " +
      expectedLink("https://example.com/h", 9) +
      ":,;!?'\r\nxhttps://example.com/no mailto:a@example.com http:// https://. ftp://example.com/\r\n" +
      expectedLink("https://example.com/i", 10) + "\x01tail " + expectedLink("https://example.com/j", 11) + "\ttab";
  BOOST_TEST(out == expected);
  BOOST_TEST(next_index == 12u);
}

BOOST_AUTO_TEST_CASE(kept_hosts_and_skip_list) {
  const std::string text =
      "https://allowed.example/a https://x.allowed.example/b https://links.example.test/l/k/p/m "
      "https://urldefense.com/v3/__x__ https://eur02.safelinks.protection.outlook.com/?url=x "
      "https://example.com/unsub https://example.com/keep";
  uint32_t next_index = 3;
  BOOST_TEST(rewrite(text, test::settings(), next_index, {"https://example.com/unsub"}) ==
             "https://allowed.example/a https://x.allowed.example/b https://links.example.test/l/k/p/m "
             "https://urldefense.com/v3/__x__ https://eur02.safelinks.protection.outlook.com/?url=x "
             "https://example.com/unsub " +
                 expectedLink("https://example.com/keep", 3));
  BOOST_TEST(next_index == 4u);
}

BOOST_AUTO_TEST_CASE(max_links) {
  Settings settings = test::settings();
  settings.max_links = 2;
  uint32_t next_index = 1;
  BOOST_TEST(rewrite("https://a.example/ https://b.example/ https://c.example/", settings, next_index) ==
             expectedLink("https://a.example/", 1) + " " + expectedLink("https://b.example/", 2) + " https://c.example/");
  BOOST_TEST(next_index == 3u);
  // The limit is per message: a later part continues the count.
  BOOST_TEST(rewrite("https://d.example/", settings, next_index) == "https://d.example/");
  BOOST_TEST(next_index == 3u);
  settings.max_links = 0;
  next_index = 1;
  BOOST_TEST(rewrite("https://a.example/", settings, next_index) == "https://a.example/");
}

BOOST_AUTO_TEST_CASE(no_links_and_off) {
  uint32_t next_index = 1;
  BOOST_TEST(rewrite("", test::settings(), next_index) == "");
  BOOST_TEST(rewrite("hello http world hTTp:/x", test::settings(), next_index) == "hello http world hTTp:/x");
  BOOST_TEST(rewrite("https://a.example/", test::settings(Mode::Off), next_index) == "https://a.example/");
  BOOST_TEST(next_index == 1u);
}

BOOST_AUTO_TEST_CASE(pathological_trailers_are_linear) {
  // A million closing brackets after a URL: trimmed in one pass, not one pass per bracket.
  const std::string text = "https://example.com/x" + std::string(1000000, ')');
  uint32_t next_index = 1;
  BOOST_TEST(rewrite(text, test::settings(), next_index) == expectedLink("https://example.com/x", 1) + std::string(1000000, ')'));
}

BOOST_AUTO_TEST_CASE(list_unsubscribe) {
  BOOST_TEST(listUnsubscribeUrls("<mailto:list@example.com?subject=unsubscribe>, <https://example.com/unsub?id=1&x=2>") ==
             (std::vector<std::string>{"mailto:list@example.com?subject=unsubscribe", "https://example.com/unsub?id=1&x=2"}));
  // Comments (with a bracket inside), folding white space inside the brackets, junk.
  BOOST_TEST(listUnsubscribeUrls("(Use this <not-a-url>) <https://example.com/\r\n long>,junk<>, <http://example.org/u>") ==
             (std::vector<std::string>{"https://example.com/long", "http://example.org/u"}));
  BOOST_TEST(listUnsubscribeUrls("").empty());
  BOOST_TEST(listUnsubscribeUrls("<https://example.com/unterminated").empty());
  BOOST_TEST(listUnsubscribeUrls("(unterminated <x>").empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::links
