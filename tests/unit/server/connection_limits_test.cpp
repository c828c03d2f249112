// Unit tests for the SMTP connection limits: the client key (IPv4 by address, IPv4-mapped as
// IPv4, IPv6 by its configured prefix) and the per-client and node-wide limits over it, so one
// IPv6 /64 cannot pass the per-IP limit by using a new address for each connection.
#include <boost/test/unit_test.hpp>

#include "mxgate/server/connection_limits.h"

using mxgate::server::ConnectionLimits;

BOOST_AUTO_TEST_SUITE(connection_limits)

BOOST_AUTO_TEST_CASE(client_keys) {
  BOOST_TEST(ConnectionLimits::clientKey("192.0.2.7", 64) == "192.0.2.7/32");
  BOOST_TEST(ConnectionLimits::clientKey("::ffff:192.0.2.7", 64) == "192.0.2.7/32");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2:aaaa::1", 64) == "2001:db8:1:2::/64");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2:ffff:ffff:ffff:ffff", 64) == "2001:db8:1:2::/64");
  BOOST_TEST(ConnectionLimits::clientKey("2001:DB8:1:2::9", 64) == "2001:db8:1:2::/64");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2:aaaa::1", 48) == "2001:db8:1::/48");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2:aaaa::1", 56) == "2001:db8:1::/56");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2ff:aaaa::1", 56) == "2001:db8:1:200::/56");
  BOOST_TEST(ConnectionLimits::clientKey("2001:db8:1:2:aaaa::1", 128) == "2001:db8:1:2:aaaa::1/128");
  BOOST_TEST(ConnectionLimits::clientKey("::1", 64) == "::/64");
  BOOST_TEST(ConnectionLimits::clientKey("not-an-address", 64) == "not-an-address");
}

BOOST_AUTO_TEST_CASE(one_ipv6_slash_64_shares_the_per_ip_limit) {
  ConnectionLimits limits;
  const char* same_network[] = {"2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:1234:5678:9abc:def0"};
  for (const char* address : same_network) {
    BOOST_TEST((limits.acquire(ConnectionLimits::clientKey(address, 64), 100, 3) == ConnectionLimits::Verdict::Accept),
               address);
  }
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("2001:db8:5:6:ffff::99", 64), 100, 3) ==
              ConnectionLimits::Verdict::IpFull));
  // Another /64 of the same /48 is another client; a /128 key would have let the first one in.
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("2001:db8:5:7::1", 64), 100, 3) ==
              ConnectionLimits::Verdict::Accept));
  BOOST_TEST(limits.total() == 4u);
  limits.release(ConnectionLimits::clientKey("2001:db8:5:6::2", 64));
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("2001:db8:5:6::abcd", 64), 100, 3) ==
              ConnectionLimits::Verdict::Accept));
  // With /48 configured, both /64s are one client.
  ConnectionLimits wide;
  BOOST_TEST((wide.acquire(ConnectionLimits::clientKey("2001:db8:5:6::1", 48), 100, 1) ==
              ConnectionLimits::Verdict::Accept));
  BOOST_TEST((wide.acquire(ConnectionLimits::clientKey("2001:db8:5:7::1", 48), 100, 1) ==
              ConnectionLimits::Verdict::IpFull));
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_counts_as_its_ipv4_address) {
  ConnectionLimits limits;
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("198.51.100.4", 64), 100, 2) ==
              ConnectionLimits::Verdict::Accept));
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("::ffff:198.51.100.4", 64), 100, 2) ==
              ConnectionLimits::Verdict::Accept));
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("198.51.100.4", 64), 100, 2) ==
              ConnectionLimits::Verdict::IpFull));
  BOOST_TEST((limits.acquire(ConnectionLimits::clientKey("198.51.100.5", 64), 100, 2) ==
              ConnectionLimits::Verdict::Accept));
}

BOOST_AUTO_TEST_CASE(node_limit_and_release) {
  ConnectionLimits limits;
  const std::string a = ConnectionLimits::clientKey("192.0.2.1", 64);
  const std::string b = ConnectionLimits::clientKey("2001:db8::1", 64);
  BOOST_TEST((limits.acquire(a, 2, 10) == ConnectionLimits::Verdict::Accept));
  BOOST_TEST((limits.acquire(b, 2, 10) == ConnectionLimits::Verdict::Accept));
  BOOST_TEST((limits.acquire(a, 2, 10) == ConnectionLimits::Verdict::NodeFull));
  limits.release(b);
  limits.release(b);  // a second release of a key no longer held changes nothing
  BOOST_TEST(limits.total() == 1u);
  BOOST_TEST((limits.acquire(b, 2, 10) == ConnectionLimits::Verdict::Accept));
}

BOOST_AUTO_TEST_SUITE_END()
