// Unit tests for MX routes (RFC 5321 §5.1, RFC 7505) against tests/integration/dns_server.py on
// 127.0.0.1: preference order and the shuffle of equal preferences, address order and limit,
// implicit MX, null MX, NXDOMAIN, lookup failures never read as "no MX", exchangers without
// addresses, address literals, and callbacks on the resolver's thread.
#include "mxgate/delivery/mx_route.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mxgate/io/loop.h"
#include "support/dns_server_process.h"

using namespace mxgate;
using namespace mxgate::delivery;
using namespace std::chrono_literals;

namespace {

std::string zoneJson() {
  return R"({
  "two.test": [{"type": "MX", "value": [20, "mx2.two.test"]}, {"type": "MX", "value": [10, "mx1.two.test"]}],
  "mx1.two.test": [{"type": "A", "value": "127.0.0.2"}, {"type": "AAAA", "value": "::1"}],
  "mx2.two.test": [{"type": "A", "value": "127.0.0.3"}],
  "equal.test": [{"type": "MX", "value": [10, "a.equal.test"]}, {"type": "MX", "value": [10, "b.equal.test"]},
                 {"type": "MX", "value": [5, "first.equal.test"]}],
  "first.equal.test": [{"type": "A", "value": "127.0.0.4"}],
  "a.equal.test": [{"type": "A", "value": "127.0.0.5"}],
  "b.equal.test": [{"type": "A", "value": "127.0.0.6"}],
  "implicit.test": [{"type": "A", "value": "127.0.0.7"}, {"type": "TXT", "value": "no mx here"}],
  "bare.test": [{"type": "TXT", "value": "neither mx nor address"}],
  "nullmx.test": [{"type": "MX", "value": [0, "."]}, {"type": "A", "value": "127.0.0.8"}],
  "mixed.test": [{"type": "MX", "value": [0, "."]}, {"type": "MX", "value": [10, "mx2.two.test"]}],
  "broken.test": [{"type": "SERVFAIL"}],
  "slow.test": [{"type": "TIMEOUT"}],
  "halfbroken.test": [{"type": "MX", "value": [10, "missing.halfbroken.test"]},
                      {"type": "MX", "value": [20, "fail.halfbroken.test"]},
                      {"type": "MX", "value": [30, "mx2.two.test"]}],
  "fail.halfbroken.test": [{"type": "SERVFAIL"}],
  "noaddr.test": [{"type": "MX", "value": [10, "missing.noaddr.test"]}],
  "tempaddr.test": [{"type": "MX", "value": [10, "missing.noaddr.test"]}, {"type": "MX", "value": [20, "fail.halfbroken.test"]}],
  "many.test": [{"type": "MX", "value": [10, "m1.many.test"]}, {"type": "MX", "value": [20, "m2.many.test"]}],
  "m1.many.test": [{"type": "A", "value": "127.0.1.1"}, {"type": "A", "value": "127.0.1.2"}, {"type": "A", "value": "127.0.1.3"}],
  "m2.many.test": [{"type": "A", "value": "127.0.1.4"}, {"type": "A", "value": "127.0.1.2"}, {"type": "A", "value": "127.0.1.5"}]
})";
}

test::DnsServerProcess& server() {
  static test::DnsServerProcess process(zoneJson());
  return process;
}

struct Fixture {
  Fixture() {
    dns::ResolverSettings settings;
    settings.servers = {"127.0.0.1:" + std::to_string(server().port())};
    settings.timeout = 200ms;
    settings.tries = 1;
    std::string error;
    resolver = dns::Resolver::create(settings, error);
    BOOST_TEST_REQUIRE(resolver != nullptr, error);
    resolver->start();
  }
  ~Fixture() { resolver->stop(); }

