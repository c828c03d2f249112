// Fuzz target: the SPF record parser, macro expansion and the evaluator (RFC 7208). The first
// byte picks the mode (byte % 3) and its options (byte / 3); the rest is the input.
//   0: parseRecord on the input and on "v=spf1 " + input; a parsed record re-joined from its
//      terms must parse to the same terms.
//   1: expandMacros with a fixed context, as a domain-spec and as an explanation; whatever is
//      valid as a domain-spec is valid as an explanation, and a domain expansion longer than
//      253 octets has no dot left to cut at.
//   2: check() against an in-memory zone whose TXT records are the input's lines (example.com,
//      a.example.com ... f.example.com) beside fixed A, AAAA, MX, PTR, CNAME and TIMEOUT data:
//      `done` runs exactly once, at most 10 terms are counted, and the number of DNS lookups
//      stays within what the §4.6.4 limits allow.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/spf/spf.h"
#include "zone_dns.h"

namespace {

using mxgate::spf::Outcome;
using mxgate::spf::Record;
using mxgate::spf::Term;
using mxgate::spf::test::ZoneDns;

// 1 record + 10 terms of at most 1 + 10 lookups (mx) + the validated names (1 + 10) + exp.
constexpr size_t kMaxDnsLookups = 1 + 10 * 11 + 11 + 1;

bool sameTerms(const Record& a, const Record& b) {
  if (a.terms.size() != b.terms.size()) {
    return false;
  }
  for (size_t i = 0; i < a.terms.size(); ++i) {
    const Term& x = a.terms[i];
    const Term& y = b.terms[i];
    if (x.kind != y.kind || x.qualifier != y.qualifier || x.domain_spec != y.domain_spec || x.network != y.network ||
        x.cidr4 != y.cidr4 || x.cidr6 != y.cidr6 || x.text != y.text) {
      return false;
    }
  }
  return true;
}

void parse(std::string_view text) {
  std::string error;
  const auto record = mxgate::spf::parseRecord(text, error);
  if (!record) {
    if (error.empty()) {
      __builtin_trap();
    }
    return;
  }
  std::string joined = "v=spf1";
  for (const Term& term : record->terms) {
    if (term.text.empty() || term.text.find(' ') != std::string::npos) {
      __builtin_trap();
    }
    joined += ' ';
    joined += term.text;
  }
  const auto again = mxgate::spf::parseRecord(joined, error);
  if (!again || !sameTerms(*record, *again)) {
    __builtin_trap();
  }
}

mxgate::spf::MacroContext macroContext(bool ipv6) {
  mxgate::spf::MacroContext context;
  context.sender = "strong-bad@email.example.com";
  context.local = "strong-bad";
  context.sender_domain = "email.example.com";
  context.domain = "email.example.com";
  context.client_ip = ipv6 ? "2001:DB8::CB01" : "192.0.2.3";
  context.ipv6 = ipv6;
  context.validated_name = "mx.example.org";
  context.helo = "mx.example.org";
  context.receiver = "mx.example.net";
  context.now = 1700000000;
  return context;
}

void expand(std::string_view text, unsigned options) {
  const auto context = macroContext((options & 1) != 0);
  const auto domain = mxgate::spf::expandMacros(text, context, false);
  const auto explanation = mxgate::spf::expandMacros(text, context, true);
  if (domain && !explanation) {
    __builtin_trap();
  }
  if (domain && domain->size() > 253 && domain->find('.') != std::string::npos) {
    __builtin_trap();
  }
}

void evaluate(std::string_view input, unsigned options) {
  ZoneDns dns((options & 1) != 0 ? ZoneDns::Mode::Deferred : ZoneDns::Mode::Immediate);
  static const char* const kOwners[] = {"example.com",   "a.example.com", "b.example.com", "c.example.com",
                                        "d.example.com", "e.example.com", "f.example.com"};
  size_t line = 0;
  size_t start = 0;
  while (start <= input.size() && line < std::size(kOwners)) {
    const size_t end = std::min(input.find('\n', start), input.size());
    dns.add(kOwners[line++], "TXT", std::string(input.substr(start, end - start)));
    start = end + 1;
  }
  dns.add("example.com", "A", "192.0.2.1");
  dns.add("example.com", "AAAA", "2001:db8::1");
  dns.add("example.com", "MX", "mx.example.com", 10);
  dns.add("example.com", "MX", "b.example.com", 20);
  dns.add("mx.example.com", "A", "192.0.2.1");
  dns.add("mx.example.com", "AAAA", "2001:db8::1");
  dns.add("b.example.com", "A", "198.51.100.1");
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "mx.example.com");
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "a.example.com");
  dns.add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR", "mx.example.com");
  dns.add("alias.example.com", "CNAME", "example.com");
  dns.add("loop.example.com", "CNAME", "loop.example.com");
  dns.addTimeout("t.example.com");

  static const char* const kClients[] = {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "203.0.113.5"};
  mxgate::spf::Request request;
  request.client_ip = kClients[(options >> 1) & 3];
  request.sender = (options & 8) != 0 ? "" : "user@example.com";
  request.helo = "example.com";
  request.receiver = "mx.example.net";
  int calls = 0;
  Outcome outcome;
  mxgate::spf::check(dns, request, [&](Outcome got) {
    ++calls;
    outcome = std::move(got);
  });
  dns.runPending();
  if (calls != 1 || outcome.lookups > 10 || dns.lookups() > kMaxDnsLookups) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const unsigned options = data[0] / 3u;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      parse(input);
      parse("v=spf1 " + std::string(input));
      break;
    case 1:
      expand(input, options);
      break;
    default:
      evaluate(input, options);
      break;
  }
  return 0;
}
