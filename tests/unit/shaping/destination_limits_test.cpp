// Unit tests for traffic shaping per destination site (shaping/destination_limits.h) at chosen
// times: domains with the same exchangers share a site, a provider is one site, the message
// rate holds mail until its next conforming time, the connection limit and rate gate new
// connections until one closes, a back-off rule tightens the limits (or suspends the site) for
// its duration and a later match extends it, and a reload gives sites the new limits. (Patterns
// are compiled by bounce::compileReplyPattern, as the shaping file's are.)
#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

#include "mxgate/bounce/classifier.h"
#include "mxgate/shaping/destination_limits.h"

using namespace mxgate;

namespace {

constexpr uint64_t kSecond = 1000000;
constexpr uint64_t kStart = 1800000000 * kSecond;

std::shared_ptr<config::ShapingRules> rules() {
  auto rules = std::make_shared<config::ShapingRules>();
  rules->defaults.connection_limit = 2;
  rules->defaults.max_connection_rate = config::Rate{3, 60};
  rules->defaults.max_deliveries_per_connection = 10;
  rules->defaults.max_message_rate = config::Rate{5, 1};
  config::ShapingProvider big;
  big.name = "big";
  big.mx_suffixes = {".big.example"};
  big.limits.connection_limit = 1;
  rules->providers.push_back(big);
  config::BackoffRule slow;
  slow.match = "rate limited";
  BOOST_TEST_REQUIRE(bounce::compileReplyPattern(slow.match, slow.regex).empty());
  slow.limits.max_message_rate = config::Rate{1, 60};
  slow.duration_us = 600 * kSecond;
  slow.line = 7;
  config::BackoffRule stop;
  stop.match = "TS04";
  BOOST_TEST_REQUIRE(bounce::compileReplyPattern(stop.match, stop.regex).empty());
  stop.suspend = true;
  stop.duration_us = 3600 * kSecond;
  stop.line = 12;
  rules->backoff = {slow, stop};
  return rules;
}

int admitted(shaping::Site& site, uint64_t at, int n) {
  int count = 0;
  for (int i = 0; i < n; ++i) {
    count += site.admitMessage(at).held ? 0 : 1;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shaping_destination_limits)

BOOST_AUTO_TEST_CASE(domains_sharing_exchangers_share_a_site_and_a_provider_is_one_site) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto a = limits.siteFor("a.test", {"mx2.host.test", "MX1.host.test."}, kStart);
  const auto b = limits.siteFor("b.test", {"mx1.host.test", "mx2.host.test"}, kStart);
  BOOST_TEST(a.get() == b.get());
  BOOST_TEST(a->key() == "mx1.host.test,mx2.host.test");
  BOOST_TEST(limits.siteFor("c.test", {"mx.other.test"}, kStart).get() != a.get());
  const auto g1 = limits.siteFor("one.test", {"mx.eu.big.example"}, kStart);
  const auto g2 = limits.siteFor("two.test", {"mx.us.big.example"}, kStart);
  BOOST_TEST(g1.get() == g2.get());
  BOOST_TEST(g1->key() == "provider:big");
  BOOST_TEST(limits.siteFor("literal.test", {""}, kStart)->key() == "literal.test");
}

BOOST_AUTO_TEST_CASE(the_message_rate_holds_mail_until_it_conforms) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto site = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST(admitted(*site, kStart, 5) == 5);  // a burst of 5
  const shaping::Hold hold = site->admitMessage(kStart);
  BOOST_TEST(hold.held);
  BOOST_TEST((hold.throttle == shaping::Throttle::MessageRate));
  BOOST_TEST(hold.until_us == kStart + kSecond / 5);
  BOOST_TEST(hold.limit == "max_message_rate 5/s for site mx.a.test");
  BOOST_TEST(site->admitMessage(kStart).until_us == kStart + 2 * kSecond / 5);  // the next slot
  BOOST_TEST(admitted(*site, kStart + kSecond / 5, 2) == 1);  // then one per 200 ms
  BOOST_TEST(limits.counters().held[static_cast<size_t>(shaping::Throttle::MessageRate)].load() == 3u);
}

