// Unit tests for queue ids: text round trip, ordering, uniqueness under concurrency.
#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>
#include <vector>

#include "mxgate/mail/queue_id.h"

using mxgate::mail::QueueId;

BOOST_AUTO_TEST_SUITE(queue_id)

BOOST_AUTO_TEST_CASE(text_round_trip) {
  QueueId::setNode(513);
  QueueId id = QueueId::generate();
  std::string text = id.str();
  BOOST_TEST(text.size() == QueueId::kTextLength);
  auto parsed = QueueId::parse(text);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == id));
  BOOST_TEST(!id.empty());
}

BOOST_AUTO_TEST_CASE(parse_rejects_bad_text) {
  BOOST_TEST(!QueueId::parse("").has_value());
  BOOST_TEST(!QueueId::parse("0123456789ABCDEFGHJ").has_value());    // 19 chars
  BOOST_TEST(!QueueId::parse("0123456789ABCDEFGHJ!").has_value());   // bad digit
  BOOST_TEST(!QueueId::parse("Z123456789ABCDEFGHJK").has_value());   // pad bits set
  BOOST_TEST(QueueId::parse("0123456789abcdefghjk").has_value());    // case-insensitive
}

BOOST_AUTO_TEST_CASE(ids_are_time_ordered_in_text_and_bytes) {
  QueueId previous = QueueId::generate();
  for (int i = 0; i < 10000; ++i) {
    QueueId next = QueueId::generate();
    BOOST_REQUIRE(previous < next);
    BOOST_REQUIRE(previous.str() < next.str());
    previous = next;
  }
}

BOOST_AUTO_TEST_CASE(unique_across_threads) {
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::vector<QueueId>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        per_thread[t].push_back(QueueId::generate());
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::set<QueueId> all;
  for (const auto& ids : per_thread) {
    all.insert(ids.begin(), ids.end());
  }
  BOOST_TEST(all.size() == static_cast<size_t>(kThreads * kEach));
}

BOOST_AUTO_TEST_CASE(node_id_is_embedded) {
  QueueId::setNode(0x1234);
  QueueId id = QueueId::generate();
  BOOST_TEST(static_cast<uint8_t>(id.bytes()[8]) == 0x12);
  BOOST_TEST(static_cast<uint8_t>(id.bytes()[9]) == 0x34);
}

BOOST_AUTO_TEST_SUITE_END()
