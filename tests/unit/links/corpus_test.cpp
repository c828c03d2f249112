// Robustness over the shared MIME corpus (shared/corpora/mime: GMime, mime4j, Python email,
// Stalwart, mailparser and torture-test messages, malformed ones included): every file, as
// stored and with CRLF line ends, goes through rewriteMessage in SafeLinks mode; a changed
// result must re-parse into the same MIME part tree as its input.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>

#include "gmime_test_util.h"
#include "links_test_util.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

BOOST_AUTO_TEST_SUITE(links_corpus)

BOOST_AUTO_TEST_CASE(every_corpus_message) {
  const std::filesystem::path root = std::filesystem::path(MXGATE_SHARED_DIR) / "corpora" / "mime";
  BOOST_TEST_REQUIRE(std::filesystem::is_directory(root));
  size_t files = 0;
  size_t messages = 0;
  size_t changed = 0;
  uint64_t links = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    ++files;
    const std::string stored = test::readFile(entry.path().string());
    for (const std::string& input : {stored, test::toCrlf(stored)}) {
      if (!test::parses(input)) {
        continue;
      }
      ++messages;
      const Result result = rewriteMessage(input, test::kQueueId, test::settings());
      if (!result.changed) {
        BOOST_TEST(result.message.empty(), entry.path());
        BOOST_TEST(result.rewritten == 0u, entry.path());
        continue;
      }
      ++changed;
      links += result.rewritten;
      BOOST_TEST(test::partTree(result.message) == test::partTree(input), entry.path());
    }
  }
  BOOST_TEST_MESSAGE("links corpus: " << files << " files, " << messages << " messages parsed, " << changed
                                      << " changed, " << links << " links rewritten");
  BOOST_TEST(files > 800u);
  BOOST_TEST(messages > 0u);
  BOOST_TEST(changed > 0u);
  BOOST_TEST(links > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace mxgate::links
