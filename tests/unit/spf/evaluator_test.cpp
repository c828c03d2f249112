// check() beyond the suite: DNS failures per mechanism (§5), the §4.6.4 limits (10 terms
// across includes, 2 void lookups, 10 MX names, 10 PTR names), identities (§2.4), IPv4-mapped
// clients, the %{p} lookup only when used, explanations (§6.2), the outcome fields, and a Dns
// that misbehaves (answers twice, answers nothing, answers from another thread). `done` must
// run exactly once every time.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "zone_dns.h"

using mxgate::spf::check;
using mxgate::spf::Dns;
using mxgate::spf::Outcome;
using mxgate::spf::Request;
using mxgate::spf::Result;
using mxgate::spf::test::ZoneDns;
namespace dns = mxgate::dns;

namespace mxgate::spf {
std::ostream& operator<<(std::ostream& os, Result result) { return os << name(result); }
}  // namespace mxgate::spf

namespace {

Outcome run(Dns& dns, const std::string& ip, const std::string& sender, const std::string& helo = "mail.example.org") {
  Request request;
  request.client_ip = ip;
  request.sender = sender;
  request.helo = helo;
  request.receiver = "mx.example.net";
  int calls = 0;
  Outcome outcome;
  check(dns, request, [&](Outcome got) {
    ++calls;
    outcome = std::move(got);
  });
  if (auto* zone = dynamic_cast<ZoneDns*>(&dns)) {
    zone->runPending();
  }
  BOOST_TEST(calls == 1);
  return outcome;
}

// How many lookups were "TYPE name" exactly.
size_t count(const ZoneDns& dns, const std::string& lookup) {
  return static_cast<size_t>(std::count(dns.log().begin(), dns.log().end(), lookup));
}

size_t countPrefix(const ZoneDns& dns, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(dns.log().begin(), dns.log().end(),
                                           [&](const std::string& line) { return line.rfind(prefix, 0) == 0; }));
}

// A zone whose example.com policy is `record`.
ZoneDns policy(const std::string& record, ZoneDns::Mode mode = ZoneDns::Mode::Immediate) {
  ZoneDns dns(mode);
  dns.add("example.com", "TXT", record);
  return dns;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_evaluator)

BOOST_AUTO_TEST_CASE(result_names) {
  BOOST_TEST(mxgate::spf::name(Result::None) == "none");
  BOOST_TEST(mxgate::spf::name(Result::Neutral) == "neutral");
  BOOST_TEST(mxgate::spf::name(Result::Pass) == "pass");
  BOOST_TEST(mxgate::spf::name(Result::Fail) == "fail");
  BOOST_TEST(mxgate::spf::name(Result::SoftFail) == "softfail");
  BOOST_TEST(mxgate::spf::name(Result::TempError) == "temperror");
  BOOST_TEST(mxgate::spf::name(Result::PermError) == "permerror");
}

