// parseRecord (RFC 7208 §4.5, §4.6.1, §5, §6, §7.1, §12): accepted forms with their parsed
// fields, and every kind of syntax error that must give a permerror.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "mxgate/spf/spf.h"

using mxgate::spf::parseRecord;
using mxgate::spf::Record;
using mxgate::spf::Term;

namespace {

Record parsed(const std::string& text) {
  std::string error;
  auto record = parseRecord(text, error);
  BOOST_TEST_REQUIRE(record.has_value(), "\"" << text << "\": " << error);
  BOOST_TEST(error.empty());
  return *record;
}

Term single(const std::string& term) {
  const Record record = parsed("v=spf1 " + term);
  BOOST_TEST_REQUIRE(record.terms.size() == 1U);
  return record.terms.front();
}

bool rejected(const std::string& text) {
  std::string error;
  const bool failed = !parseRecord(text, error).has_value();
  if (failed) {
    BOOST_TEST(!error.empty(), "no reason for \"" << text << "\"");
  }
  return failed;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_record)

BOOST_AUTO_TEST_CASE(version_must_be_v_spf1_then_space_or_end) {
  BOOST_TEST(parsed("v=spf1").terms.empty());
  BOOST_TEST(parsed("V=SpF1 ").terms.empty());
  BOOST_TEST(parsed("v=spf1   -all  ").terms.size() == 1U);
  BOOST_TEST(rejected("v=spf10"));
  BOOST_TEST(rejected("v=spf1mx"));
  BOOST_TEST(rejected("v=spf2 -all"));
  BOOST_TEST(rejected(" v=spf1 -all"));
  BOOST_TEST(rejected(""));
}

BOOST_AUTO_TEST_CASE(terms_keep_order_text_and_qualifiers) {
  const Record record = parsed("v=spf1 +a -mx ~ptr ?all");
  BOOST_TEST_REQUIRE(record.terms.size() == 4U);
  BOOST_TEST(record.terms[0].qualifier == '+');
  BOOST_TEST(record.terms[1].qualifier == '-');
  BOOST_TEST(record.terms[2].qualifier == '~');
  BOOST_TEST(record.terms[3].qualifier == '?');
  BOOST_TEST(record.terms[0].text == "+a");
  BOOST_TEST(record.terms[3].text == "?all");
  BOOST_TEST(single("mx").qualifier == '+');
  BOOST_TEST(single("mx").text == "mx");
}

BOOST_AUTO_TEST_CASE(mechanism_names_are_case_insensitive) {
  BOOST_TEST(static_cast<int>(single("ALL").kind) == static_cast<int>(Term::Kind::All));
  BOOST_TEST(static_cast<int>(single("Include:example.com").kind) == static_cast<int>(Term::Kind::Include));
  BOOST_TEST(static_cast<int>(single("MX").kind) == static_cast<int>(Term::Kind::Mx));
  BOOST_TEST(static_cast<int>(single("iP4:192.0.2.1").kind) == static_cast<int>(Term::Kind::Ip4));
  BOOST_TEST(static_cast<int>(single("IP6:2001:db8::1").kind) == static_cast<int>(Term::Kind::Ip6));
  BOOST_TEST(static_cast<int>(single("Exists:%{i}.example.com").kind) == static_cast<int>(Term::Kind::Exists));
  BOOST_TEST(static_cast<int>(single("PTR").kind) == static_cast<int>(Term::Kind::Ptr));
  BOOST_TEST(static_cast<int>(single("REDIRECT=example.com").kind) == static_cast<int>(Term::Kind::Redirect));
  BOOST_TEST(static_cast<int>(single("Exp=explain.example.com").kind) == static_cast<int>(Term::Kind::Exp));
}

BOOST_AUTO_TEST_CASE(a_and_mx_domain_and_dual_cidr) {
  Term t = single("a");
  BOOST_TEST(t.domain_spec.empty());
  BOOST_TEST(t.cidr4 == -1);
  BOOST_TEST(t.cidr6 == -1);
  t = single("a:mail.example.com/24//64");
  BOOST_TEST(t.domain_spec == "mail.example.com");
  BOOST_TEST(t.cidr4 == 24);
  BOOST_TEST(t.cidr6 == 64);
  t = single("mx//0");
  BOOST_TEST(t.domain_spec.empty());
  BOOST_TEST(t.cidr4 == -1);
  BOOST_TEST(t.cidr6 == 0);
  t = single("a/0");
  BOOST_TEST(t.cidr4 == 0);
  BOOST_TEST(t.cidr6 == -1);
  t = single("mx:%{d}/32//128");
  BOOST_TEST(t.domain_spec == "%{d}");
  BOOST_TEST(t.cidr4 == 32);
  BOOST_TEST(t.cidr6 == 128);
  t = single("a:foo:bar/baz.example.com");  // ':' and '/' may appear in a domain-spec
  BOOST_TEST(t.domain_spec == "foo:bar/baz.example.com");
  BOOST_TEST(t.cidr4 == -1);
}

BOOST_AUTO_TEST_CASE(bad_cidr_lengths) {
  BOOST_TEST(rejected("v=spf1 a/33"));
  BOOST_TEST(rejected("v=spf1 a//129"));
  BOOST_TEST(rejected("v=spf1 a/24/64"));
  BOOST_TEST(rejected("v=spf1 a/032"));
  BOOST_TEST(rejected("v=spf1 mx/"));
  BOOST_TEST(rejected("v=spf1 mx//"));
  BOOST_TEST(rejected("v=spf1 a//64/24"));
  BOOST_TEST(rejected("v=spf1 a/1000"));
  BOOST_TEST(rejected("v=spf1 ip4:192.0.2.0/33"));
  BOOST_TEST(rejected("v=spf1 ip4:192.0.2.0/032"));
  BOOST_TEST(rejected("v=spf1 ip4:192.0.2.0//32"));
  BOOST_TEST(rejected("v=spf1 ip6:2001:db8::/129"));
  BOOST_TEST(rejected("v=spf1 ip6:2001:db8::1//33"));
  BOOST_TEST(rejected("v=spf1 ptr/0"));
  BOOST_TEST(rejected("v=spf1 all/8"));
}

BOOST_AUTO_TEST_CASE(ip4_and_ip6_networks) {
  Term t = single("ip4:192.0.2.0/24");
  BOOST_TEST(t.network == "192.0.2.0");
  BOOST_TEST(t.cidr4 == 24);
  t = single("ip4:1.1.1.1/0");
  BOOST_TEST(t.cidr4 == 0);
  t = single("ip6:Cafe:Babe:8000::/33");
  BOOST_TEST(t.network == "Cafe:Babe:8000::");
  BOOST_TEST(t.cidr6 == 33);
  t = single("ip6:::1.1.1.1");
  BOOST_TEST(t.network == "::1.1.1.1");
  BOOST_TEST(t.cidr6 == -1);
  BOOST_TEST(rejected("v=spf1 ip4"));
  BOOST_TEST(rejected("v=spf1 ip4:"));
  BOOST_TEST(rejected("v=spf1 ip4:1.2.3"));
  BOOST_TEST(rejected("v=spf1 ip4:1.2.3.4:8080"));
  BOOST_TEST(rejected("v=spf1 ip4:1.2.3.256"));
  BOOST_TEST(rejected("v=spf1 ip4:1.2.03.4"));
  BOOST_TEST(rejected("v=spf1 ip4:2001:db8::1"));
  BOOST_TEST(rejected("v=spf1 ip6"));
  BOOST_TEST(rejected("v=spf1 ip6::CAFE::BABE"));
  BOOST_TEST(rejected("v=spf1 ip6:1.2.3.4"));
}

BOOST_AUTO_TEST_CASE(domain_spec_rules) {
  BOOST_TEST(single("a:foo.example.xn--zckzah").domain_spec == "foo.example.xn--zckzah");
  BOOST_TEST(single("include:example.com.").domain_spec == "example.com.");
  BOOST_TEST(single("exists:%{i}.%{s1}.100/86400.rate.%{d}").domain_spec == "%{i}.%{s1}.100/86400.rate.%{d}");
  BOOST_TEST(single("a:%{H}").domain_spec == "%{H}");
  BOOST_TEST(single("a:macro%%percent%_%_space%-url-space.example.com").domain_spec ==
             "macro%%percent%_%_space%-url-space.example.com");
  BOOST_TEST(single("a:1-2.a-b").domain_spec == "1-2.a-b");
  BOOST_TEST(rejected("v=spf1 a:museum"));
  BOOST_TEST(rejected("v=spf1 a:museum."));
  BOOST_TEST(rejected("v=spf1 a:foo-bar"));
  BOOST_TEST(rejected("v=spf1 a:111.222.33.44"));
  BOOST_TEST(rejected("v=spf1 a:abc.123"));
  BOOST_TEST(rejected("v=spf1 a:example.-com"));
  BOOST_TEST(rejected("v=spf1 a:example.com-"));
  BOOST_TEST(rejected("v=spf1 a:example.com:8080"));
  BOOST_TEST(rejected("v=spf1 mx:%{d}."));
  BOOST_TEST(rejected("v=spf1 a:"));
  BOOST_TEST(rejected("v=spf1 mx:"));
  BOOST_TEST(rejected("v=spf1 ptr:"));
  BOOST_TEST(rejected("v=spf1 include:"));
  BOOST_TEST(rejected("v=spf1 include"));
  BOOST_TEST(rejected("v=spf1 exists"));
  BOOST_TEST(rejected("v=spf1 exists:"));
  BOOST_TEST(rejected("v=spf1 exists:mail.example.com/24"));
  BOOST_TEST(rejected("v=spf1 include:example.com/24"));
}

BOOST_AUTO_TEST_CASE(macro_syntax_in_domain_specs) {
  BOOST_TEST(rejected("v=spf1 exists:%(ir).sbl.example.com"));
  BOOST_TEST(rejected("v=spf1 exists:foo%.sbl.example.com"));
  BOOST_TEST(rejected("v=spf1 exists:%{ir.example.com"));
  BOOST_TEST(rejected("v=spf1 a:%{a}.example.com"));
  BOOST_TEST(rejected("v=spf1 a:%{d0}.example.com"));
  BOOST_TEST(rejected("v=spf1 a:%{dx}.example.com"));
  BOOST_TEST(rejected("v=spf1 a:foo.example.com%"));
  // c, r and t are for explanations only (§7.2).
  BOOST_TEST(rejected("v=spf1 -all exp=%{r}.example.com"));
  BOOST_TEST(rejected("v=spf1 a:%{c}.example.com"));
  BOOST_TEST(rejected("v=spf1 a:%{t}.example.com"));
  BOOST_TEST(single("a:%{l2r+-}.%{D2}.example.com").domain_spec == "%{l2r+-}.%{D2}.example.com");
  BOOST_TEST(single("a:%{dR}.example.com").domain_spec == "%{dR}.example.com");
}

BOOST_AUTO_TEST_CASE(modifiers) {
  Term t = single("redirect=_spf.example.com");
  BOOST_TEST(t.domain_spec == "_spf.example.com");
  t = single("exp=explain._spf.%{d}");
  BOOST_TEST(t.domain_spec == "explain._spf.%{d}");
  t = single("moo.cow-far_out=man:dog/cat");
  BOOST_TEST(static_cast<int>(t.kind) == static_cast<int>(Term::Kind::Unknown));
  BOOST_TEST(t.text == "moo.cow-far_out=man:dog/cat");
  BOOST_TEST(static_cast<int>(single("default=+").kind) == static_cast<int>(Term::Kind::Unknown));
  BOOST_TEST(static_cast<int>(single("moo=").kind) == static_cast<int>(Term::Kind::Unknown));
  // Unknown modifiers may repeat; redirect and exp may not (§6).
  BOOST_TEST(parsed("v=spf1 a=b a=c").terms.size() == 2U);
  BOOST_TEST(rejected("v=spf1 redirect=a.example.com redirect=b.example.com"));
  BOOST_TEST(rejected("v=spf1 exp=a.example.com -all EXP=b.example.com"));
  BOOST_TEST(rejected("v=spf1 exp="));
  BOOST_TEST(rejected("v=spf1 redirect="));
  BOOST_TEST(rejected("v=spf1 exp=-all"));
  BOOST_TEST(rejected("v=spf1 redirect=-all ?all"));
  BOOST_TEST(rejected("v=spf1 redirect:example.com"));
  BOOST_TEST(rejected("v=spf1 -redirect=example.com"));
  BOOST_TEST(rejected("v=spf1 1up=foo"));
  BOOST_TEST(rejected("v=spf1 =all"));
  BOOST_TEST(rejected("v=spf1 foo=%abc"));
  BOOST_TEST(rejected("v=spf1 moo.cow/far_out=man:dog/cat"));
  BOOST_TEST(rejected("v=spf1 moo.cow:far_out=man:dog/cat"));
}

BOOST_AUTO_TEST_CASE(unknown_mechanisms_and_stray_text) {
  BOOST_TEST(rejected("v=spf1 ip4:1.2.3.4 -all moo"));
  BOOST_TEST(rejected("v=spf1 -all."));
  BOOST_TEST(rejected("v=spf1 -all:foobar"));
  BOOST_TEST(rejected("v=spf1 !a"));
  BOOST_TEST(rejected("v=spf1 +-all"));
  BOOST_TEST(rejected("v=spf1 a,mx"));
  BOOST_TEST(rejected("v=spf1 -"));
}

BOOST_AUTO_TEST_CASE(only_printable_ascii_and_spaces) {
  BOOST_TEST(rejected("v=spf1 a:ctrl.example.com\rptr -all"));
  BOOST_TEST(rejected("v=spf1 ip4:192.0.2.5\n include:example.com ~all"));
  BOOST_TEST(rejected("v=spf1\t-all"));
  BOOST_TEST(rejected(std::string("v=spf1 a:foo.example.com\0", 25)));
  BOOST_TEST(rejected("v=spf1 \x80" "a:example.net -all"));
  BOOST_TEST(rejected("v=spf1 a:\xc3\xaf\xc2\xbb\xc2\xbfgarbage.example.net -all"));
}

BOOST_AUTO_TEST_SUITE_END()
