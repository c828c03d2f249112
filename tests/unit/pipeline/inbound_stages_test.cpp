// Unit tests for the inbound stages' judgements under tenant policies, folded per tenant the way
// the intake does: every action for every check, the severity order, temporary DNS failures,
// scan failures before and after the 250; the message decision over several tenants, the
// verdict summary and the tag header.
#include <boost/test/unit_test.hpp>

#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/intake.h"

using namespace mxgate;
using pipeline::Action;

namespace {

pipeline::Verdicts clean() {
  pipeline::Verdicts v;
  v.checked = true;
  v.spf.result = spf::Result::Pass;
  v.spf.identity = "mailfrom";
  v.spf.domain = "remote.example";
  v.from.status = auth::FromDomain::Status::Ok;
  v.from.domain = "remote.example";
  v.dmarc.result = auth::DmarcResult::Pass;
  v.dmarc.from_domain = "remote.example";
  v.dmarc.policy = "reject";
  return v;
}

auth::DkimSignature signature(auth::DkimResult result) {
  auth::DkimSignature sig;
  sig.result = result;
  sig.domain = "remote.example";
  sig.selector = "s";
  sig.reason = "test";
  return sig;
}

// One tenant's decision from the SPF, DKIM, DMARC and scan stages, in list order.
pipeline::Decision judge(const pipeline::Verdicts& v, const config::InboundPolicy& policy = {},
                         config::ScanFailure failure = config::ScanFailure::Closed, bool before = false) {
  pipeline::Decision decision;
  if (v.checked) {
    pipeline::fold(decision, pipeline::judgeSpf(v.spf, policy));
    pipeline::fold(decision, pipeline::judgeDkim(v.dkim, policy));
    pipeline::fold(decision, pipeline::judgeDmarc(v.from, v.dmarc, policy));
  }
  if (v.scan) {
    pipeline::fold(decision, pipeline::judgeScan(*v.scan, policy, failure, before));
  }
  return decision;
}

pipeline::MessageDecision decideMessage(const pipeline::Verdicts& v,
                                        const std::vector<const config::Tenant*>& tenants) {
  std::vector<pipeline::TenantDecision> decisions;
  for (const config::Tenant* tenant : tenants) {
    decisions.push_back(pipeline::TenantDecision{tenant, judge(v, tenant->inbound)});
  }
  return pipeline::decideMessage(decisions);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy)

BOOST_AUTO_TEST_CASE(all_passing_is_accepted) {
  auto d = judge(clean());
  BOOST_TEST((d.action == Action::Continue));
  BOOST_TEST(d.tags.empty());
  pipeline::Verdicts unchecked;
  BOOST_TEST((judge(unchecked).action == Action::Continue));
}

BOOST_AUTO_TEST_CASE(spf_actions) {
  auto v = clean();
  v.spf.result = spf::Result::Fail;
  config::InboundPolicy policy;
  for (auto [action, expected] : {std::pair{config::CheckAction::Reject, Action::Reject},
                                  std::pair{config::CheckAction::Quarantine, Action::Quarantine},
                                  std::pair{config::CheckAction::Tag, Action::Tag},
                                  std::pair{config::CheckAction::Accept, Action::Continue}}) {
    policy.spf_fail = action;
    auto d = judge(v, policy);
    BOOST_TEST((d.action == expected));
    if (expected == Action::Reject) {
      BOOST_TEST((d.reply == smtp::ReplyId::SpfFailed));
      BOOST_TEST(smtp::renderReply(d.reply, d.reply_argument) == "550 5.7.23 SPF validation failed for remote.example\r\n");
      BOOST_TEST(d.reason == "spf");
    }
    if (expected == Action::Tag) {
      BOOST_TEST((d.tags == std::vector<std::string>{"spf=fail"}));
    }
  }
  v.spf.result = spf::Result::SoftFail;
  policy.spf_softfail = config::CheckAction::Quarantine;
  BOOST_TEST((judge(v, policy).action == Action::Quarantine));
  v.spf.result = spf::Result::PermError;
  BOOST_TEST((judge(v, policy).action == Action::Continue));
}

BOOST_AUTO_TEST_CASE(dns_trouble_is_a_temporary_failure_only_when_it_could_matter) {
  auto v = clean();
  v.spf.result = spf::Result::TempError;
  config::InboundPolicy policy;
  policy.spf_fail = config::CheckAction::Tag;
  BOOST_TEST((judge(v, policy).action == Action::Continue));
  policy.spf_fail = config::CheckAction::Reject;
  auto d = judge(v, policy);
  BOOST_TEST((d.action == Action::TempFail));
  BOOST_TEST(smtp::renderReply(d.reply, d.reply_argument) == "451 4.4.3 Temporary DNS failure while checking SPF; try again later\r\n");

  auto m = clean();
  m.dmarc.result = auth::DmarcResult::TempError;
  BOOST_TEST((judge(m).action == Action::TempFail));  // default dmarc_reject = reject
  config::InboundPolicy lenient;
  lenient.dmarc_reject = config::CheckAction::Tag;
  lenient.dmarc_quarantine = config::CheckAction::Accept;
  BOOST_TEST((judge(m, lenient).action == Action::Continue));

  auto k = clean();
  k.dkim = {signature(auth::DkimResult::TempError)};
  BOOST_TEST((judge(k).action == Action::Continue));  // default dkim_fail = accept
  config::InboundPolicy strict;
  strict.dkim_fail = config::CheckAction::Quarantine;
  BOOST_TEST((judge(k, strict).action == Action::TempFail));
}

BOOST_AUTO_TEST_CASE(dkim_fails_only_when_no_signature_passes) {
  config::InboundPolicy policy;
  policy.dkim_fail = config::CheckAction::Reject;
  auto v = clean();
  v.dkim = {signature(auth::DkimResult::Fail), signature(auth::DkimResult::Pass)};
  BOOST_TEST((judge(v, policy).action == Action::Continue));
  v.dkim = {signature(auth::DkimResult::Fail), signature(auth::DkimResult::PermError)};
  auto d = judge(v, policy);
  BOOST_TEST((d.action == Action::Reject));
  BOOST_TEST(smtp::renderReply(d.reply) == "550 5.7.20 No passing DKIM signature found\r\n");
  v.dkim.clear();  // unsigned mail is not a DKIM failure
  BOOST_TEST((judge(v, policy).action == Action::Continue));
}

BOOST_AUTO_TEST_CASE(dmarc_follows_the_published_policy) {
  auto v = clean();
  v.dmarc.result = auth::DmarcResult::Fail;
  v.dmarc.policy = "reject";
  auto d = judge(v);
  BOOST_TEST((d.action == Action::Reject));
  BOOST_TEST(smtp::renderReply(d.reply, d.reply_argument) == "550 5.7.1 Rejected by the DMARC policy of remote.example\r\n");
  v.dmarc.policy = "quarantine";
  BOOST_TEST((judge(v).action == Action::Quarantine));
  v.dmarc.policy = "none";
  BOOST_TEST((judge(v).action == Action::Continue));
  config::InboundPolicy tagging;
  tagging.dmarc_none = config::CheckAction::Tag;
  BOOST_TEST((judge(v, tagging).tags == std::vector<std::string>{"dmarc=fail"}));
  auto multi = clean();
  multi.from.status = auth::FromDomain::Status::Multiple;
  BOOST_TEST((judge(multi).action == Action::Reject));
}

BOOST_AUTO_TEST_CASE(the_most_severe_contribution_wins) {
  auto v = clean();
  v.spf.result = spf::Result::Fail;  // tag by default
  v.dmarc.result = auth::DmarcResult::Fail;
  v.dmarc.policy = "quarantine";  // quarantine by default
  auto d = judge(v);
  BOOST_TEST((d.action == Action::Quarantine));
  BOOST_TEST(d.reason == "dmarc");
  BOOST_TEST((d.tags == std::vector<std::string>{"spf=fail"}));
  v.dkim = {signature(auth::DkimResult::TempError)};
  config::InboundPolicy policy;
  policy.dkim_fail = config::CheckAction::Reject;  // temp error there -> 451 beats quarantine
  BOOST_TEST((judge(v, policy).action == Action::TempFail));
  v.dmarc.policy = "reject";  // a definite reject beats a temporary failure
  BOOST_TEST((judge(v, policy).action == Action::Reject));
}

BOOST_AUTO_TEST_CASE(viruses_and_scan_failures) {
  auto v = clean();
  v.scan = scan::ScanResult{scan::Verdict::Infected, "Eicar-Test-Signature.UNOFFICIAL", "", 10};
  config::InboundPolicy policy;
  BOOST_TEST((judge(v, policy).action == Action::Quarantine));
  BOOST_TEST((judge(v, policy, config::ScanFailure::Closed, true).action == Action::Reject));
  policy.virus = config::CheckAction::Tag;
  BOOST_TEST((judge(v, policy, config::ScanFailure::Closed, true).action == Action::Tag));
  policy.virus = config::CheckAction::Reject;
  BOOST_TEST((judge(v, policy, config::ScanFailure::Closed, false).action == Action::Quarantine));
  auto d = judge(v, policy, config::ScanFailure::Closed, true);
  BOOST_TEST((d.action == Action::Reject));
  BOOST_TEST(smtp::renderReply(d.reply, d.reply_argument) ==
             "554 5.7.1 Rejected: message contains a virus (Eicar-Test-Signature.UNOFFICIAL)\r\n");
  v.scan = scan::ScanResult{scan::Verdict::LimitExceeded, "Heuristics.Limits.Exceeded.MaxFileSize", "", 10};
  BOOST_TEST((judge(v, policy, config::ScanFailure::Closed, false).action == Action::Quarantine));
  BOOST_TEST(judge(v, policy, config::ScanFailure::Closed, false).reason == "scan_failed");
  BOOST_TEST((judge(v, policy, config::ScanFailure::Closed, true).action == Action::TempFail));
  auto open = judge(v, policy, config::ScanFailure::Open, true);
  BOOST_TEST((open.action == Action::Tag));
  BOOST_TEST((open.tags == std::vector<std::string>{"virus-scan=limit_exceeded"}));
}

BOOST_AUTO_TEST_CASE(one_reply_for_several_tenants) {
  config::Tenant strict;
  strict.id = "strict";
  strict.inbound.spf_fail = config::CheckAction::Reject;
  config::Tenant lax;
  lax.id = "lax";
  lax.inbound.spf_fail = config::CheckAction::Tag;
  config::Tenant careful;
  careful.id = "careful";
  careful.inbound.spf_fail = config::CheckAction::Quarantine;
  auto v = clean();
  v.spf.result = spf::Result::Fail;

  auto all_reject = decideMessage(v, {&strict});
  BOOST_TEST((all_reject.kind == pipeline::MessageDecision::Kind::Reject));
  BOOST_TEST((all_reject.reply == smtp::ReplyId::SpfFailed));
  BOOST_TEST(all_reject.quarantined.empty());

  // A rejecting tenant beside an accepting one: its recipients go to quarantine instead.
  auto mixed = decideMessage(v, {&strict, &lax, &careful});
  BOOST_TEST((mixed.kind == pipeline::MessageDecision::Kind::Accept));
  BOOST_REQUIRE(mixed.quarantined.size() == 2u);
  BOOST_TEST(mixed.quarantined[0].tenant == "strict");
  BOOST_TEST(mixed.quarantined[0].reason == "spf");
  BOOST_TEST(mixed.quarantined[1].tenant == "careful");
  BOOST_TEST((mixed.tags == std::vector<std::string>{"spf=fail"}));

  // Any tenant's temporary failure is the whole message's.
  v.spf.result = spf::Result::TempError;
  auto temporary = decideMessage(v, {&lax, &strict});
  BOOST_TEST((temporary.kind == pipeline::MessageDecision::Kind::TempFail));
  BOOST_TEST(smtp::renderReply(temporary.reply, temporary.reply_argument).rfind("451 4.4.3 ", 0) == 0);

  auto nothing = decideMessage(clean(), {&strict, &lax});
  BOOST_TEST((nothing.kind == pipeline::MessageDecision::Kind::Accept));
  BOOST_TEST(nothing.quarantined.empty());
  BOOST_TEST(nothing.tags.empty());
}

BOOST_AUTO_TEST_CASE(summary_keeps_every_verdict) {
  auto v = clean();
  v.dkim = {signature(auth::DkimResult::Pass), signature(auth::DkimResult::Fail)};
  v.dkim[0].algorithm = "ed25519-sha256";
  v.scan = scan::ScanResult{scan::Verdict::Clean, "", "", 5};
  spool::Verdicts summary = pipeline::summarize(v);
  BOOST_TEST(summary.spf == "pass");
  BOOST_TEST(summary.spf_domain == "remote.example");
  BOOST_REQUIRE(summary.dkim.size() == 2u);
  BOOST_TEST(summary.dkim[0].result == "pass");
  BOOST_TEST(summary.dkim[0].algorithm == "ed25519-sha256");
  BOOST_TEST(summary.dkim[1].result == "fail");
  BOOST_TEST(summary.dmarc == "pass");
  BOOST_TEST(summary.dmarc_policy == "reject");
  BOOST_TEST(summary.from_domain == "remote.example");
  BOOST_TEST(summary.virus == "clean");
  BOOST_TEST(pipeline::summarize(pipeline::Verdicts{}).spf.empty());
}

BOOST_AUTO_TEST_CASE(tag_header_is_safe) {
  BOOST_TEST(pipeline::tagHeader({}) == "");
  BOOST_TEST(pipeline::tagHeader({"spf=fail", "virus=X\r\nBcc: x"}) ==
             "X-Mxgate-Tag: spf=fail,\r\n virus=X??Bcc: x\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