BOOST_AUTO_TEST_CASE(outcome_fields) {
  ZoneDns dns = policy("v=spf1 ip4:192.0.2.0/24 redirect=_spf.example.com");
  dns.add("_spf.example.com", "TXT", "v=spf1 a:mail.example.com -all exp=why.example.com");
  dns.add("mail.example.com", "A", "198.51.100.1");
  dns.add("why.example.com", "TXT", "%{i} may not send for %{d} (%{s}, %{o}, %{h}, %{r})");
  Outcome outcome = run(dns, "192.0.2.10", "alice@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.identity == "mailfrom");
  BOOST_TEST(outcome.domain == "example.com");
  BOOST_TEST(outcome.mechanism == "ip4:192.0.2.0/24");
  BOOST_TEST(outcome.lookups == 0U);
  BOOST_TEST(outcome.explanation.empty());
  outcome = run(dns, "198.51.100.1", "alice@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.domain == "_spf.example.com");
  BOOST_TEST(outcome.mechanism == "a:mail.example.com");
  BOOST_TEST(outcome.lookups == 2U);
  outcome = run(dns, "203.0.113.9", "alice@example.com");
  BOOST_TEST(outcome.result == Result::Fail);
  BOOST_TEST(outcome.mechanism == "-all");
  BOOST_TEST(outcome.explanation ==
             "203.0.113.9 may not send for _spf.example.com (alice@example.com, example.com, mail.example.org, mx.example.net)");
  BOOST_TEST(outcome.problem.empty());
}

BOOST_AUTO_TEST_CASE(helo_identity_when_mail_from_is_null) {
  ZoneDns dns;
  dns.add("mail.example.org", "TXT", "v=spf1 -all exp=why.example.org");
  dns.add("why.example.org", "TXT", "%{s} %{l} %{o} %{d}");
  const Outcome outcome = run(dns, "192.0.2.1", "");
  BOOST_TEST(outcome.result == Result::Fail);
  BOOST_TEST(outcome.identity == "helo");
  BOOST_TEST(outcome.domain == "mail.example.org");
  BOOST_TEST(outcome.explanation == "postmaster@mail.example.org postmaster mail.example.org mail.example.org");
  BOOST_TEST(run(dns, "192.0.2.1", "", "").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "", "localhost").result == Result::None);
}

BOOST_AUTO_TEST_CASE(initial_processing_of_the_domain) {
  ZoneDns dns = policy("v=spf1 -all");
  BOOST_TEST(run(dns, "192.0.2.1", "a@example.com.").result == Result::Fail);  // trailing dot
  BOOST_TEST(run(dns, "192.0.2.1", "a@EXAMPLE.com").result == Result::Fail);
  BOOST_TEST(run(dns, "192.0.2.1", "example.com").result == Result::Fail);  // no local part at all
  const size_t before = dns.lookups();
  BOOST_TEST(run(dns, "192.0.2.1", "a@example..com").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "a@[192.0.2.1]").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "a@" + std::string(64, 'x') + ".com").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "a@com").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "a@example.123").result == Result::None);
  BOOST_TEST(dns.lookups() == before);  // none of them was looked up
  BOOST_TEST(run(dns, "192.0.2.1", "a@nowhere.example.net").result == Result::None);  // NXDOMAIN
}

BOOST_AUTO_TEST_CASE(a_client_address_that_is_not_numeric_is_a_permerror) {
  ZoneDns dns = policy("v=spf1 +all");
  const Outcome outcome = run(dns, "mail.example.com", "a@example.com");
  BOOST_TEST(outcome.result == Result::PermError);
  BOOST_TEST(!outcome.problem.empty());
  BOOST_TEST(dns.lookups() == 0U);
  BOOST_TEST(run(dns, "192.0.2.01", "a@example.com").result == Result::PermError);
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_clients_are_ipv4) {
  ZoneDns dns = policy("v=spf1 ip6:::ffff:0:0/96 a -all");
  dns.add("example.com", "A", "192.0.2.7");
  dns.add("example.com", "AAAA", "::ffff:192.0.2.7");
  const Outcome outcome = run(dns, "::FFFF:192.0.2.7", "a@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.mechanism == "a");
  BOOST_TEST(count(dns, "A example.com") == 1U);
  BOOST_TEST(countPrefix(dns, "AAAA ") == 0U);
  BOOST_TEST(run(dns, "2001:db8::7", "a@example.com").result == Result::Fail);
}

BOOST_AUTO_TEST_CASE(dns_failures_per_mechanism) {
  struct Case {
    std::string record;
    Result expected;
  };
  const std::vector<Case> cases = {
      {"v=spf1 a:slow.example.net -all", Result::TempError},
      {"v=spf1 mx:slow.example.net -all", Result::TempError},
      {"v=spf1 mx:mx.example.net -all", Result::TempError},   // the MX host times out
      {"v=spf1 exists:slow.example.net -all", Result::TempError},
      {"v=spf1 include:slow.example.net -all", Result::TempError},
      {"v=spf1 redirect=slow.example.net", Result::TempError},
      {"v=spf1 exists:nowhere.example.net -all", Result::Fail},  // NXDOMAIN: no match
      {"v=spf1 a:nowhere.example.net -all", Result::Fail},
      {"v=spf1 ?a:slow.example.net -all", Result::TempError},
      {"v=spf1 -all exp=slow.example.net", Result::Fail},  // explanations never fail the check
  };
  for (const Case& one : cases) {
    ZoneDns dns = policy(one.record);
    dns.addTimeout("slow.example.net");
    dns.add("mx.example.net", "MX", "slow.example.net", 10);
    const Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
    BOOST_TEST(outcome.result == one.expected, one.record);
    BOOST_TEST(outcome.explanation.empty());
  }
}

BOOST_AUTO_TEST_CASE(ptr_dns_failures) {
  ZoneDns dns = policy("v=spf1 ptr -all");
  dns.addTimeout("1.2.0.192.in-addr.arpa");
  BOOST_TEST(run(dns, "192.0.2.1", "a@example.com").result == Result::TempError);
  // A failing forward lookup only skips that name (§5.5).
  ZoneDns skip = policy("v=spf1 ptr -all");
  skip.add("1.2.0.192.in-addr.arpa", "PTR", "slow.example.com");
  skip.add("1.2.0.192.in-addr.arpa", "PTR", "mail.example.com");
  skip.addTimeout("slow.example.com");
  skip.add("mail.example.com", "A", "192.0.2.1");
  const Outcome outcome = run(skip, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.mechanism == "ptr");
}

BOOST_AUTO_TEST_CASE(ten_dns_terms_across_includes) {
  // 1 include + 9 a terms inside = 10: allowed. One more anywhere: permerror.
  ZoneDns dns = policy("v=spf1 include:inc.example.com ip4:192.0.2.1 -all");
  dns.add("inc.example.com", "TXT", "v=spf1 a a a a a a a a a");
  dns.add("inc.example.com", "A", "198.51.100.1");
  Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.lookups == 10U);
  ZoneDns over = policy("v=spf1 include:inc.example.com ip4:192.0.2.1 -all");
  over.add("inc.example.com", "TXT", "v=spf1 a a a a a a a a a a");
  over.add("inc.example.com", "A", "198.51.100.1");
  outcome = run(over, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::PermError);
  BOOST_TEST(outcome.lookups == 10U);
  BOOST_TEST(count(over, "A inc.example.com") == 9U);  // the 11th term was never looked up
  // Terms after a match are not evaluated, so they do not count.
  ZoneDns early = policy("v=spf1 +all a a a a a a a a a a a a");
  BOOST_TEST(run(early, "192.0.2.1", "a@example.com").result == Result::Pass);
}