  MxRoute route(const std::string& domain, config::MxSettings settings = {}) {
    MxResolver mx(*resolver, settings);
    std::promise<MxRoute> promise;
    bool on_resolver_thread = false;
    mx.resolve(domain, [&](MxRoute route) {
      on_resolver_thread = resolver->loop().inLoopThread();
      promise.set_value(std::move(route));
    });
    auto future = promise.get_future();
    BOOST_TEST_REQUIRE((future.wait_for(10s) == std::future_status::ready), domain);
    MxRoute result = future.get();
    BOOST_TEST(on_resolver_thread);
    return result;
  }

  std::unique_ptr<dns::Resolver> resolver;
};

std::vector<std::string> addresses(const MxRoute& route) {
  std::vector<std::string> out;
  for (const MxHop& hop : route.hops) {
    out.push_back(hop.address);
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mx_route, Fixture)

BOOST_AUTO_TEST_CASE(exchangers_in_preference_order_ipv6_first_within_one) {
  const MxRoute result = route("two.test");
  BOOST_TEST((result.status == MxRoute::Status::Ok));
  BOOST_TEST(!result.implicit);
  BOOST_TEST(addresses(result) == (std::vector<std::string>{"::1", "127.0.0.2", "127.0.0.3"}),
             boost::test_tools::per_element());
  BOOST_TEST(result.hops[0].host == "mx1.two.test");
  BOOST_TEST(result.hops[0].preference == 10);
  BOOST_TEST(result.hops[2].host == "mx2.two.test");
  BOOST_TEST((result.outcome() == Outcome::Delivered));
  BOOST_TEST(result.reply().empty());

  config::MxSettings ipv4_first;
  ipv4_first.prefer_ipv6 = false;
  BOOST_TEST(addresses(route("two.test", ipv4_first)) == (std::vector<std::string>{"127.0.0.2", "::1", "127.0.0.3"}),
             boost::test_tools::per_element());
  config::MxSettings ipv4_only;
  ipv4_only.ipv6 = false;
  BOOST_TEST(addresses(route("two.test", ipv4_only)) == (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(equal_preferences_come_in_both_orders_after_the_lower_one) {
  std::set<std::vector<std::string>> orders;
  for (int i = 0; i < 40; ++i) {
    const MxRoute result = route("equal.test");
    BOOST_TEST_REQUIRE((result.status == MxRoute::Status::Ok));
    BOOST_TEST_REQUIRE(result.hops.size() == 3u);
    BOOST_TEST(result.hops[0].address == "127.0.0.4");
    orders.insert(addresses(result));
  }
  BOOST_TEST(orders.size() == 2u);  // 127.0.0.5 / 127.0.0.6 in both orders (2^-39 to fail by chance)
}

BOOST_AUTO_TEST_CASE(order_by_preference_keeps_preference_groups) {
  std::mt19937 random(7);
  const std::vector<dns::MxHost> hosts{{30, "c"}, {10, "a1"}, {20, "b"}, {10, "a2"}, {10, "a3"}};
  for (int i = 0; i < 10; ++i) {
    const auto ordered = orderByPreference(hosts, random);
    BOOST_TEST_REQUIRE(ordered.size() == 5u);
    BOOST_TEST(ordered[0].preference == 10);
    BOOST_TEST(ordered[2].preference == 10);
    BOOST_TEST(ordered[3].host == "b");
    BOOST_TEST(ordered[4].host == "c");
  }
}

BOOST_AUTO_TEST_CASE(no_mx_records_make_the_domain_its_own_exchanger) {
  const MxRoute result = route("implicit.test");
  BOOST_TEST((result.status == MxRoute::Status::Ok));
  BOOST_TEST(result.implicit);
  BOOST_TEST_REQUIRE(result.hops.size() == 1u);
  BOOST_TEST(result.hops[0].host == "implicit.test");
  BOOST_TEST(result.hops[0].address == "127.0.0.7");

  const MxRoute bare = route("bare.test");
  BOOST_TEST((bare.status == MxRoute::Status::NoAddress));
  BOOST_TEST(bare.reply().rfind("550 5.4.4 bare.test: ", 0) == 0u, bare.reply());
}

BOOST_AUTO_TEST_CASE(null_mx_is_a_permanent_failure_without_implicit_mx) {
  const MxRoute result = route("nullmx.test");
  BOOST_TEST((result.status == MxRoute::Status::NullMx));
  BOOST_TEST(result.hops.empty());
  BOOST_TEST((result.outcome() == Outcome::PermFail));
  BOOST_TEST(result.reply().rfind("550 5.1.10 nullmx.test ", 0) == 0u, result.reply());

  // "." beside a real exchanger is not a null MX: the real one is used.
  const MxRoute mixed = route("mixed.test");
  BOOST_TEST((mixed.status == MxRoute::Status::Ok));
  BOOST_TEST(addresses(mixed) == (std::vector<std::string>{"127.0.0.3"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_domain_that_does_not_exist_fails_permanently) {
  const MxRoute result = route("nosuchdomain.test");
  BOOST_TEST((result.status == MxRoute::Status::NoDomain));
  BOOST_TEST((result.outcome() == Outcome::PermFail));
  BOOST_TEST(result.reply().rfind("550 5.1.2 nosuchdomain.test: ", 0) == 0u, result.reply());
}

BOOST_AUTO_TEST_CASE(lookup_failures_are_temporary_never_no_mx) {
  for (const char* domain : {"broken.test", "slow.test"}) {
    const MxRoute result = route(domain);
    BOOST_TEST((result.status == MxRoute::Status::TempFail), domain);
    BOOST_TEST(result.hops.empty());
    BOOST_TEST((result.outcome() == Outcome::TempFail));
    BOOST_TEST(result.reply().rfind("451 4.4.3 ", 0) == 0u, result.reply());
  }
}

BOOST_AUTO_TEST_CASE(exchangers_without_addresses_are_skipped) {
  // The first has no address, the second's lookup fails: the third is used.
  const MxRoute result = route("halfbroken.test");
  BOOST_TEST((result.status == MxRoute::Status::Ok));
  BOOST_TEST(addresses(result) == (std::vector<std::string>{"127.0.0.3"}), boost::test_tools::per_element());

  const MxRoute none = route("noaddr.test");
  BOOST_TEST((none.status == MxRoute::Status::NoAddress));
  BOOST_TEST((none.outcome() == Outcome::PermFail));

  // No address anywhere, but one lookup failed: that may be the one with an address.
  const MxRoute temporary = route("tempaddr.test");
  BOOST_TEST((temporary.status == MxRoute::Status::TempFail));
}

BOOST_AUTO_TEST_CASE(addresses_are_unique_and_limited) {
  config::MxSettings settings;
  settings.max_addresses = 4;
  const MxRoute result = route("many.test", settings);
  BOOST_TEST(addresses(result) == (std::vector<std::string>{"127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"}),
             boost::test_tools::per_element());
  settings.max_addresses = 1;
  BOOST_TEST(addresses(route("many.test", settings)) == (std::vector<std::string>{"127.0.1.1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(address_literals_need_no_lookup) {
  const MxRoute v4 = route("[127.0.0.9]");
  BOOST_TEST((v4.status == MxRoute::Status::Ok));
  BOOST_TEST_REQUIRE(v4.hops.size() == 1u);
  BOOST_TEST(v4.hops[0].address == "127.0.0.9");
  BOOST_TEST(v4.hops[0].host.empty());

  const MxRoute v6 = route("[IPv6:::1]");
  BOOST_TEST_REQUIRE(v6.hops.size() == 1u);
  BOOST_TEST(v6.hops[0].address == "::1");

  for (const char* bad : {"[not.an.address]", "[::1]", "[IPv6:127.0.0.1]", "[999.0.0.1]"}) {
    const MxRoute result = route(bad);
    BOOST_TEST((result.status == MxRoute::Status::NoDomain), bad);
    BOOST_TEST((result.outcome() == Outcome::PermFail));
  }
}

BOOST_AUTO_TEST_SUITE_END()
