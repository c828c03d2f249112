// Unit tests for scan limits (reliability T33): data beyond max_file_size, max_scan_size,
// max_recursion, max_files or max_scan_time must come back LimitExceeded, never Clean, and the
// same input under default limits shows the limit was what decided. Messages are RFC 5322 with
// base64 MIME attachments (RFC 2045). Runs scanNow() on the test thread.
#include <boost/test/unit_test.hpp>

#include "scan_test_support.h"

using namespace mxgate::scan;
using namespace mxgate::scan::test;

namespace {

void requireLimit(const ScanResult& result, std::string_view expected_alert) {
  BOOST_TEST(name(result.verdict) == "limit_exceeded", result.name << " " << result.error);
  BOOST_TEST(result.name == expected_alert);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scan_limits)

BOOST_FIXTURE_TEST_CASE(file_over_max_file_size_is_not_clean, SignatureFixture) {
  ScanSettings limited = settings();
  limited.max_file_size = 1024;
  auto scanner = make(limited);

  // The whole message is over 1 KiB, so libclamav stops at the top layer; it reports that alert
  // with a NULL virname and only through clcb_virus_found, so the name checks the callback.
  std::string payload = std::string(2048, 'x') + eicar();
  requireLimit(scanner->scanNow(messageWithAttachment("data.bin", payload)),
               "Heuristics.Limits.Exceeded.MaxFileSize");
  // A message under the limit is scanned normally.
  BOOST_TEST(name(scanner->scanNow(textMessage("short note")).verdict) == "clean");
  ScannerStats stats = scanner->stats();
  BOOST_TEST(stats.scanned == 2u);
  BOOST_TEST(stats.limits == 1u);
  BOOST_TEST(stats.infected == 0u);
}

// libclamav itself inflates a zip member only up to max_file_size and reports clean when the
// rest is never scanned; the scanner must still say the limit was hit, every time (a clean
// verdict would also be cached for the repeat).
BOOST_FIXTURE_TEST_CASE(archive_member_over_max_file_size_is_not_clean, SignatureFixture) {
  ScanSettings limited = settings();
  limited.max_file_size = 64 * 1024;
  auto scanner = make(limited);
  std::string zip = makeZip(root, {{"padded.com", std::string(128 * 1024, 'x') + eicar()}});
  std::string message = messageWithAttachment("padded.zip", zip, "application/zip");
  BOOST_TEST_REQUIRE(message.size() < 64u * 1024u);  // only the inflated member is over the limit
  requireLimit(scanner->scanNow(message), "Heuristics.Limits.Exceeded.MaxFileSize");
  requireLimit(scanner->scanNow(message), "Heuristics.Limits.Exceeded.MaxFileSize");

  // Members under the limit are scanned as usual.
  std::string small_zip = makeZip(root, {{"notes.txt", std::string(32 * 1024, 'y') + uniqueToken()}});
  BOOST_TEST(name(scanner->scanNow(messageWithAttachment("notes.zip", small_zip, "application/zip")).verdict) ==
             "clean");
  // libclamav checks every member's declared size (the central directory) before it extracts
  // any, so an over-limit member decides the verdict even when a sibling is infected: the
  // message is reported as not fully scanned, not as clean.
  std::string mixed_zip = makeZip(root, {{"eicar.com", eicar()}, {"big.txt", std::string(128 * 1024, 'z')}});
  requireLimit(scanner->scanNow(messageWithAttachment("mixed.zip", mixed_zip, "application/zip")),
               "Heuristics.Limits.Exceeded.MaxFileSize");
  // Under the default limits the same archive is infected.
  ScanResult infected = make()->scanNow(messageWithAttachment("mixed.zip", mixed_zip, "application/zip"));
  BOOST_TEST(name(infected.verdict) == "infected");
  BOOST_TEST(isEicarName(infected.name), infected.name);
  // The same archive in another message is not answered from the clean cache.
  requireLimit(scanner->scanNow(messageWithAttachment("again.zip", zip, "application/zip")),
               "Heuristics.Limits.Exceeded.MaxFileSize");
}

BOOST_FIXTURE_TEST_CASE(message_over_max_scan_size_is_not_clean, SignatureFixture) {
  ScanSettings limited = settings();
  limited.max_scan_size = 16 * 1024;
  auto scanner = make(limited);
  requireLimit(scanner->scanNow(messageWithAttachment("big.bin", noise(64 * 1024, 1))),
               "Heuristics.Limits.Exceeded.MaxScanSize");
}

BOOST_FIXTURE_TEST_CASE(nesting_over_max_recursion_is_not_clean, SignatureFixture) {
  std::string inner = makeZip(root, {{"eicar.com", eicar()}});
  std::string middle = makeZip(root, {{"inner.zip", inner}});
  std::string outer = makeZip(root, {{"middle.zip", middle}});

  ScanSettings limited = settings();
  limited.max_recursion = 2;
  auto scanner = make(limited);
  requireLimit(scanner->scanNow(messageWithAttachment("outer.zip", outer, "application/zip")),
               "Heuristics.Limits.Exceeded.MaxRecursion");

  auto unlimited = make();
  ScanResult result = unlimited->scanNow(messageWithAttachment("outer.zip", outer, "application/zip"));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(isEicarName(result.name), result.name);
}

BOOST_FIXTURE_TEST_CASE(archive_over_max_files_is_not_clean, SignatureFixture) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < 10; ++i) {
    entries.emplace_back("part" + std::to_string(i) + ".txt", "line " + std::to_string(i) + " " + uniqueToken());
  }
  std::string zip = makeZip(root, entries);

  ScanSettings limited = settings();
  limited.max_files = 3;
  auto scanner = make(limited);
  requireLimit(scanner->scanNow(messageWithAttachment("parts.zip", zip, "application/zip")),
               "Heuristics.Limits.Exceeded.MaxFiles");

  auto unlimited = make();
  BOOST_TEST(name(unlimited->scanNow(messageWithAttachment("parts.zip", zip, "application/zip")).verdict) ==
             "clean");
}

BOOST_FIXTURE_TEST_CASE(scan_over_max_scan_time_is_not_clean, SignatureFixture) {
  ScanSettings limited = settings();
  limited.max_scan_time = std::chrono::milliseconds(1);
  auto scanner = make(limited);
  // 20 MiB of incompressible data as a base64 attachment (27 MiB of message): far more than
  // libclamav can decode and scan in 1 ms.
  std::string message = messageWithAttachment("archive.bin", noise(20u << 20, 42));
  ScanResult result = scanner->scanNow(message);
  requireLimit(result, "Heuristics.Limits.Exceeded.MaxScanTime");
  BOOST_TEST(result.micros >= 1000u);
  BOOST_TEST(scanner->stats().limits == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