BOOST_AUTO_TEST_CASE(redirect_counts_and_loops_end) {
  ZoneDns dns = policy("v=spf1 redirect=example.com");
  const Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::PermError);
  BOOST_TEST(outcome.lookups == 10U);
  BOOST_TEST(dns.lookups() == 11U);
  ZoneDns none = policy("v=spf1 redirect=nowhere.example.com");
  BOOST_TEST(run(none, "192.0.2.1", "a@example.com").result == Result::PermError);
  ZoneDns include_none = policy("v=spf1 include:nowhere.example.com +all");
  BOOST_TEST(run(include_none, "192.0.2.1", "a@example.com").result == Result::PermError);
}

BOOST_AUTO_TEST_CASE(two_void_lookups_at_most) {
  ZoneDns two = policy("v=spf1 a:v1.example.com mx:v2.example.com ?all exp=v3.example.com");
  two.add("v2.example.com", "A", "192.0.2.9");  // exists, but no MX: NODATA
  Outcome outcome = run(two, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Neutral);
  ZoneDns three = policy("v=spf1 a:v1.example.com mx:v2.example.com exists:v3.example.com ?all");
  three.add("v2.example.com", "A", "192.0.2.9");
  outcome = run(three, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::PermError);
  BOOST_TEST(outcome.problem == "more than 2 void lookups");
  // The exp= lookup does not count (§6.2 is not a term lookup).
  ZoneDns exp = policy("v=spf1 a:v1.example.com a:v2.example.com -all exp=v3.example.com");
  BOOST_TEST(run(exp, "192.0.2.1", "a@example.com").result == Result::Fail);
  // MX hosts without addresses are not void lookups of the term.
  ZoneDns hosts = policy("v=spf1 mx ?all");
  for (int i = 1; i <= 5; ++i) {
    hosts.add("example.com", "MX", "mx" + std::to_string(i) + ".example.com", static_cast<uint16_t>(i));
  }
  BOOST_TEST(run(hosts, "192.0.2.1", "a@example.com").result == Result::Neutral);
}

