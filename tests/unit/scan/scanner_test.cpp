// Unit tests for the scanner's verdicts: clean mail, EICAR raw, as a base64 MIME attachment
// (RFC 2045/2046) and zipped inside one, the clamav-testfiles samples (clam.exe as an
// attachment, the mbox files as messages, and all 44 files), engine creation errors.
// Runs scanNow() on the test thread.
#include <boost/test/unit_test.hpp>

#include <set>

#include "scan_test_support.h"

using namespace mxgate::scan;
using namespace mxgate::scan::test;

BOOST_AUTO_TEST_SUITE(scan_verdicts)

BOOST_AUTO_TEST_CASE(verdict_names) {
  BOOST_TEST(name(Verdict::Clean) == "clean");
  BOOST_TEST(name(Verdict::Infected) == "infected");
  BOOST_TEST(name(Verdict::LimitExceeded) == "limit_exceeded");
  BOOST_TEST(name(Verdict::Error) == "error");
}

BOOST_FIXTURE_TEST_CASE(engine_reports_its_signatures, SignatureFixture) {
  auto scanner = make();
  // test-signatures.hdb holds 2 hashes, eicar.ndb 1 body signature.
  BOOST_TEST(scanner->stats().signatures == 3u);
  BOOST_TEST(scanner->stats().scanned == 0u);
}

BOOST_FIXTURE_TEST_CASE(clean_text_message_is_clean, SignatureFixture) {
  auto scanner = make();
  ScanResult result = scanner->scanNow(textMessage("Hello,\r\nmy order has not arrived yet.\r\nAlice"));
  BOOST_TEST(name(result.verdict) == "clean");
  BOOST_TEST(result.name.empty());
  BOOST_TEST(result.error.empty());
  ScannerStats stats = scanner->stats();
  BOOST_TEST(stats.scanned == 1u);
  BOOST_TEST(stats.infected == 0u);
  BOOST_TEST(stats.limits == 0u);
  BOOST_TEST(stats.errors == 0u);
}

BOOST_FIXTURE_TEST_CASE(empty_message_is_clean, SignatureFixture) {
  auto scanner = make();
  BOOST_TEST(name(scanner->scanNow("").verdict) == "clean");
  BOOST_TEST(name(scanner->scanNow(std::string_view()).verdict) == "clean");
}

BOOST_FIXTURE_TEST_CASE(eicar_file_is_infected, SignatureFixture) {
  auto scanner = make();
  ScanResult result = scanner->scanNow(eicar());
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(isEicarName(result.name), result.name);
  BOOST_TEST(scanner->stats().infected == 1u);
}

BOOST_FIXTURE_TEST_CASE(eicar_base64_attachment_is_infected, SignatureFixture) {
  auto scanner = make();
  ScanResult result = scanner->scanNow(messageWithAttachment("invoice.com", eicar()));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(isEicarName(result.name), result.name);
}

BOOST_FIXTURE_TEST_CASE(eicar_zip_in_base64_attachment_is_infected, SignatureFixture) {
  auto scanner = make();
  std::string zip = makeZip(root, {{"readme.txt", "quarterly figures " + uniqueToken()}, {"eicar.com", eicar()}});
  ScanResult result = scanner->scanNow(messageWithAttachment("report.zip", zip, "application/zip"));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(isEicarName(result.name), result.name);
}

BOOST_FIXTURE_TEST_CASE(clam_exe_attachment_is_infected, SignatureFixture) {
  auto scanner = make();
  ScanResult result = scanner->scanNow(messageWithAttachment("setup.exe", readFile(kTestFiles + "/clam.exe")));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(result.name == kClamExeName);
}

BOOST_FIXTURE_TEST_CASE(testfiles_mailboxes_are_infected, SignatureFixture) {
  auto scanner = make();
  for (const char* file : {"clam.exe.mbox.base64", "clam.exe.mbox.uu", "clam.mail"}) {
    ScanResult result = scanner->scanNow(readFile(kTestFiles + "/" + file));
    BOOST_TEST(name(result.verdict) == "infected", file);
    BOOST_TEST(result.name == kClamExeName, file);
  }
}

