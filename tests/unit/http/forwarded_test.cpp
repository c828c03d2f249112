// Unit tests for the client address behind reverse proxies (X-Forwarded-For, nginx's
// real_ip_recursive): ignored from untrusted peers, read from the right through trusted proxies,
// several header fields as one list, ports and brackets, and junk that stops the walk.
#include <boost/test/unit_test.hpp>

#include "mxgate/http/forwarded.h"

using mxgate::IpNetwork;
using mxgate::http::clientAddress;

namespace {

std::vector<IpNetwork> networks(std::initializer_list<const char*> texts) {
  std::vector<IpNetwork> out;
  for (const char* text : texts) {
    out.push_back(*IpNetwork::parse(text));
  }
  return out;
}

const std::vector<IpNetwork> kProxies = networks({"10.0.0.0/8", "2001:db8:ffff::/48"});

}  // namespace

BOOST_AUTO_TEST_SUITE(forwarded)

BOOST_AUTO_TEST_CASE(untrusted_peer_is_the_client) {
  BOOST_TEST(clientAddress("192.0.2.7", {"203.0.113.9"}, kProxies) == "192.0.2.7");
  BOOST_TEST(clientAddress("192.0.2.7", {"10.1.1.1, 203.0.113.9"}, kProxies) == "192.0.2.7");
  BOOST_TEST(clientAddress("127.0.0.1", {"203.0.113.9"}, {}) == "127.0.0.1");
  BOOST_TEST(clientAddress("2001:db8:1::5", {"203.0.113.9"}, kProxies) == "2001:db8:1::5");
}

BOOST_AUTO_TEST_CASE(trusted_peer_names_the_client) {
  BOOST_TEST(clientAddress("10.0.0.2", {"203.0.113.9"}, kProxies) == "203.0.113.9");
  BOOST_TEST(clientAddress("10.0.0.2", {}, kProxies) == "10.0.0.2");
  BOOST_TEST(clientAddress("10.0.0.2", {""}, kProxies) == "10.0.0.2");
  BOOST_TEST(clientAddress("2001:db8:ffff::1", {"2001:db8:5::77"}, kProxies) == "2001:db8:5::77");
}

BOOST_AUTO_TEST_CASE(right_most_untrusted_address_wins) {
  // The client wrote 198.51.100.1 itself; 203.0.113.50 is what our first proxy saw.
  BOOST_TEST(clientAddress("10.0.0.2", {"198.51.100.1, 203.0.113.50, 10.9.9.9"}, kProxies) == "203.0.113.50");
  BOOST_TEST(clientAddress("10.0.0.2", {"198.51.100.1,203.0.113.50,10.9.9.9,"}, kProxies) == "203.0.113.50");
  // Several fields are one list, in order.
  BOOST_TEST(clientAddress("10.0.0.2", {"198.51.100.1", "203.0.113.50", "10.9.9.9"}, kProxies) == "203.0.113.50");
  BOOST_TEST(clientAddress("10.0.0.2", {"198.51.100.1, 203.0.113.50", "10.9.9.9"}, kProxies) == "203.0.113.50");
  // Every hop trusted: the left-most.
  BOOST_TEST(clientAddress("10.0.0.2", {"10.3.3.3, 10.9.9.9"}, kProxies) == "10.3.3.3");
}

BOOST_AUTO_TEST_CASE(ports_brackets_and_whitespace) {
  BOOST_TEST(clientAddress("10.0.0.2", {" 203.0.113.9:4711 "}, kProxies) == "203.0.113.9");
  BOOST_TEST(clientAddress("10.0.0.2", {"[2001:db8:5::77]:443"}, kProxies) == "2001:db8:5::77");
  BOOST_TEST(clientAddress("10.0.0.2", {"[2001:db8:5::77]"}, kProxies) == "2001:db8:5::77");
  BOOST_TEST(clientAddress("10.0.0.2", {"\t203.0.113.9\t,\t10.1.2.3"}, kProxies) == "203.0.113.9");
  BOOST_TEST(clientAddress("10.0.0.2", {"::ffff:203.0.113.9"}, kProxies) == "::ffff:203.0.113.9");
}

BOOST_AUTO_TEST_CASE(junk_stops_the_walk_at_the_nearest_trusted_hop) {
  BOOST_TEST(clientAddress("10.0.0.2", {"unknown"}, kProxies) == "10.0.0.2");
  BOOST_TEST(clientAddress("10.0.0.2", {"203.0.113.9, unknown, 10.7.7.7"}, kProxies) == "10.7.7.7");
  for (const char* junk : {"203.0.113.9:", "203.0.113.9:x", "203.0.113.9:123456", "[2001:db8::1", "[2001:db8::1]x",
                           "[2001:db8::1]:", "203.0.113.0/24", "_hidden", "2001:db8::1:80:x", "1.2.3.4.5",
                           "\"203.0.113.9\"", "for=203.0.113.9"}) {
    BOOST_TEST(clientAddress("10.0.0.2", {junk}, kProxies) == "10.0.0.2", junk);
  }
}

BOOST_AUTO_TEST_SUITE_END()