BOOST_AUTO_TEST_CASE(ten_mx_names_at_most) {
  ZoneDns ten = policy("v=spf1 mx -all");
  for (int i = 1; i <= 10; ++i) {
    ten.add("example.com", "MX", "mx" + std::to_string(i) + ".example.com", static_cast<uint16_t>(i));
    ten.add("mx" + std::to_string(i) + ".example.com", "A", "198.51.100." + std::to_string(i));
  }
  BOOST_TEST(run(ten, "198.51.100.10", "a@example.com").result == Result::Pass);
  BOOST_TEST(run(ten, "198.51.100.11", "a@example.com").result == Result::Fail);
  ten.add("example.com", "MX", "mx11.example.com", 11);
  const Outcome outcome = run(ten, "198.51.100.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::PermError);
  BOOST_TEST(count(ten, "A mx11.example.com") == 0U);
}

BOOST_AUTO_TEST_CASE(null_mx_is_skipped) {
  ZoneDns dns = policy("v=spf1 mx -all");
  dns.add("example.com", "MX", ".", 0);
  dns.add("example.com", "MX", "mail.example.com", 10);
  dns.add("mail.example.com", "A", "192.0.2.1");
  BOOST_TEST(run(dns, "192.0.2.1", "a@example.com").result == Result::Pass);
  BOOST_TEST(dns.lookups() == 3U);
}

BOOST_AUTO_TEST_CASE(ten_ptr_names_at_most) {
  auto zone = [](int valid_position) {
    ZoneDns dns = policy("v=spf1 ptr -all");
    for (int i = 1; i <= 11; ++i) {
      const std::string name = "host" + std::to_string(i) + ".example.com";
      dns.add("1.2.0.192.in-addr.arpa", "PTR", name);
      dns.add(name, "A", i == valid_position ? "192.0.2.1" : "198.51.100.1");
    }
    return dns;
  };
  ZoneDns tenth = zone(10);
  BOOST_TEST(run(tenth, "192.0.2.1", "a@example.com").result == Result::Pass);
  ZoneDns eleventh = zone(11);
  BOOST_TEST(run(eleventh, "192.0.2.1", "a@example.com").result == Result::Fail);
  BOOST_TEST(countPrefix(eleventh, "A host") == 10U);
  BOOST_TEST(count(eleventh, "A host11.example.com") == 0U);
}

BOOST_AUTO_TEST_CASE(validated_names_are_looked_up_once_and_only_when_needed) {
  ZoneDns plain = policy("v=spf1 a -all exp=why.example.com");
  plain.add("why.example.com", "TXT", "no %{d}");
  BOOST_TEST(run(plain, "192.0.2.1", "a@example.com").explanation == "no example.com");
  BOOST_TEST(countPrefix(plain, "PTR") == 0U);

  ZoneDns dns = policy("v=spf1 exists:%{p}.a.example.com ptr:other.example ptr exists:%{p2}.b.example.com -all exp=e.example.com");
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "mail.example.org");
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "mx.example.com");
  dns.add("mail.example.org", "A", "192.0.2.1");
  dns.add("mx.example.com", "A", "192.0.2.1");
  dns.add("e.example.com", "TXT", "p=%{p}");
  const Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
  // ptr (the third term) matches: mx.example.com is validated and in example.com.
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.mechanism == "ptr");
  BOOST_TEST(countPrefix(dns, "PTR") == 1U);
  BOOST_TEST(count(dns, "A mx.example.com") == 1U);
  // %{p} prefers a name within <domain>.
  BOOST_TEST(count(dns, "A mx.example.com.a.example.com") == 1U);
}

BOOST_AUTO_TEST_CASE(ip6_ptr_and_p_macro) {
  ZoneDns dns = policy("v=spf1 -all exp=e.example.com");
  dns.add("1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR", "mail.example.com.");
  dns.add("mail.example.com", "AAAA", "2001:DB8::CB01");
  dns.add("e.example.com", "TXT", "%{p} %{c} %{i}");
  BOOST_TEST(run(dns, "2001:db8::cb01", "a@example.com").explanation ==
             "mail.example.com 2001:db8::cb01 2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1");
}

