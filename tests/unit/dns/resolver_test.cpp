// Unit tests for the Resolver against tests/integration/dns_server.py (started once here as a
// subprocess on a free 127.0.0.1 port): A/AAAA/MX/TXT/PTR/CNAME answers, NXDOMAIN/NODATA with
// negative caching (RFC 2308), SERVFAIL/REFUSED and timeouts with failure caching, TCP fallback
// on truncation, in-flight deduplication, the blocking bridge from many threads, TTL expiry and
// LRU eviction, callbacks on the loop thread, name checks, server lists, and stop() in flight.
#include "mxgate/dns/resolver.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mxgate/io/loop.h"
#include "print.h"
#include "support/dns_server_process.h"

using namespace mxgate::dns;
using mxgate::test::DnsServerProcess;
using namespace std::chrono_literals;

namespace {

const std::string kLongTxt = std::string(300, 'a') + std::string(300, 'b');
const std::string kHugeTxt = std::string(3000, 'h');

std::string zoneJson() {
  return R"({
  "example.test": [{"type": "A", "value": "192.0.2.1"}, {"type": "A", "value": "192.0.2.2"},
                   {"type": "AAAA", "value": "2001:db8::1"},
                   {"type": "MX", "value": [10, "mx1.example.test"]}, {"type": "MX", "value": [20, "MX2.Example.test"]},
                   {"type": "TXT", "value": "v=spf1 -all"}],
  "long.test": [{"type": "TXT", "value": ")" +
         kLongTxt + R"("}, {"type": "TXT", "value": ["part1 ", "part2"]}],
  "huge.test": [{"type": "TXT", "value": ")" +
         kHugeTxt + R"("}],
  "1.2.0.192.in-addr.arpa": [{"type": "PTR", "value": "Host.Example.Test"}],
  "alias.test": [{"type": "CNAME", "value": "alias2.test"}],
  "alias2.test": [{"type": "CNAME", "value": "example.test"}],
  "nodata.test": [{"type": "A", "value": "192.0.2.5"}],
  "fail.test": [{"type": "SERVFAIL"}],
  "refused.test": [{"type": "REFUSED"}],
  "timeout.test": [{"type": "TIMEOUT"}],
  "tc.test": [{"type": "TRUNCATE"}, {"type": "A", "value": "192.0.2.9"}],
  "slow.test": [{"type": "DELAY", "ms": 300}, {"type": "A", "value": "192.0.2.7"}],
  "short.test": [{"type": "A", "value": "192.0.2.10", "ttl": 1}],
  "capped.test": [{"type": "A", "value": "192.0.2.11", "ttl": 100000}],
  "nosoa.test": [{"type": "NOSOA"}],
  "lru1.test": [{"type": "A", "value": "192.0.2.21"}],
  "lru2.test": [{"type": "A", "value": "192.0.2.22"}],
  "lru3.test": [{"type": "A", "value": "192.0.2.23"}]
})";
}

DnsServerProcess& server() {
  static DnsServerProcess process(zoneJson());
  return process;
}

ResolverSettings testSettings() {
  ResolverSettings settings;
  settings.servers = {"127.0.0.1:" + std::to_string(server().port())};
  settings.timeout = 200ms;
  settings.tries = 2;
  return settings;
}

std::unique_ptr<Resolver> started(const ResolverSettings& settings) {
  std::string error;
  auto resolver = Resolver::create(settings, error);
  BOOST_TEST_REQUIRE(resolver != nullptr, error);
  resolver->start();
  return resolver;
}

// Collects callbacks that arrive on the resolver's loop thread.
class Collector {
 public:
  Callback callback() {
    return [this](AnswerPtr answer) {
      std::lock_guard<std::mutex> lock(mutex_);
      answers_.push_back(std::move(answer));
      changed_.notify_all();
    };
  }
  std::vector<AnswerPtr> wait(size_t count, std::chrono::milliseconds limit = 10s) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, limit, [&] { return answers_.size() >= count; });
    return answers_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<AnswerPtr> answers_;
};

uint16_t unusedUdpPort() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dns_resolver)

