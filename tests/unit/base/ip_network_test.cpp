// Unit tests for CIDR networks: parsing bounds, IPv4 and IPv6 membership, IPv4-mapped clients.
#include <boost/test/unit_test.hpp>

#include "mxgate/base/ip_network.h"

using mxgate::IpNetwork;

BOOST_AUTO_TEST_SUITE(ip_network)

BOOST_AUTO_TEST_CASE(parsing) {
  BOOST_TEST(IpNetwork::parse("127.0.0.0/8").has_value());
  BOOST_TEST(IpNetwork::parse("192.0.2.1").has_value());
  BOOST_TEST(IpNetwork::parse("2001:db8::/32").has_value());
  BOOST_TEST(IpNetwork::parse("::1/128").has_value());
  BOOST_TEST(IpNetwork::parse("0.0.0.0/0").has_value());
  BOOST_TEST(!IpNetwork::parse("127.0.0.0/33").has_value());
  BOOST_TEST(!IpNetwork::parse("::/129").has_value());
  BOOST_TEST(!IpNetwork::parse("127.0.0.0/").has_value());
  BOOST_TEST(!IpNetwork::parse("127.0.0.0/8x").has_value());
  BOOST_TEST(!IpNetwork::parse("localhost").has_value());
  BOOST_TEST(!IpNetwork::parse("").has_value());
  BOOST_TEST(!IpNetwork::parse(std::string("127.0.0.1\0", 10)).has_value());
}

BOOST_AUTO_TEST_CASE(membership) {
  auto loopback = *IpNetwork::parse("127.0.0.0/8");
  BOOST_TEST(loopback.contains("127.255.0.9"));
  BOOST_TEST(!loopback.contains("128.0.0.1"));
  BOOST_TEST(loopback.contains("::ffff:127.0.0.1"));  // IPv4-mapped counts as IPv4
  BOOST_TEST(!loopback.contains("::1"));
  BOOST_TEST(!loopback.contains("not an address"));
  auto odd = *IpNetwork::parse("192.0.2.128/25");
  BOOST_TEST(odd.contains("192.0.2.200"));
  BOOST_TEST(!odd.contains("192.0.2.127"));
  auto v6 = *IpNetwork::parse("2001:db8:abcd::/48");
  BOOST_TEST(v6.contains("2001:db8:abcd:1::5"));
  BOOST_TEST(!v6.contains("2001:db8:abce::5"));
  BOOST_TEST(!v6.contains("192.0.2.1"));
  auto host = *IpNetwork::parse("10.1.2.3");
  BOOST_TEST(host.contains("10.1.2.3"));
  BOOST_TEST(!host.contains("10.1.2.4"));
  BOOST_TEST(IpNetwork::parse("0.0.0.0/0")->contains("203.0.113.7"));
  BOOST_TEST(mxgate::inAnyNetwork({*IpNetwork::parse("10.0.0.0/8"), loopback}, "127.0.0.1"));
  BOOST_TEST(!mxgate::inAnyNetwork({}, "127.0.0.1"));
}

BOOST_AUTO_TEST_CASE(network_around_an_address) {
  BOOST_TEST(IpNetwork::around("192.0.2.77", 24, 64)->str() == "192.0.2.0/24");
  BOOST_TEST(IpNetwork::around("192.0.2.77", 32, 64)->str() == "192.0.2.77/32");
  BOOST_TEST(IpNetwork::around("::ffff:192.0.2.77", 32, 64)->str() == "192.0.2.77/32");
  BOOST_TEST(IpNetwork::around("2001:db8:aa:bb:cc::1", 32, 64)->str() == "2001:db8:aa:bb::/64");
  BOOST_TEST(IpNetwork::around("2001:db8:aa:bb:cc::1", 32, 61)->str() == "2001:db8:aa:b8::/61");
  BOOST_TEST(IpNetwork::around("2001:db8::1", 32, 200)->str() == "2001:db8::1/128");
  BOOST_TEST(IpNetwork::around("2001:db8:aa:bb:cc::1", 32, 64)->contains("2001:db8:aa:bb:ffff::"));
  BOOST_TEST(!IpNetwork::around("2001:db8:aa:bb:cc::1", 32, 64)->contains("2001:db8:aa:bc::"));
  BOOST_TEST(!IpNetwork::around("example.org", 32, 64).has_value());
  BOOST_TEST(IpNetwork::parse("10.1.2.3/8")->str() == "10.0.0.0/8");
}

BOOST_AUTO_TEST_CASE(non_public_addresses) {
  for (const char* address : {"127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254",
                              "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                              "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
                              "not an address", ""}) {
    BOOST_TEST(mxgate::isNonPublicAddress(address), address);
  }
  for (const char* address : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2606:4700::1111",
                              "::ffff:1.1.1.1"}) {
    BOOST_TEST(!mxgate::isNonPublicAddress(address), address);
  }
}

// IPv6 forms that embed an IPv4 address lead where that address leads: refused exactly when
// the plain IPv4 address is.
BOOST_AUTO_TEST_CASE(embedded_ipv4_follows_the_ipv4_policy) {
  struct Form {
    const char* name;
    const char* private_address;
    const char* public_address;
  };
  const Form forms[] = {
      {"IPv4-mapped ::ffff:0:0/96", "::ffff:192.168.1.1", "::ffff:8.8.8.8"},
      {"IPv4-compatible ::/96", "::10.0.0.1", "::8.8.8.8"},
      {"IPv4-compatible loopback", "::127.0.0.1", "::1.1.1.1"},
      {"IPv4-translated ::ffff:0:0:0/96", "::ffff:0:169.254.169.254", "::ffff:0:8.8.8.8"},
      {"NAT64 64:ff9b::/96", "64:ff9b::10.1.2.3", "64:ff9b::8.8.8.8"},
      {"NAT64 64:ff9b::/96, hex", "64:ff9b::7f00:1", "64:ff9b::808:808"},
      {"NAT64 CGNAT", "64:ff9b::100.64.0.1", "64:ff9b::100.128.0.1"},
      {"6to4 2002::/16", "2002:c0a8:0101::1", "2002:0808:0808::1"},
      {"6to4 loopback", "2002:7f00:1::", "2002:101:101::"},
      // Teredo: server 65.54.227.120, client 10.0.0.1 / 8.8.8.8 stored inverted (f5ff:fffe / f7f7:f7f7).
      {"Teredo client", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"},
      {"Teredo server", "2001:0:a00:1:8000:63bf:f7f7:f7f7", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"},
      {"ISATAP ::0:5efe", "2606:4700::5efe:a00:1", "2606:4700::5efe:808:808"},
      {"ISATAP ::200:5efe", "2606:4700::200:5efe:c0a8:1", "2606:4700::200:5efe:808:808"},
  };
  for (const Form& form : forms) {
    BOOST_TEST(mxgate::isNonPublicAddress(form.private_address), form.name << ": " << form.private_address);
    BOOST_TEST(!mxgate::isNonPublicAddress(form.public_address), form.name << ": " << form.public_address);
  }
  // The NAT64 local-use prefix (RFC 8215) is not global whatever it embeds.
  BOOST_TEST(mxgate::isNonPublicAddress("64:ff9b:1::8.8.8.8"));
  for (const char* reserved : {"2001:2::1", "3fff::1", "5f00::1", "fec0::1"}) {
    BOOST_TEST(mxgate::isNonPublicAddress(reserved), reserved);
  }
}

BOOST_AUTO_TEST_SUITE_END()