// PROVENANCE.md: with test-signatures.hdb every one of the 44 files in clamav-testfiles is
// detected once libclamav has unpacked it (archives, packers, documents, mailboxes), under
// libclamav's own default limits. The deepest, clam_cache_emax.tgz, nests clam.exe 17 layers
// down, so this runs with libclamav's default max_recursion of 17.
BOOST_FIXTURE_TEST_CASE(all_clamav_testfiles_are_detected, SignatureFixture) {
  ScanSettings clamav_defaults = settings();
  clamav_defaults.max_recursion = 17;
  auto scanner = make(clamav_defaults);
  std::set<std::string> listed;
  std::istringstream manifest(readFile(kCorpus + "/clamav-testfiles-manifest.tsv"));
  for (std::string line; std::getline(manifest, line);) {
    listed.insert(line.substr(0, line.find('\t')));
  }
  BOOST_TEST_REQUIRE(listed.size() == 44u);
  size_t detected = 0;
  for (const std::string& file : listed) {
    ScanResult result = scanner->scanNow(readFile(kTestFiles + "/" + file));
    BOOST_TEST(name(result.verdict) == "infected", file << ": " << result.name << result.error);
    if (result.verdict == Verdict::Infected) {
      ++detected;
    }
  }
  BOOST_TEST_MESSAGE("clamav-testfiles detected: " << detected << "/" << listed.size());
  BOOST_TEST(detected == 44u);
  BOOST_TEST(scanner->stats().scanned == 44u);
  BOOST_TEST(scanner->stats().infected == 44u);
}

// One layer short of clam_cache_emax.tgz's depth the sample is not found, and the verdict says
// the scan was incomplete rather than clean.
BOOST_FIXTURE_TEST_CASE(testfile_too_deep_is_limit_exceeded, SignatureFixture) {
  ScanSettings shallow = settings();
  shallow.max_recursion = 16;
  auto scanner = make(shallow);
  ScanResult result = scanner->scanNow(readFile(kTestFiles + "/clam_cache_emax.tgz"));
  BOOST_TEST(name(result.verdict) == "limit_exceeded");
  BOOST_TEST(result.name == "Heuristics.Limits.Exceeded.MaxRecursion");
}

BOOST_FIXTURE_TEST_CASE(directory_without_database_is_an_error, SignatureFixture) {
  fs::path empty = root.path / "empty-signatures";
  fs::create_directories(empty);
  writeFile(empty / "README.txt", "not a database");
  ScanSettings settings = this->settings();
  settings.signatures = empty.string();
  std::string error;
  BOOST_TEST(Scanner::create(settings, error) == nullptr);
  BOOST_TEST(error.find(empty.string()) != std::string::npos, error);
}

BOOST_FIXTURE_TEST_CASE(missing_directory_is_an_error, SignatureFixture) {
  ScanSettings settings = this->settings();
  settings.signatures = (root.path / "no-such-dir").string();
  std::string error;
  BOOST_TEST(Scanner::create(settings, error) == nullptr);
  BOOST_TEST(error.find(settings.signatures) != std::string::npos, error);
}

BOOST_FIXTURE_TEST_CASE(malformed_database_is_an_error, SignatureFixture) {
  writeFile(signatures / "broken.ndb", "Broken-Signature:0:*:zz-not-hex\n");
  std::string error;
  BOOST_TEST(Scanner::create(settings(), error) == nullptr);
  BOOST_TEST(error.find(signatures.string()) != std::string::npos, error);
}

BOOST_FIXTURE_TEST_CASE(bad_settings_are_errors, SignatureFixture) {
  std::string error;
  ScanSettings no_threads = settings();
  no_threads.threads = 0;
  BOOST_TEST(Scanner::create(no_threads, error) == nullptr);
  BOOST_TEST(error == "scan: threads must be at least 1");

  ScanSettings no_queue = settings();
  no_queue.queue_limit = 0;
  BOOST_TEST(Scanner::create(no_queue, error) == nullptr);
  BOOST_TEST(error == "scan: queue_limit must be at least 1");

  ScanSettings no_temp = settings();
  no_temp.temp_dir = (root.path / "missing-tmp").string();
  BOOST_TEST(Scanner::create(no_temp, error) == nullptr);
  BOOST_TEST(error.find(no_temp.temp_dir) != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
