// Unit tests for bounce classification: the shipped rules (conf/bounce_rules.toml, compiled in)
// against replies worded the way real receivers word them, first match wins, and the fallback
// by code class.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "mxgate/bounce/classifier.h"
#include "mxgate/config/config.h"

using namespace mxgate::bounce;

namespace {

const Rules& shipped() {
  static const Rules rules = [] {
    Rules out;
    const std::vector<mxgate::config::ConfigError> errors =
        mxgate::config::parseBounceRules("<built-in>", std::string(defaultRulesText()), out);
    BOOST_TEST_REQUIRE(errors.empty(), (errors.empty() ? "" : errors.front().str()));
    return out;
  }();
  return rules;
}

struct Case {
  const char* reply;
  Class cls;
  const char* label;
};

// Reply texts in the shapes large receivers send (not copied from any one of them).
const Case kCases[] = {
    {"550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table", Class::Hard,
     "invalid_recipient"},
    {"550 5.1.1 The email account that you tried to reach does not exist. / 5.1.1 Please try double-checking",
     Class::Hard, "invalid_recipient"},
    {"550 5.1.1 no such user", Class::Hard, "invalid_recipient"},
    {"550 5.5.0 Requested action not taken: mailbox unavailable", Class::Hard, "invalid_recipient"},
    {"550 Requested action not taken: mailbox unavailable (user not found)", Class::Hard, "invalid_recipient"},
    {"553 5.1.3 Invalid address syntax", Class::Hard, "invalid_recipient"},
    {"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Class::Hard,
     "invalid_recipient"},
    {"550 5.1.10 Recipient address has null MX", Class::Hard, "null_mx"},
    {"554 5.1.2 Host or domain name not found", Class::Hard, "invalid_domain"},
    {"550 5.4.4 Unable to route", Class::Hard, "invalid_domain"},
    {"550 5.2.1 The email account that you tried to reach is disabled", Class::Hard, "mailbox_disabled"},
    {"554 delivery error: dd This user doesn't have a example.com account", Class::Hard, "invalid_recipient"},
    {"552 5.2.2 The email account that you tried to reach is over quota", Class::Soft, "mailbox_full"},
    {"452 4.2.2 Mailbox full", Class::Soft, "mailbox_full"},
    {"550 5.1.1 Mailbox is full / quota exceeded", Class::Soft, "mailbox_full"},
    {"552 Requested mail action aborted: exceeded storage allocation", Class::Soft, "mailbox_full"},
    {"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Class::Block,
     "blocklist"},
    {"550 5.7.1 Your IP address is on our blocklist", Class::Block, "blocklist"},
    {"421 4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail", Class::Block,
     "spam_block"},
    {"550 5.7.1 Message rejected as spam by Content Filtering", Class::Block, "spam_block"},
    {"554 5.7.1 Message rejected because it contains a virus", Class::Block, "spam_block"},
    {"451 4.7.1 Greylisting in action, please come back later", Class::Soft, "greylisted"},
    {"450 4.2.0 <bob@example.com>: Recipient address rejected: Greylisted", Class::Soft, "greylisted"},
    {"421 4.7.28 Our system has detected an unusual rate of mail from your IP (rate limited)", Class::Soft,
     "rate_limit"},
    {"452 4.5.3 Too many recipients", Class::Soft, "rate_limit"},
    {"450 4.7.1 Too many messages from your IP, try again later", Class::Soft, "rate_limit"},
    {"550 5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF "
     "or DKIM)",
     Class::Block, "auth_failure"},
    {"550 5.7.1 Unauthenticated email from example.org is not accepted due to domain's DMARC policy", Class::Block,
     "auth_failure"},
    {"550 5.7.25 The IP address sending this message does not have a PTR record setup", Class::Block,
     "reverse_dns"},
    {"530 5.7.0 Must issue a STARTTLS command first", Class::Block, "tls_required"},
    {"552 5.3.4 Message size exceeds fixed limit", Class::Block, "message_too_large"},
    {"550 5.7.1 Delivery not authorized, message refused", Class::Block, "policy"},
    {"554 5.7.1 <bob@example.com>: Relay access denied", Class::Block, "policy"},
    {"451 4.3.0 Temporary local problem, please try later", Class::Soft, "system_unavailable"},
    {"421 4.4.2 Connection dropped", Class::Soft, "network"},
    {"451 4.4.7 Delivery time expired", Class::Soft, "expired"},
    {"550 5.4.6 Routing loop detected", Class::Soft, "routing_loop"},
    {"550 5.6.0 Message content not supported", Class::Block, "content"},
    {"550 5.1.7 Bad sender's mailbox address syntax", Class::Block, "bad_sender"},
    {"450 4.1.1 <bob@example.com>: Recipient address rejected: unverified address", Class::Soft,
     "address_temporary"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(bounce_classifier)

BOOST_AUTO_TEST_CASE(shipped_rules_classify_real_replies) {
  BOOST_TEST(shipped().rules.size() > 30u);
  for (const Case& c : kCases) {
    const Classification got = classify(shipped(), c.reply, c.reply[0] == '5');
    BOOST_TEST_CONTEXT(c.reply) {
      BOOST_TEST(className(got.cls) == className(c.cls));
      BOOST_TEST(got.label == c.label);
    }
  }
}

BOOST_AUTO_TEST_CASE(matching_ignores_case) {
  BOOST_TEST(classify(shipped(), "550 5.7.1 SPAMHAUS listing", true).label == "blocklist");
  BOOST_TEST(classify(shipped(), "550 5.0.0 USER UNKNOWN", true).label == "invalid_recipient");
}

BOOST_AUTO_TEST_CASE(first_matching_rule_wins) {
  Rules rules;
  for (const auto& [match, cls, label] :
       {std::tuple{"full", Class::Soft, "first"}, std::tuple{"mailbox", Class::Hard, "second"}}) {
    Rule rule;
    rule.match = match;
    BOOST_TEST_REQUIRE(compileMatch(rule).empty());
    rule.cls = cls;
    rule.label = label;
    rules.rules.push_back(std::move(rule));
  }
  BOOST_TEST(classify(rules, "552 5.2.2 mailbox full", true).label == "first");
  BOOST_TEST(classify(rules, "550 5.1.1 no such mailbox", true).label == "second");
}

BOOST_AUTO_TEST_CASE(unmatched_replies_fall_back_to_their_code_class) {
  const Rules none;
  BOOST_TEST((classify(none, "550 5.9.9 something new", false) == Classification{Class::Hard, "unclassified"}));
  BOOST_TEST((classify(none, "451 4.9.9 something new", true) == Classification{Class::Soft, "unclassified"}));
  BOOST_TEST((classify(none, "250-odd", true) == Classification{Class::Hard, "unclassified"}));
  // No code: our own transport errors go by whether the attempt failed for good.
  BOOST_TEST((classify(none, "connect to 192.0.2.1:25: connection refused", false) ==
              Classification{Class::Soft, "unclassified"}));
  BOOST_TEST((classify(none, "", true) == Classification{Class::Hard, "unclassified"}));
  BOOST_TEST((classify(shipped(), "550 something nobody wrote a rule for", true) ==
              Classification{Class::Hard, "unclassified"}));
}

BOOST_AUTO_TEST_CASE(long_replies_are_classified_by_their_start) {
  const std::string reply = "550 5.1.1 user unknown " + std::string(100000, 'x');
  BOOST_TEST(classify(shipped(), reply, true).label == "invalid_recipient");
}

BOOST_AUTO_TEST_CASE(classes_and_labels_are_checked) {
  BOOST_TEST((parseClass("hard") == Class::Hard));
  BOOST_TEST((parseClass("block") == Class::Block));
  BOOST_TEST(!parseClass("Hard"));
  BOOST_TEST(checkLabel("mailbox_full").empty());
  BOOST_TEST(!checkLabel("").empty());
  BOOST_TEST(!checkLabel("Mailbox-Full").empty());
  BOOST_TEST(!checkLabel(std::string(kMaxLabelLength + 1, 'a')).empty());
}

BOOST_AUTO_TEST_SUITE_END()