BOOST_AUTO_TEST_CASE(answers_for_every_type) {
  auto resolver = started(testSettings());
  const AnswerPtr a = resolver->queryBlocking("example.test", RrType::A);
  BOOST_TEST((a->status == Status::Ok));
  BOOST_TEST(a->addresses == (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}), boost::test_tools::per_element());
  BOOST_TEST(a->ttl == 300u);
  const AnswerPtr aaaa = resolver->queryBlocking("example.test", RrType::AAAA);
  BOOST_TEST(aaaa->addresses == std::vector<std::string>{"2001:db8::1"}, boost::test_tools::per_element());
  const AnswerPtr mx = resolver->queryBlocking("example.test", RrType::MX);
  BOOST_TEST(mx->mx == (std::vector<MxHost>{{10, "mx1.example.test"}, {20, "mx2.example.test"}}),
             boost::test_tools::per_element());
  const AnswerPtr txt = resolver->queryBlocking("example.test", RrType::TXT);
  BOOST_TEST(txt->texts == std::vector<std::string>{"v=spf1 -all"}, boost::test_tools::per_element());
  // 600 bytes in three character-strings, and a list kept as two strings in one record.
  const AnswerPtr long_txt = resolver->queryBlocking("long.test", RrType::TXT);
  BOOST_TEST((long_txt->status == Status::Ok));
  BOOST_TEST(long_txt->texts == (std::vector<std::string>{kLongTxt, "part1 part2"}), boost::test_tools::per_element());
  const AnswerPtr ptr = resolver->queryBlocking("1.2.0.192.in-addr.arpa", RrType::PTR);
  BOOST_TEST(ptr->names == std::vector<std::string>{"host.example.test"}, boost::test_tools::per_element());
  const AnswerPtr alias = resolver->queryBlocking("alias.test", RrType::A);
  BOOST_TEST((alias->status == Status::Ok));
  BOOST_TEST(alias->addresses.size() == 2u);
  const AnswerPtr cname = resolver->queryBlocking("alias.test", RrType::CNAME);
  BOOST_TEST(cname->names == std::vector<std::string>{"alias2.test"}, boost::test_tools::per_element());
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.queries == 8u);
  BOOST_TEST(stats.sent == 8u);
  BOOST_TEST(stats.failures == 0u);
}

BOOST_AUTO_TEST_CASE(nxdomain_and_nodata_are_cached_for_the_soa_minimum) {
  auto resolver = started(testSettings());
  const AnswerPtr nx = resolver->queryBlocking("missing.test", RrType::A);
  BOOST_TEST((nx->status == Status::NxDomain));
  BOOST_TEST(nx->ttl == 60u);  // min(SOA TTL 3600, MINIMUM 60), below negative_ttl 300
  const AnswerPtr nodata = resolver->queryBlocking("nodata.test", RrType::TXT);
  BOOST_TEST((nodata->status == Status::NoData));
  BOOST_TEST(nodata->ttl == 60u);
  BOOST_TEST(resolver->stats().sent == 2u);

  const AnswerPtr nx_again = resolver->queryBlocking("Missing.Test.", RrType::A);
  const AnswerPtr nodata_again = resolver->queryBlocking("nodata.test", RrType::TXT);
  BOOST_TEST((nx_again->status == Status::NxDomain));
  BOOST_TEST((nodata_again->status == Status::NoData));
  BOOST_TEST(nx_again->ttl <= 60u);
  BOOST_TEST(nx_again->ttl >= 58u);
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.sent == 2u);
  BOOST_TEST(stats.cache_hits == 2u);
  BOOST_TEST(stats.failures == 0u);
}

BOOST_AUTO_TEST_CASE(negative_ttl_bounds_the_soa_and_replaces_a_missing_one) {
  ResolverSettings settings = testSettings();
  settings.negative_ttl = 30;
  auto resolver = started(settings);
  BOOST_TEST(resolver->queryBlocking("missing.test", RrType::A)->ttl == 30u);
  settings.negative_ttl = 120;
  auto other = started(settings);
  const AnswerPtr nodata = other->queryBlocking("nosoa.test", RrType::A);
  BOOST_TEST((nodata->status == Status::NoData));
  BOOST_TEST(nodata->ttl == 120u);
  const AnswerPtr nx = other->queryBlocking("below.nosoa.test", RrType::A);
  BOOST_TEST((nx->status == Status::NxDomain));
  BOOST_TEST(nx->ttl == 120u);
}