BOOST_AUTO_TEST_CASE(connections_are_gated_by_the_limit_and_the_rate) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto site = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST(!site->openConnection(kStart).held);
  BOOST_TEST(!site->openConnection(kStart).held);
  const shaping::Hold full = site->openConnection(kStart);
  BOOST_TEST(full.held);
  BOOST_TEST((full.throttle == shaping::Throttle::ConnectionLimit));
  site->closeConnection();
  BOOST_TEST(!site->openConnection(kStart).held);  // the third of 3/m
  site->closeConnection();
  const shaping::Hold rate = site->openConnection(kStart);
  BOOST_TEST(rate.held);
  BOOST_TEST((rate.throttle == shaping::Throttle::ConnectionRate));
  BOOST_TEST(rate.until_us == kStart + 20 * kSecond);
  BOOST_TEST(!site->openConnection(kStart + 20 * kSecond).held);
  const auto provider = limits.siteFor("one.test", {"mx.big.example"}, kStart);
  BOOST_TEST(!provider->openConnection(kStart).held);
  BOOST_TEST(provider->openConnection(kStart).held);  // the provider's own limit of 1
  BOOST_TEST(provider->deliveriesPerConnection(kStart) == 10u);  // the default's
}

BOOST_AUTO_TEST_CASE(a_back_off_rule_tightens_the_site_for_its_duration_and_a_match_extends_it) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto site = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST(site->noteTemporaryReply("451 4.7.0 greylisted", kStart) == nullptr);
  const config::BackoffRule* rule = site->noteTemporaryReply("421 4.7.0 Rate Limited, try later", kStart);
  BOOST_TEST_REQUIRE(rule != nullptr);
  BOOST_TEST(rule->line == 7);
  BOOST_TEST(admitted(*site, kStart, 5) == 1);  // 1/m during the back-off
  BOOST_TEST(site->noteTemporaryReply("421 rate limited", kStart + 300 * kSecond) != nullptr);
  BOOST_TEST(admitted(*site, kStart + 800 * kSecond, 3) == 1);  // extended to 900 s
  BOOST_TEST(admitted(*site, kStart + 901 * kSecond, 6) == 5);  // over: the 5/s burst again
  BOOST_TEST(limits.counters().backoffs.load() == 2u);
}

BOOST_AUTO_TEST_CASE(a_suspending_rule_holds_every_message_until_it_ends) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto site = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST_REQUIRE(site->noteTemporaryReply("421 4.7.0 [TS04] deferred", kStart) != nullptr);
  const shaping::Hold hold = site->admitMessage(kStart + kSecond);
  BOOST_TEST(hold.held);
  BOOST_TEST((hold.throttle == shaping::Throttle::Suspended));
  BOOST_TEST(hold.until_us == kStart + 3600 * kSecond);
  BOOST_TEST(!site->admitMessage(kStart + 3600 * kSecond).held);
}

BOOST_AUTO_TEST_CASE(busy_sites_are_listed_and_a_back_off_can_be_ended) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto quiet = limits.siteFor("q.test", {"mx.q.test"}, kStart);
  const auto open = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  const auto suspended = limits.siteFor("b.test", {"mx.b.test"}, kStart);
  BOOST_TEST_REQUIRE(!open->openConnection(kStart).held);
  BOOST_TEST_REQUIRE(suspended->noteTemporaryReply("[TS04]", kStart) != nullptr);
  const std::vector<shaping::SiteStatus> busy = limits.busySites(kStart + kSecond);
  BOOST_TEST_REQUIRE(busy.size() == 2u);
  BOOST_TEST(busy[0].site == "mx.a.test");
  BOOST_TEST(busy[0].connections == 1u);
  BOOST_TEST(busy[0].backoff_line == 0);
  BOOST_TEST(busy[1].site == "mx.b.test");
  BOOST_TEST(busy[1].suspended);
  BOOST_TEST(busy[1].backoff_line == 12);
  BOOST_TEST(busy[1].backoff_until_us == kStart + 3600 * kSecond);
  BOOST_TEST(!limits.endBackoff("mx.a.test", kStart + kSecond));  // none in force
  BOOST_TEST(!limits.endBackoff("mx.unknown.test", kStart + kSecond));
  BOOST_TEST(limits.endBackoff("mx.b.test", kStart + kSecond));
  BOOST_TEST(!suspended->admitMessage(kStart + kSecond).held);
  open->closeConnection();
  BOOST_TEST(limits.busySites(kStart + kSecond).empty());
}

BOOST_AUTO_TEST_CASE(a_reload_gives_known_sites_the_new_limits_and_ends_back_offs) {
  shaping::DestinationLimits limits;
  limits.update(rules());
  const auto site = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST_REQUIRE(site->noteTemporaryReply("[TS04]", kStart) != nullptr);
  auto looser = rules();
  looser->defaults.max_message_rate = config::Rate{100, 1};
  limits.update(looser);
  const auto again = limits.siteFor("a.test", {"mx.a.test"}, kStart);
  BOOST_TEST(again.get() == site.get());
  BOOST_TEST(admitted(*again, kStart, 50) == 50);
}

BOOST_AUTO_TEST_SUITE_END()
