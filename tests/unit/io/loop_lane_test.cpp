// Unit tests for event loops (cross-thread inbox ordering, shutdown hooks) and lanes (bounded
// queue, refusal when full, drain on stop).
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"

using namespace mxgate;

BOOST_AUTO_TEST_SUITE(io_suite)

BOOST_AUTO_TEST_CASE(posts_run_on_the_loop_thread_in_order) {
  io::Loop loop("test");
  loop.start();
  std::vector<int> seen;
  std::promise<void> done;
  std::thread::id loop_thread;
  for (int i = 0; i < 1000; ++i) {
    loop.post([&, i] {
      seen.push_back(i);
      loop_thread = std::this_thread::get_id();
      if (i == 999) {
        done.set_value();
      }
    });
  }
  done.get_future().wait();
  BOOST_TEST(seen.size() == 1000u);
  for (int i = 0; i < 1000; ++i) {
    BOOST_REQUIRE(seen[i] == i);
  }
  BOOST_TEST((loop_thread != std::this_thread::get_id()));
  bool hook_ran = false;
  loop.addShutdownHook([&] { hook_ran = true; });
  loop.stop();
  loop.join();
  BOOST_TEST(hook_ran);
  loop.post([] {});  // after shutdown: dropped, not a crash
}

BOOST_AUTO_TEST_CASE(posts_from_many_threads_all_arrive) {
  io::Loop loop("test");
  loop.start();
  std::atomic<int> count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        loop.post([&] { count++; });
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::promise<void> flushed;
  loop.post([&] { flushed.set_value(); });
  flushed.get_future().wait();
  BOOST_TEST(count.load() == 20000);
  loop.stop();
  loop.join();
}

BOOST_AUTO_TEST_CASE(lane_refuses_beyond_its_bound_and_drains_on_stop) {
  io::Lane lane("bounded", 1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  BOOST_TEST(lane.submit([&] {
    started.set_value();
    gate.wait();
    ran++;
  }));
  started.get_future().wait();  // the worker holds job 1; the queue is empty
  BOOST_TEST(lane.submit([&] { ran++; }));
  BOOST_TEST(lane.submit([&] { ran++; }));
  BOOST_TEST(!lane.submit([&] { ran++; }));  // queue of 2 is full
  BOOST_TEST(lane.refused() == 1u);
  BOOST_TEST(lane.depth() == 2u);
  release.set_value();
  lane.stop();
  BOOST_TEST(ran.load() == 3);
  BOOST_TEST(lane.completed() == 3u);
  BOOST_TEST(!lane.submit([] {}));  // stopped
}

BOOST_AUTO_TEST_SUITE_END()