BOOST_AUTO_TEST_CASE(servfail_and_refused_are_servfail_and_cached_for_failure_ttl) {
  auto resolver = started(testSettings());
  const AnswerPtr fail = resolver->queryBlocking("fail.test", RrType::TXT);
  BOOST_TEST((fail->status == Status::ServFail));
  BOOST_TEST(fail->temporary());
  BOOST_TEST(fail->ttl == 5u);
  const AnswerPtr refused = resolver->queryBlocking("refused.test", RrType::TXT);
  BOOST_TEST((refused->status == Status::ServFail));
  const AnswerPtr again = resolver->queryBlocking("fail.test", RrType::TXT);
  BOOST_TEST((again->status == Status::ServFail));
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.sent == 2u);
  BOOST_TEST(stats.cache_hits == 1u);
  BOOST_TEST(stats.failures == 2u);
}

BOOST_AUTO_TEST_CASE(no_answer_is_a_timeout_after_every_try) {
  auto resolver = started(testSettings());
  const auto begin = std::chrono::steady_clock::now();
  const AnswerPtr answer = resolver->queryBlocking("timeout.test", RrType::A);
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  BOOST_TEST((answer->status == Status::Timeout));
  BOOST_TEST(answer->temporary());
  // c-ares doubles the per-try timeout on each pass: 200 ms + 400 ms.
  BOOST_TEST(elapsed >= 550ms);
  BOOST_TEST(elapsed < 1500ms);
  BOOST_TEST((resolver->queryBlocking("timeout.test", RrType::A)->status == Status::Timeout));
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.sent == 1u);
  BOOST_TEST(stats.cache_hits == 1u);
  BOOST_TEST(stats.failures == 1u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_a_timeout) {
  ResolverSettings settings = testSettings();
  settings.servers = {"127.0.0.1:" + std::to_string(unusedUdpPort())};
  auto resolver = started(settings);
  const auto begin = std::chrono::steady_clock::now();
  const AnswerPtr answer = resolver->queryBlocking("example.test", RrType::A);
  BOOST_TEST((answer->status == Status::Timeout));
  BOOST_TEST((std::chrono::steady_clock::now() - begin) < 1500ms);
}

