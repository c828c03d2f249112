// expandMacros (RFC 7208 §7): every example of §7.4 with its exact expansion, transformers
// and delimiters, URL escaping of upper-case letters, %% %_ %-, the explanation-only letters,
// IPv6 forms of %{i} and %{c}, %{p} and %{r} defaults, the 253-octet truncation and syntax
// errors.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

#include "mxgate/spf/spf.h"

using mxgate::spf::expandMacros;
using mxgate::spf::MacroContext;

namespace {

// The §7.4 context.
MacroContext rfcContext() {
  MacroContext context;
  context.sender = "strong-bad@email.example.com";
  context.local = "strong-bad";
  context.sender_domain = "email.example.com";
  context.domain = "email.example.com";
  context.client_ip = "192.0.2.3";
  context.validated_name = "mx.example.org";
  context.helo = "mx.example.org";
  context.receiver = "mx.example.net";
  context.now = 1700000000;
  return context;
}

MacroContext rfcContext6() {
  MacroContext context = rfcContext();
  context.client_ip = "2001:db8::cb01";
  context.ipv6 = true;
  return context;
}

std::string domain(const std::string& text, const MacroContext& context = rfcContext()) {
  const auto out = expandMacros(text, context, false);
  BOOST_TEST_REQUIRE(out.has_value(), "\"" << text << "\" did not expand");
  return *out;
}

std::string explanation(const std::string& text, const MacroContext& context = rfcContext()) {
  const auto out = expandMacros(text, context, true);
  BOOST_TEST_REQUIRE(out.has_value(), "\"" << text << "\" did not expand");
  return *out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_macro)

BOOST_AUTO_TEST_CASE(rfc7208_section_7_4_examples) {
  BOOST_TEST(domain("%{s}") == "strong-bad@email.example.com");
  BOOST_TEST(domain("%{o}") == "email.example.com");
  BOOST_TEST(domain("%{d}") == "email.example.com");
  BOOST_TEST(domain("%{d4}") == "email.example.com");
  BOOST_TEST(domain("%{d3}") == "email.example.com");
  BOOST_TEST(domain("%{d2}") == "example.com");
  BOOST_TEST(domain("%{d1}") == "com");
  BOOST_TEST(domain("%{dr}") == "com.example.email");
  BOOST_TEST(domain("%{d2r}") == "example.email");
  BOOST_TEST(domain("%{l}") == "strong-bad");
  BOOST_TEST(domain("%{l-}") == "strong.bad");
  BOOST_TEST(domain("%{lr}") == "strong-bad");
  BOOST_TEST(domain("%{lr-}") == "bad.strong");
  BOOST_TEST(domain("%{l1r-}") == "strong");
  BOOST_TEST(domain("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com");
  BOOST_TEST(domain("%{lr-}.lp._spf.%{d2}") == "bad.strong.lp._spf.example.com");
  BOOST_TEST(domain("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}") == "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  BOOST_TEST(domain("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}") == "3.2.0.192.in-addr.strong.lp._spf.example.com");
  BOOST_TEST(domain("%{d2}.trusted-domains.example.net") == "example.com.trusted-domains.example.net");
  BOOST_TEST(domain("%{ir}.%{v}._spf.%{d2}", rfcContext6()) ==
             "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

BOOST_AUTO_TEST_CASE(ipv6_nibbles_keep_the_case_the_address_was_written_in) {
  // RFC 4408 §8.1 wrote the same example in upper case; the suite's v-macro-ip6 expects it.
  MacroContext upper = rfcContext6();
  upper.client_ip = "2001:DB8::CB01";
  BOOST_TEST(domain("%{ir}.%{v}._spf.%{d2}", upper) ==
             "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
  BOOST_TEST(domain("%{i}", rfcContext6()) == "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1");
  // %{c} is the RFC 5952 form, lower case, whatever the input looked like.
  BOOST_TEST(explanation("%{c}", upper) == "2001:db8::cb01");
  MacroContext long_form = rfcContext6();
  long_form.client_ip = "2001:0db8:0000:0000:0000:0000:0000:cb01";
  BOOST_TEST(explanation("%{c}", long_form) == "2001:db8::cb01");
  BOOST_TEST(explanation("%{c}") == "192.0.2.3");
  BOOST_TEST(domain("%{v}", rfcContext6()) == "ip6");
  BOOST_TEST(domain("%{v}") == "in-addr");
}

BOOST_AUTO_TEST_CASE(transformers_and_delimiters) {
  MacroContext context = rfcContext();
  context.local = "philip-gladstone-test";
  BOOST_TEST(domain("%{l2r-}") == "bad.strong");
  BOOST_TEST(domain("%{l2r-}", context) == "gladstone.philip");
  context.local = "foo-bar+zip+quux";
  BOOST_TEST(domain("%{l2r+-}", context) == "bar.foo");
  BOOST_TEST(domain("%{l+-}", context) == "foo.bar.zip.quux");
  BOOST_TEST(domain("%{l}", context) == "foo-bar+zip+quux");
  BOOST_TEST(domain("%{d99}") == "email.example.com");
  BOOST_TEST(domain("%{d99999999999999999999999}") == "email.example.com");
  BOOST_TEST(domain("%{d02}") == "example.com");
  BOOST_TEST(domain("%{dR}") == "com.example.email");
  BOOST_TEST(domain("%{s.}") == "strong-bad@email.example.com");  // '@' is no delimiter
}

BOOST_AUTO_TEST_CASE(upper_case_letters_are_url_escaped) {
  MacroContext context = rfcContext();
  context.local = "~jack&jill=up-a_b3.c";
  BOOST_TEST(explanation("http://example.com/why.html?l=%{L}", context) ==
             "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
  BOOST_TEST(domain("%{S}") == "strong-bad%40email.example.com");
  BOOST_TEST(domain("%{D2}") == "example.com");
  MacroContext helo = rfcContext();
  helo.helo = "JUMPIN' JUPITER";
  BOOST_TEST(domain("%{H}", helo) == "JUMPIN%27%20JUPITER");
  helo.helo = "[192.168.218.40]";
  BOOST_TEST(domain("%{H}", helo) == "%5B192.168.218.40%5D");
  BOOST_TEST(explanation("%{C}", rfcContext6()) == "2001%3Adb8%3A%3Acb01");
  helo.helo = "\xc3\xa9";
  BOOST_TEST(domain("%{H}", helo) == "%C3%A9");
}

BOOST_AUTO_TEST_CASE(escapes) {
  BOOST_TEST(domain("%%%_%-") == "% %20");
  BOOST_TEST(domain("macro%%percent%_%_space%-url-space.example.com") == "macro%percent  space%20url-space.example.com");
}

BOOST_AUTO_TEST_CASE(explanation_letters_and_defaults) {
  BOOST_TEST(explanation("%{c} %{r} %{t}") == "192.0.2.3 mx.example.net 1700000000");
  BOOST_TEST(explanation("Connections from %{c} not authorized.") == "Connections from 192.0.2.3 not authorized.");
  BOOST_TEST(explanation("%{c} is queried as %{ir}.%{v}.arpa") == "192.0.2.3 is queried as 3.2.0.192.in-addr.arpa");
  BOOST_TEST(explanation("This is a test.") == "This is a test.");  // the trailing dot stays
  MacroContext context = rfcContext();
  context.receiver.clear();
  context.validated_name.clear();
  BOOST_TEST(explanation("%{r}", context) == "unknown");
  BOOST_TEST(explanation("connect from %{p}", context) == "connect from unknown");
  BOOST_TEST(domain("%{p}") == "mx.example.org");
  BOOST_TEST(domain("%{p2}.trusted-domains.example.net") == "example.org.trusted-domains.example.net");
  BOOST_TEST(domain("%{h}") == "mx.example.org");
  // Not in domain-specs (§7.2).
  BOOST_TEST(!expandMacros("%{c}", rfcContext(), false).has_value());
  BOOST_TEST(!expandMacros("%{r}", rfcContext(), false).has_value());
  BOOST_TEST(!expandMacros("%{t}", rfcContext(), false).has_value());
  // Spaces only in explanations.
  BOOST_TEST(!expandMacros("a b", rfcContext(), false).has_value());
}

BOOST_AUTO_TEST_CASE(syntax_errors) {
  for (const char* bad : {"%", "%(ir)", "foo%.sbl", "%{", "%{d", "%{d2", "%{d2r", "%{d2r.", "%{}", "%{a}",
                          "%{x}", "%{d0}", "%{d2x}", "%{drr}", "%{d r}", "%{s.@}", "%{d2r-}x%", "The %{x}-files."}) {
    BOOST_TEST(!expandMacros(bad, rfcContext(), true).has_value(), bad);
  }
  BOOST_TEST(!expandMacros("\xef\xbb\xbf" "Explanation", rfcContext(), true).has_value());
  BOOST_TEST(!expandMacros("tab\there", rfcContext(), true).has_value());
}

BOOST_AUTO_TEST_CASE(domain_expansions_drop_a_trailing_dot_and_are_cut_to_253_from_the_left) {
  BOOST_TEST(domain("%{d}.d.spf.example.com.") == "email.example.com.d.spf.example.com");
  MacroContext context = rfcContext();
  context.sender_domain = "somewhat.long.exp.example.com";
  const std::string eight = "%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}";
  const std::string expanded = domain("foobar." + eight + ".example.com", context);
  std::string wanted;
  for (int i = 0; i < 8; ++i) {
    wanted += "somewhat.long.exp.example.com.";
  }
  wanted += "example.com";
  BOOST_TEST(expanded == wanted);
  BOOST_TEST(expanded.size() == 251U);
  // Explanations are not truncated.
  BOOST_TEST(explanation("foobar." + eight + ".example.com", context).size() == 258U);
  // Cut label by label until it fits.
  const std::string label(60, 'x');
  const std::string name = label + "." + label + "." + label + "." + label + "." + label + ".example.com";
  BOOST_TEST(name.size() == 316U);
  BOOST_TEST(domain(name) == label + "." + label + "." + label + ".example.com");
}

BOOST_AUTO_TEST_SUITE_END()
