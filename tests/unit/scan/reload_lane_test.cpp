// Unit tests for engine reload (new signatures take effect; a failed reload keeps the old
// engine; scans running during reloads complete correctly) and for the scan lane (refusal when
// full, results and counters from concurrent scans). Messages are RFC 5322 with MIME
// attachments (RFC 2045). Scans run on the lane's threads and on helper threads.
#include <boost/test/unit_test.hpp>

#include <future>
#include <mutex>
#include <thread>

#include "scan_test_support.h"

using namespace mxgate::scan;
using namespace mxgate::scan::test;

BOOST_AUTO_TEST_SUITE(scan_reload_lane)

BOOST_FIXTURE_TEST_CASE(reload_picks_up_new_signatures, SignatureFixture) {
  auto scanner = make();
  std::string payload = "mxgate reload marker " + uniqueToken();
  BOOST_TEST(name(scanner->scanNow(messageWithAttachment("notes.txt", payload)).verdict) == "clean");
  BOOST_TEST(scanner->stats().signatures == 3u);

  writeFile(signatures / "custom.hdb", md5Hex(payload) + ":" + std::to_string(payload.size()) + ":Mxgate-Reload-Test\n");
  std::string error;
  BOOST_TEST_REQUIRE(scanner->reload(error), error);
  BOOST_TEST(scanner->stats().signatures == 4u);

  ScanResult result = scanner->scanNow(messageWithAttachment("notes.txt", payload));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(result.name == "Mxgate-Reload-Test.UNOFFICIAL");
  // The signatures loaded before still work on the new engine.
  BOOST_TEST(isEicarName(scanner->scanNow(eicar()).name));
}

BOOST_FIXTURE_TEST_CASE(failed_reload_keeps_the_old_engine, SignatureFixture) {
  auto scanner = make();
  fs::path aside = root.path / "aside";
  fs::create_directories(aside);
  for (const char* file : {"test-signatures.hdb", "eicar.ndb"}) {
    fs::rename(signatures / file, aside / file);
  }

  std::string error;
  BOOST_TEST(!scanner->reload(error));
  BOOST_TEST(error.find(signatures.string()) != std::string::npos, error);
  BOOST_TEST(scanner->stats().signatures == 3u);
  ScanResult result = scanner->scanNow(messageWithAttachment("eicar.com", eicar()));
  BOOST_TEST(name(result.verdict) == "infected");
  BOOST_TEST(isEicarName(result.name), result.name);

  writeFile(signatures / "broken.hdb", "not-a-hash-line\n");
  BOOST_TEST(!scanner->reload(error));
  BOOST_TEST(error.find(signatures.string()) != std::string::npos, error);
  BOOST_TEST(name(scanner->scanNow(eicar()).verdict) == "infected");
}