BOOST_AUTO_TEST_CASE(explanations_only_for_fail_from_the_deciding_record) {
  ZoneDns dns;
  dns.add("soft.example.com", "TXT", "v=spf1 ~all exp=e.example.com");
  dns.add("top.example.com", "TXT", "v=spf1 include:inner.example.com -all");
  dns.add("inner.example.com", "TXT", "v=spf1 -all exp=e.example.com");
  dns.add("bad.example.com", "TXT", "v=spf1 -all exp=e2.example.com");
  dns.add("e.example.com", "TXT", "go away");
  dns.add("e2.example.com", "TXT", "%{x} is not a macro");
  BOOST_TEST(run(dns, "192.0.2.1", "a@soft.example.com").explanation.empty());
  const Outcome top = run(dns, "192.0.2.1", "a@top.example.com");
  BOOST_TEST(top.result == Result::Fail);
  BOOST_TEST(top.explanation.empty());
  BOOST_TEST(run(dns, "192.0.2.1", "a@inner.example.com").explanation == "go away");
  const Outcome bad = run(dns, "192.0.2.1", "a@bad.example.com");
  BOOST_TEST(bad.result == Result::Fail);
  BOOST_TEST(bad.explanation.empty());
}

BOOST_AUTO_TEST_CASE(names_that_cannot_be_queried_are_nonexistent) {
  ZoneDns dns = policy("v=spf1 a:%{l}.example.com a:x..example.com ?all");
  const Outcome outcome = run(dns, "192.0.2.1", std::string(70, 'l') + "@example.com");
  BOOST_TEST(outcome.result == Result::Neutral);  // two void lookups, no match
  BOOST_TEST(dns.lookups() == 1U);                // only the TXT record
  ZoneDns three = policy("v=spf1 a:%{l}.example.com a:x..example.com a:y..example.com ?all");
  BOOST_TEST(run(three, "192.0.2.1", "a@example.com").result == Result::PermError);
}

BOOST_AUTO_TEST_CASE(records_are_selected_by_version) {
  ZoneDns dns;
  dns.add("one.example.com", "TXT", "google-site-verification=abc");
  dns.add("one.example.com", "TXT", "v=spf1 -all");
  dns.add("one.example.com", "TXT", "v=spf10 +all");
  dns.add("two.example.com", "TXT", "v=spf1 -all");
  dns.add("two.example.com", "TXT", "V=SPF1 +all");
  dns.add("none.example.com", "TXT", "v=spf1mx");
  dns.add("spf99.example.com", "SPF", "v=spf1 -all");
  dns.addNoTxt("spf99.example.com");
  BOOST_TEST(run(dns, "192.0.2.1", "a@one.example.com").result == Result::Fail);
  BOOST_TEST(run(dns, "192.0.2.1", "a@two.example.com").result == Result::PermError);
  BOOST_TEST(run(dns, "192.0.2.1", "a@none.example.com").result == Result::None);
  BOOST_TEST(run(dns, "192.0.2.1", "a@spf99.example.com").result == Result::None);
  BOOST_TEST(countPrefix(dns, "TXT") == 4U);
}

BOOST_AUTO_TEST_CASE(deferred_answers_give_the_same_results) {
  ZoneDns dns = policy("v=spf1 mx include:inc.example.com -all exp=e.example.com", ZoneDns::Mode::Deferred);
  dns.add("example.com", "MX", "mx.example.com", 10);
  dns.add("mx.example.com", "A", "198.51.100.1");
  dns.add("inc.example.com", "TXT", "v=spf1 ptr:example.com");
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "host.example.com");
  dns.add("host.example.com", "A", "192.0.2.1");
  dns.add("e.example.com", "TXT", "from %{p}");
  BOOST_TEST(run(dns, "198.51.100.1", "a@example.com").result == Result::Pass);
  Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.mechanism == "include:inc.example.com");
  outcome = run(dns, "203.0.113.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Fail);
  BOOST_TEST(outcome.explanation == "from unknown");
}

namespace {

// Answers every lookup twice, the second time with a different answer.
class StutteringDns : public Dns {
 public:
  explicit StutteringDns(ZoneDns& zone) : zone_(zone) {}
  void lookup(const std::string& name, dns::RrType type, dns::Callback done) override {
    zone_.lookup(name, type, [done](dns::AnswerPtr answer) {
      done(answer);
      auto other = std::make_shared<dns::Answer>();
      other->status = dns::Status::ServFail;
      done(other);
      done(nullptr);
    });
  }