BOOST_AUTO_TEST_CASE(truncated_udp_answers_are_fetched_over_tcp) {
  auto resolver = started(testSettings());
  const AnswerPtr tc = resolver->queryBlocking("tc.test", RrType::A);
  BOOST_TEST((tc->status == Status::Ok));
  BOOST_TEST(tc->addresses == std::vector<std::string>{"192.0.2.9"}, boost::test_tools::per_element());
  // 3000 bytes of TXT exceed the 1232-byte EDNS payload.
  const AnswerPtr huge = resolver->queryBlocking("huge.test", RrType::TXT);
  BOOST_TEST((huge->status == Status::Ok));
  BOOST_TEST(huge->texts == std::vector<std::string>{kHugeTxt}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(concurrent_queries_for_one_name_share_one_request) {
  auto resolver = started(testSettings());
  Collector collector;
  for (int i = 0; i < 100; ++i) {
    resolver->query("slow.test", RrType::A, collector.callback());
  }
  const std::vector<AnswerPtr> answers = collector.wait(100);
  BOOST_TEST_REQUIRE(answers.size() == 100u);
  for (const AnswerPtr& answer : answers) {
    BOOST_TEST(answer.get() == answers.front().get());
  }
  BOOST_TEST((answers.front()->status == Status::Ok));
  BOOST_TEST(answers.front()->addresses == std::vector<std::string>{"192.0.2.7"}, boost::test_tools::per_element());
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.queries == 100u);
  BOOST_TEST(stats.sent == 1u);
  BOOST_TEST(stats.joined == 99u);
}

BOOST_AUTO_TEST_CASE(query_blocking_from_many_threads) {
  auto resolver = started(testSettings());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        switch ((t + i) % 4) {
          case 0:
            wrong += resolver->queryBlocking("example.test", RrType::A)->addresses.size() != 2;
            break;
          case 1:
            wrong += resolver->queryBlocking("alias.test", RrType::A)->addresses.size() != 2;
            break;
          case 2:
            wrong += resolver->queryBlocking("example.test", RrType::MX)->mx.size() != 2;
            break;
          default:
            wrong += resolver->queryBlocking("missing.test", RrType::TXT)->status != Status::NxDomain;
            break;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  BOOST_TEST(wrong.load() == 0);
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.queries == 200u);
  BOOST_TEST(stats.sent == 4u);
  BOOST_TEST(stats.cache_hits + stats.joined == 196u);
}

BOOST_AUTO_TEST_CASE(expired_entries_are_queried_again) {
  auto resolver = started(testSettings());
  const AnswerPtr first = resolver->queryBlocking("short.test", RrType::A);
  BOOST_TEST((first->status == Status::Ok));
  BOOST_TEST(first->ttl == 1u);
  const AnswerPtr cached = resolver->queryBlocking("short.test", RrType::A);
  BOOST_TEST(cached->ttl == 0u);  // less than one whole second is left
  BOOST_TEST(resolver->stats().sent == 1u);
  std::this_thread::sleep_for(1500ms);
  BOOST_TEST((resolver->queryBlocking("short.test", RrType::A)->status == Status::Ok));
  BOOST_TEST(resolver->stats().sent == 2u);
  BOOST_TEST(resolver->stats().cache_hits == 1u);
}

BOOST_AUTO_TEST_CASE(cached_ttls_count_down_and_are_capped) {
  ResolverSettings settings = testSettings();
  settings.max_ttl = 100;
  auto resolver = started(settings);
  BOOST_TEST(resolver->queryBlocking("capped.test", RrType::A)->ttl == 100u);
  BOOST_TEST(resolver->queryBlocking("example.test", RrType::A)->ttl == 100u);
  const AnswerPtr again = resolver->queryBlocking("EXAMPLE.test.", RrType::A);
  BOOST_TEST(again->ttl <= 100u);
  BOOST_TEST(again->ttl >= 98u);
  BOOST_TEST(again->addresses.size() == 2u);
  BOOST_TEST(resolver->stats().cache_hits == 1u);
}

BOOST_AUTO_TEST_CASE(least_recently_used_entries_are_evicted) {
  ResolverSettings settings = testSettings();
  settings.cache_entries = 2;
  auto resolver = started(settings);
  for (const char* name : {"lru1.test", "lru2.test", "lru1.test", "lru3.test", "lru1.test", "lru2.test"}) {
    BOOST_TEST((resolver->queryBlocking(name, RrType::A)->status == Status::Ok));
  }
  const ResolverStats stats = resolver->stats();
  BOOST_TEST(stats.sent == 4u);  // lru1, lru2, lru3 (evicts lru2), lru2 again
  BOOST_TEST(stats.cache_hits == 2u);
}

BOOST_AUTO_TEST_CASE(callbacks_run_on_the_loop_thread_and_never_inline) {
  auto resolver = started(testSettings());
  resolver->queryBlocking("example.test", RrType::TXT);  // now cached
  std::atomic<bool> outer_on_loop{false};
  std::atomic<bool> inner_on_loop{false};
  std::atomic<bool> inner_inline{true};
  std::promise<void> done;
  bool inside_outer = false;  // loop thread only
  resolver->query("example.test", RrType::TXT, [&](AnswerPtr) {
    outer_on_loop = resolver->loop().inLoopThread();
    inside_outer = true;
    resolver->query("example.test", RrType::TXT, [&](AnswerPtr) {
      inner_on_loop = resolver->loop().inLoopThread();
      inner_inline = inside_outer;
      done.set_value();
    });
    inside_outer = false;
  });
  BOOST_TEST_REQUIRE((done.get_future().wait_for(5s) == std::future_status::ready));
  BOOST_TEST(outer_on_loop.load());
  BOOST_TEST(inner_on_loop.load());
  BOOST_TEST(!inner_inline.load());
  BOOST_TEST(resolver->stats().cache_hits == 2u);
}

BOOST_AUTO_TEST_CASE(invalid_names_are_nxdomain_without_a_query) {
  auto resolver = started(testSettings());
  const std::string label63(63, 'a');
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  for (const std::string& name : {std::string(64, 'a') + ".test", name253 + "c", std::string("a..test"),
                                  std::string(".test"), std::string(""), std::string("."), std::string("a\0b", 3)}) {
    BOOST_TEST_CONTEXT("name '" << name << "'") {
      BOOST_TEST((resolver->queryBlocking(name, RrType::TXT)->status == Status::NxDomain));
    }
  }
  BOOST_TEST(resolver->stats().sent == 0u);
  BOOST_TEST((resolver->queryBlocking(label63 + ".test", RrType::TXT)->status == Status::NxDomain));
  BOOST_TEST((resolver->queryBlocking(name253 + ".", RrType::TXT)->status == Status::NxDomain));
  BOOST_TEST(resolver->stats().sent == 2u);  // those two were valid and went to the server
}

BOOST_AUTO_TEST_CASE(server_lists) {
  std::string error;
  for (const char* good : {"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "[::1]", "::1"}) {
    ResolverSettings settings;
    settings.servers = {good};
    BOOST_TEST((Resolver::create(settings, error) != nullptr), good << ": " << error);
  }
  BOOST_TEST((Resolver::create(ResolverSettings{}, error) != nullptr), "resolv.conf: " << error);
  for (const char* bad : {"dns.example", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "[::1", "[::1]x",
                          "[127.0.0.1]:53", "1.2.3.4:53:1", ""}) {
    ResolverSettings settings;
    settings.servers = {"127.0.0.1", bad};
    error.clear();
    BOOST_TEST((Resolver::create(settings, error) == nullptr), bad);
    BOOST_TEST(!error.empty());
  }
  ResolverSettings zero_tries;
  zero_tries.tries = 0;
  BOOST_TEST((Resolver::create(zero_tries, error) == nullptr));
}

BOOST_AUTO_TEST_CASE(stop_completes_queries_in_flight) {
  ResolverSettings settings = testSettings();
  settings.timeout = 5000ms;
  auto resolver = started(settings);
  Collector collector;
  for (RrType type : {RrType::A, RrType::AAAA, RrType::MX, RrType::TXT, RrType::PTR}) {
    resolver->query("timeout.test", type, collector.callback());
    resolver->query("timeout.test", type, collector.callback());
  }
  while (resolver->stats().sent < 5) {
    std::this_thread::sleep_for(1ms);
  }
  const auto begin = std::chrono::steady_clock::now();
  resolver->stop();
  BOOST_TEST((std::chrono::steady_clock::now() - begin) < 1s);
  const std::vector<AnswerPtr> answers = collector.wait(10, 0ms);
  BOOST_TEST_REQUIRE(answers.size() == 10u);
  for (const AnswerPtr& answer : answers) {
    BOOST_TEST((answer->status == Status::ServFail));
  }
  // After stop(): answered at once, on the calling thread.
  BOOST_TEST((resolver->queryBlocking("example.test", RrType::A)->status == Status::ServFail));
  resolver->stop();
}

BOOST_AUTO_TEST_CASE(queries_before_start_are_answered_once_started_or_stopped) {
  std::string error;
  auto resolver = Resolver::create(testSettings(), error);
  BOOST_TEST_REQUIRE(resolver != nullptr, error);
  Collector collector;
  resolver->query("example.test", RrType::A, collector.callback());
  resolver->start();
  BOOST_TEST((collector.wait(1).at(0)->status == Status::Ok));

  auto never_started = Resolver::create(testSettings(), error);
  Collector pending;
  never_started->query("slow.test", RrType::A, pending.callback());
  never_started.reset();
  const std::vector<AnswerPtr> answers = pending.wait(1, 0ms);
  BOOST_TEST_REQUIRE(answers.size() == 1u);
  BOOST_TEST((answers[0]->status == Status::ServFail));
}

BOOST_AUTO_TEST_SUITE_END()