BOOST_FIXTURE_TEST_CASE(scans_during_reloads_complete, SignatureFixture) {
  auto scanner = make();
  std::string infected_zip = makeZip(root, {{"eicar.com", eicar()}});
  constexpr int kThreads = 4;
  constexpr int kScans = 50;
  std::atomic<int> wrong{0};
  std::atomic<bool> scanning{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kScans; ++i) {
        bool bad = (i + t) % 2 == 0;
        ScanResult result = bad ? scanner->scanNow(messageWithAttachment("a.zip", infected_zip, "application/zip"))
                                : scanner->scanNow(messageWithAttachment("a.txt", "plain text " + uniqueToken()));
        Verdict expected = bad ? Verdict::Infected : Verdict::Clean;
        if (result.verdict != expected || (bad && !isEicarName(result.name))) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  std::thread reloader([&] {
    while (scanning.load()) {
      std::string error;
      if (!scanner->reload(error)) {
        wrong.fetch_add(1);
      }
    }
  });
  for (auto& thread : threads) {
    thread.join();
  }
  scanning.store(false);
  reloader.join();
  BOOST_TEST(wrong.load() == 0);
  ScannerStats stats = scanner->stats();
  BOOST_TEST(stats.scanned == static_cast<uint64_t>(kThreads * kScans));
  BOOST_TEST(stats.infected == static_cast<uint64_t>(kThreads * kScans / 2));
  BOOST_TEST(stats.errors == 0u);
  BOOST_TEST(stats.signatures == 3u);
}

BOOST_FIXTURE_TEST_CASE(full_lane_refuses_scans, SignatureFixture) {
  ScanSettings small = settings();
  small.threads = 1;
  small.queue_limit = 2;
  auto scanner = make(small);

  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mutex;
  std::vector<ScanResult> results;
  auto collect = [&](ScanResult result) {
    std::lock_guard<std::mutex> lock(mutex);
    results.push_back(std::move(result));
  };

  auto clean = std::make_shared<const std::string>(textMessage("first"));
  BOOST_TEST_REQUIRE(scanner->scan(clean, [&](ScanResult result) {
    started.set_value();
    released.wait();  // holds the only lane thread
    collect(std::move(result));
  }));
  started.get_future().wait();

  auto infected = std::make_shared<const std::string>(messageWithAttachment("x.com", eicar()));
  BOOST_TEST(scanner->scan(infected, collect));
  BOOST_TEST(scanner->scan(std::make_shared<const std::string>(textMessage("third")), collect));
  bool called = false;
  BOOST_TEST(!scanner->scan(std::make_shared<const std::string>(textMessage("fourth")),
                            [&](ScanResult) { called = true; }));

  release.set_value();
  scanner.reset();  // drains the lane
  BOOST_TEST(!called);
  BOOST_TEST_REQUIRE(results.size() == 3u);
  BOOST_TEST(name(results[0].verdict) == "clean");
  BOOST_TEST(name(results[1].verdict) == "infected");
  BOOST_TEST(name(results[2].verdict) == "clean");
}

BOOST_FIXTURE_TEST_CASE(lane_scans_concurrently_with_one_engine, SignatureFixture) {
  std::string infected_zip = makeZip(root, {{"eicar.com", eicar()}});
  std::string clam_exe = readFile(kTestFiles + "/clam.exe");
  constexpr int kSubmitters = 4;
  constexpr int kScans = 50;
  std::atomic<int> done{0};
  std::atomic<int> wrong{0};
  std::promise<void> all_done;
  ScanSettings wide = settings();
  wide.threads = 4;
  auto scanner = make(wide);  // declared last: its lane stops before the state above goes
  std::vector<std::thread> submitters;
  for (int t = 0; t < kSubmitters; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < kScans; ++i) {
        int kind = (i + t) % 4;
        std::string message;
        Verdict expected = Verdict::Infected;
        std::string expected_name;
        if (kind == 0) {
          message = messageWithAttachment("a.zip", infected_zip, "application/zip");
        } else if (kind == 1) {
          message = messageWithAttachment("setup.exe", clam_exe);
          expected_name = kClamExeName;
        } else {
          message = kind == 2 ? textMessage("hello " + uniqueToken())
                              : messageWithAttachment("a.bin", noise(64 * 1024, static_cast<uint64_t>(t * 1000 + i)));
          expected = Verdict::Clean;
        }
        bool queued = scanner->scan(std::make_shared<const std::string>(std::move(message)), [&, kind, expected, expected_name](ScanResult result) {
          bool name_ok = kind == 0 ? isEicarName(result.name) : result.name == expected_name;
          if (result.verdict != expected || !name_ok) {
            wrong.fetch_add(1);
          }
          if (done.fetch_add(1) + 1 == kSubmitters * kScans) {
            all_done.set_value();
          }
        });
        if (!queued) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : submitters) {
    thread.join();
  }
  BOOST_TEST_REQUIRE((all_done.get_future().wait_for(std::chrono::seconds(120)) == std::future_status::ready));
  BOOST_TEST(wrong.load() == 0);
  ScannerStats stats = scanner->stats();
  BOOST_TEST(stats.scanned == static_cast<uint64_t>(kSubmitters * kScans));
  BOOST_TEST(stats.infected == static_cast<uint64_t>(kSubmitters * kScans / 2));
  BOOST_TEST(stats.limits == 0u);
  BOOST_TEST(stats.errors == 0u);
  scanner.reset();
  BOOST_TEST(fs::is_empty(temp));  // libclamav removed every temporary file it made
}

BOOST_FIXTURE_TEST_CASE(missing_message_is_an_error_result, SignatureFixture) {
  std::promise<ScanResult> outcome;
  auto scanner = make();
  BOOST_TEST_REQUIRE(scanner->scan(nullptr, [&](ScanResult result) { outcome.set_value(std::move(result)); }));
  ScanResult result = outcome.get_future().get();
  BOOST_TEST(name(result.verdict) == "error");
  BOOST_TEST(result.error == "no message to scan");
  BOOST_TEST(scanner->stats().errors == 1u);
  BOOST_TEST(scanner->stats().scanned == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