 private:
  ZoneDns& zone_;
};

// Answers nullptr (a resolver bug): treated as a failure.
class NullDns : public Dns {
 public:
  void lookup(const std::string&, dns::RrType, dns::Callback done) override { done(nullptr); }
};

// Answers from other threads.
class ThreadedDns : public Dns {
 public:
  explicit ThreadedDns(ZoneDns& zone) : zone_(zone) {}
  ~ThreadedDns() override { join(); }
  void lookup(const std::string& name, dns::RrType type, dns::Callback done) override {
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, name, type, done = std::move(done)] {
      dns::AnswerPtr answer;
      {
        std::lock_guard zone_lock(zone_mutex_);
        zone_.lookup(name, type, [&answer](dns::AnswerPtr got) { answer = std::move(got); });
      }
      done(std::move(answer));
    });
  }
  void join() {
    for (;;) {
      std::thread thread;
      {
        std::lock_guard lock(mutex_);
        if (threads_.empty()) {
          return;
        }
        thread = std::move(threads_.back());
        threads_.pop_back();
      }
      thread.join();
    }
  }

 private:
  ZoneDns& zone_;
  std::mutex mutex_;
  std::mutex zone_mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(repeated_answers_are_ignored) {
  ZoneDns zone = policy("v=spf1 a:one.example.com mx exists:x.example.com -all");
  zone.add("one.example.com", "A", "198.51.100.1");
  zone.add("example.com", "MX", "mx.example.com", 10);
  zone.add("mx.example.com", "A", "198.51.100.2");
  StutteringDns dns(zone);
  Outcome outcome = run(dns, "198.51.100.2", "a@example.com");
  BOOST_TEST(outcome.result == Result::Pass);
  BOOST_TEST(outcome.mechanism == "mx");
  outcome = run(dns, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::Fail);
}

BOOST_AUTO_TEST_CASE(a_missing_answer_is_a_temperror) {
  NullDns dns;
  const Outcome outcome = run(dns, "192.0.2.1", "a@example.com");
  BOOST_TEST(outcome.result == Result::TempError);
}

BOOST_AUTO_TEST_CASE(answers_from_other_threads) {
  ZoneDns zone = policy("v=spf1 a:one.example.com mx include:inc.example.com -all");
  zone.add("one.example.com", "A", "198.51.100.1");
  zone.add("example.com", "MX", "mx.example.com", 10);
  zone.add("mx.example.com", "A", "198.51.100.2");
  zone.add("inc.example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 ?all");
  for (int round = 0; round < 20; ++round) {
    ThreadedDns dns(zone);
    std::mutex mutex;
    std::vector<Outcome> outcomes;
    for (const char* ip : {"198.51.100.1", "198.51.100.2", "192.0.2.9", "203.0.113.1"}) {
      Request request;
      request.client_ip = ip;
      request.sender = "a@example.com";
      check(dns, request, [&](Outcome outcome) {
        std::lock_guard lock(mutex);
        outcomes.push_back(std::move(outcome));
      });
    }
    dns.join();
    BOOST_TEST_REQUIRE(outcomes.size() == 4U);
    std::vector<std::string> mechanisms;
    for (const Outcome& outcome : outcomes) {
      mechanisms.push_back(std::string(mxgate::spf::name(outcome.result)) + " " + outcome.mechanism);
    }
    std::sort(mechanisms.begin(), mechanisms.end());
    const std::vector<std::string> expected = {"fail -all", "pass a:one.example.com", "pass include:inc.example.com", "pass mx"};
    BOOST_TEST(mechanisms == expected, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(cost_of_a_check_against_answers_at_hand) {
  ZoneDns dns = policy("v=spf1 ip4:198.51.100.0/24 include:_spf.example.net mx -all");
  dns.add("_spf.example.net", "TXT", "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 ~all");
  dns.add("example.com", "MX", "mx.example.com", 10);
  dns.add("mx.example.com", "A", "192.0.2.1");
  constexpr int kChecks = 20000;
  int passes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kChecks; ++i) {
    Request request;
    request.client_ip = "192.0.2.1";
    request.sender = "alice@example.com";
    check(dns, request, [&passes](Outcome outcome) { passes += outcome.result == Result::Pass ? 1 : 0; });
  }
  const double micros =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kChecks;
  std::cout << "SPF check (TXT, include, MX + A, in-memory answers): " << micros << " us" << std::endl;
  BOOST_TEST(passes == kChecks);
  BOOST_TEST(micros < 1000.0);  // a bound for pathological regressions, not a benchmark
}

BOOST_AUTO_TEST_SUITE_END()
