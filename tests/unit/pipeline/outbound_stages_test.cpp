// Unit tests for the outbound stages: sender binding at MAIL and over the header section (own
// domains only, exact and case-insensitive; other tenants' and foreign domains, every From and
// Sender mailbox and pre-existing DKIM-Signature d= refused with 550 5.7.1; unreadable fields
// refused; the null reverse path accepted), a submission's X-Mxgate-Send-At (kept in the
// record as send_at, or refused with 550 5.6.0), the stage list an authenticated transaction gets
// from the intake, and DKIM signing on the auth lane with the authenticated tenant's keys only:
// the signatures verify over exactly what delivery sends (record.headers, Received:, content),
// also when the tracking stage replaced the content (click links, pixel, List-Unsubscribe).
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/base/clock.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"
#include "mxgate/spool/store.h"
#include "support/dkim_test_key.h"
#include "temp_store.h"

using namespace mxgate;
using pipeline::Action;
using pipeline::MessageDecision;

namespace {

mail::Address address(std::string_view text) {
  mail::Address out;
  if (!text.empty()) {
    BOOST_REQUIRE(mail::parseMailbox(text, false, out) == mail::AddressError::None);
  }
  return out;
}

// Tenants a (a.example, a-mail.example) and b (b.example).
config::Config tenants() {
  config::Config config;
  const std::vector<std::pair<std::string, std::vector<std::string>>> owned = {
      {"a", {"a.example", "a-mail.example"}}, {"b", {"b.example"}}};
  for (const auto& [id, domains] : owned) {
    config::Tenant tenant;
    tenant.id = id;
    tenant.domains = domains;
    for (const std::string& domain : domains) {
      config.domain_index[domain] = config.tenants.size();
    }
    config.id_index[id] = config.tenants.size();
    config.tenants.push_back(tenant);
  }
  return config;
}

std::string bound(const config::Config& config, std::string_view headers) {
  const pipeline::Decision decision = pipeline::bindHeaderSenders(config, "a", headers);
  if (decision.action == Action::Continue) {
    return "ok";
  }
  BOOST_TEST((decision.action == Action::Reject));
  BOOST_TEST(decision.reason == "sender_binding");
  return smtp::renderReply(decision.reply, decision.reply_argument);
}

// The intake of an authenticated transaction of tenant a, with a thread-safe inbox (the auth
// lane reports from its own thread).
struct Fixture {
  Fixture() { listener.role = config::ListenerRole::Submission; }
  ~Fixture() {
    intake.reset();
    lane.stop();
  }

  void begin(pipeline::Services* services, std::string tenant = "a") {
    pipeline::Transaction transaction;
    transaction.id = mail::QueueId::generate();
    transaction.origin = tenant.empty() ? spool::Origin::Inbound : spool::Origin::Submission;
    transaction.tenant = tenant;
    transaction.auth_user = tenant + ".crm";
    transaction.mail_from = "app@a.example";
    intake = std::make_unique<pipeline::Intake>(
        pipeline::Context{services, config, listener, "mx.test"}, *store, std::move(transaction),
        [this](std::function<void(pipeline::Intake&)> report) {
          std::lock_guard<std::mutex> lock(mutex);
          inbox.push_back([this, report = std::move(report)] {
            if (intake) {
              report(*intake);
            }
          });
          wake.notify_one();
        });
    intake->setReceived(std::string(kReceived));
  }
  // Sends the message and waits (within seconds) for the decision.
  void send(const std::string& message) {
    BOOST_TEST_REQUIRE((intake->addRecipient(pipeline::Recipient{address("rcpt@far.example"), "a"}).action ==
                        Action::Continue));
    intake->content(message);
    intake->finish(std::make_shared<const std::string>(message), [this](const MessageDecision& result) {
      decided = result;
      ++decisions;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (decisions == 0 && std::chrono::steady_clock::now() < deadline) {
      std::function<void()> report;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait_until(lock, deadline, [this] { return !inbox.empty(); });
        if (inbox.empty()) {
          continue;
        }
        report = std::move(inbox.front());
        inbox.pop_front();
      }
      report();
    }
    BOOST_TEST_REQUIRE(decisions == 1);
  }

  static constexpr std::string_view kReceived =
      "Received: from app.a.example ([192.0.2.1])\r\n\tby mx.test (mxgate) with ESMTPSA id X; "
      "Mon, 07 Dec 2026 01:00:00 +0000\r\n";
  pipeline::test::TempStore temp;
  std::unique_ptr<spool::Store>& store = temp.store;
  config::Config config = tenants();
  config::Listener listener;
  io::Lane lane{"auth", 1, 10};
  std::unique_ptr<pipeline::Intake> intake;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> inbox;
  MessageDecision decided;
  int decisions = 0;
};

const std::string kOwnMessage =
    "From: App <app@a.example>\r\n"
    "To: rcpt@far.example\r\n"
    "Subject: Your order\r\n"
    "Date: Mon, 07 Dec 2026 01:00:00 +0000\r\n"
    "Message-ID: <order-1@a.example>\r\n"
    "\r\n"
    "Thank you.\r\n";

using test::TestKey;
using test::makeKey;

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound_stages)

BOOST_AUTO_TEST_CASE(envelope_sender_must_be_the_tenants_own) {
  const config::Config config = tenants();
  const auto verdict = [&](std::string_view sender) {
    const pipeline::Decision decision = pipeline::bindEnvelopeSender(config, "a", address(sender));
    return decision.action == Action::Continue ? std::string("ok")
                                               : smtp::renderReply(decision.reply, decision.reply_argument);
  };
  BOOST_TEST(verdict("app@a.example") == "ok");
  BOOST_TEST(verdict("app@A-Mail.Example") == "ok");  // case-insensitive
  BOOST_TEST(verdict("") == "ok");                    // the null reverse path
  BOOST_TEST(verdict("app@b.example") ==
             "550 5.7.1 <app@b.example>: Sender address rejected: not a domain of the authenticated sender\r\n");
  BOOST_TEST(verdict("app@foreign.example").starts_with("550 5.7.1 <app@foreign.example>"));
  BOOST_TEST(verdict("app@sub.a.example").starts_with("550 5.7.1"));  // exact: no subdomains
  BOOST_TEST(verdict("app@example").starts_with("550 5.7.1"));
  BOOST_TEST((pipeline::bindEnvelopeSender(config, "a", address("x@b.example")).reason == "sender_binding"));
}

BOOST_AUTO_TEST_CASE(every_header_sender_must_be_the_tenants_own) {
  const config::Config config = tenants();
  BOOST_TEST(bound(config, "From: App <app@a.example>\r\nSubject: x\r\n") == "ok");
  BOOST_TEST(bound(config, "from: app@A.EXAMPLE\r\nSender: ops@a-mail.example\r\n") == "ok");
  BOOST_TEST(bound(config, "From: a@a.example, b@a-mail.example\r\n") == "ok");
  BOOST_TEST(bound(config, "Subject: no sender fields\r\n") == "ok");
  BOOST_TEST(bound(config, "From: App <app@b.example>\r\n") ==
             "550 5.7.1 Message rejected: From domain b.example is not a domain of the authenticated sender\r\n");
  BOOST_TEST(bound(config, "From: a@a.example, x@foreign.example\r\n").find("From domain foreign.example") !=
             std::string::npos);
  BOOST_TEST(bound(config, "From: a@a.example\r\nFrom: x@b.example\r\n").find("From domain b.example") !=
             std::string::npos);
  BOOST_TEST(bound(config, "From: team: a@a.example, x@foreign.example;\r\n").find("foreign.example") !=
             std::string::npos);  // a group's mailboxes
  BOOST_TEST(bound(config, "From: a@a.example\r\nSender: x@b.example\r\n") ==
             "550 5.7.1 Message rejected: Sender domain b.example is not a domain of the authenticated sender\r\n");
  BOOST_TEST(bound(config, "From: a@a.example\r\nDKIM-Signature: v=1; a=rsa-sha256; d=foreign.example;\r\n"
                           "\ts=s1; h=from; bh=AA==; b=AA==\r\n") ==
             "550 5.7.1 Message rejected: DKIM-Signature d=foreign.example is not a domain of the authenticated "
             "sender\r\n");
  BOOST_TEST(bound(config, "From: a@a.example\r\nDKIM-Signature: v=1; d=A.example; s=s; b=AA==\r\n") == "ok");
  BOOST_TEST(bound(config, "From: <>\r\n") ==
             "550 5.7.1 Message rejected: the From field cannot be read\r\n");
  BOOST_TEST(bound(config, "From: a@a.example\r\nSender: \"unterminated <x@a.example>\r\n") ==
             "550 5.7.1 Message rejected: the Sender field cannot be read\r\n");
  BOOST_TEST(bound(config, "From: a@a.example\r\nDKIM-Signature: v=1; s=s; b=AA==\r\n") ==
             "550 5.7.1 Message rejected: the DKIM-Signature field cannot be read\r\n");
}

BOOST_AUTO_TEST_CASE(an_authenticated_transaction_runs_the_outbound_stages) {
  {
    Fixture f;
    f.begin(nullptr);
    f.send("From: App <app@b.example>\r\nSubject: x\r\n\r\nbody\r\n");
    BOOST_TEST((f.decided.kind == MessageDecision::Kind::Reject));
    BOOST_TEST(f.decided.reason == "sender_binding");
    BOOST_TEST(smtp::renderReply(f.decided.reply, f.decided.reply_argument).starts_with("550 5.7.1 Message rejected"));
  }
  {
    Fixture f;
    f.begin(nullptr);
    f.send(kOwnMessage);
    BOOST_TEST((f.decided.kind == MessageDecision::Kind::Accept));
    spool::MessageRecord record;
    spool::Batch batch;
    f.intake->record(record, batch, 1000);
    BOOST_TEST((record.origin == spool::Origin::Submission));
    BOOST_TEST(record.auth_user == "a.crm");
    BOOST_REQUIRE(record.recipients.size() == 1u);
    BOOST_TEST(record.recipients[0].tenant == "a");
  }
  {
    Fixture f;  // the same content from an unauthenticated (inbound) transaction: no sender binding
    f.begin(nullptr, "");
    f.send("From: App <app@b.example>\r\nSubject: x\r\n\r\nbody\r\n");
    BOOST_TEST((f.decided.kind == MessageDecision::Kind::Accept));
  }
}

BOOST_AUTO_TEST_CASE(signs_on_the_auth_lane_with_the_authenticated_tenants_keys) {
  const TestKey rsa = makeKey("a.example", "rsa1", config::DkimAlgorithm::RsaSha256);
  const TestKey ed = makeKey("a.example", "ed1", config::DkimAlgorithm::Ed25519Sha256);
  const TestKey other = makeKey("b.example", "b1", config::DkimAlgorithm::Ed25519Sha256);
  Fixture f;
  f.config.tenants[0].dkim.keys = {rsa.key, ed.key};
  f.config.tenants[1].dkim.keys = {other.key};
  pipeline::Services services;
  services.auth_lane = &f.lane;
  f.begin(&services);
  f.send(kOwnMessage);
  BOOST_TEST_REQUIRE((f.decided.kind == MessageDecision::Kind::Accept));
  spool::MessageRecord record;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  BOOST_TEST(record.headers.starts_with("DKIM-Signature:"));
  BOOST_TEST(record.headers.find("a=rsa-sha256") != std::string::npos);
  BOOST_TEST(record.headers.find("a=ed25519-sha256") != std::string::npos);
  // What delivery sends: record.headers, then the stored body (our Received: first).
  const std::string delivered = record.headers + std::string(Fixture::kReceived) + kOwnMessage;
  auth::DkimVerifier verifier({}, [&](const std::string& name) {
    auto answer = std::make_shared<dns::Answer>();
    answer->status = dns::Status::Ok;
    answer->texts = {name == "rsa1._domainkey.a.example" ? rsa.record : ed.record};
    return dns::AnswerPtr(answer);
  });
  verifier.feed(delivered);
  const std::vector<auth::DkimSignature> signatures = verifier.finish();
  BOOST_REQUIRE(signatures.size() == 2u);
  for (const auth::DkimSignature& signature : signatures) {
    BOOST_TEST((signature.result == auth::DkimResult::Pass), signature.algorithm << ": " << signature.reason);
    BOOST_TEST(signature.domain == "a.example");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (f.lane.completed() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(f.lane.completed() == 1u);  // signed on the lane
}

BOOST_AUTO_TEST_CASE(tracking_rewrites_before_signing_and_adds_list_unsubscribe) {
  const TestKey rsa = makeKey("a.example", "rsa1", config::DkimAlgorithm::RsaSha256);
  Fixture f;
  f.config.links.host = "links.a.test";
  f.config.tenants[0].dkim.keys = {rsa.key};
  f.config.tenants[0].tracking = config::TrackingPolicy{true, true, true};
  pipeline::Services services;
  services.auth_lane = &f.lane;
  services.link_keys = std::make_shared<const links::KeyRing>(
      links::KeyRing{{links::Key{"k1", std::string(32, 's')}}});
  // sender binding, scheduled send, tracking, DKIM signing
  BOOST_TEST(pipeline::outboundStages(pipeline::Context{&services, f.config, f.listener, "mx.test"}).size() == 4u);
  f.begin(&services);
  const std::string message = "From: App <app@a.example>\r\nTo: rcpt@far.example\r\nSubject: News\r\n"
                              "Content-Type: text/html\r\n\r\n<p><a href=\"https://shop.example/x\">x</a></p>\r\n";
  f.send(message);
  BOOST_TEST_REQUIRE((f.decided.kind == MessageDecision::Kind::Accept));
  BOOST_TEST_REQUIRE(f.intake->replacedContent());
  const std::string& content = *f.intake->replacedContent();
  BOOST_TEST(content.starts_with("List-Unsubscribe: <https://links.a.test/u/k1/"));
  BOOST_TEST(content.find("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFrom: App") != std::string::npos);
  BOOST_TEST(content.find("https://shop.example/x") == std::string::npos);
  BOOST_TEST(content.find("href=\"https://links.a.test/l/k1/") != std::string::npos);
  BOOST_TEST(content.find("https://links.a.test/o/k1/") != std::string::npos);

  // The signature covers the replacement, both List-Unsubscribe fields among its h=.
  spool::MessageRecord record;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  const std::string delivered = record.headers + std::string(Fixture::kReceived) + content;
  auth::DkimVerifier verifier({}, [&](const std::string&) {
    auto answer = std::make_shared<dns::Answer>();
    answer->status = dns::Status::Ok;
    answer->texts = {rsa.record};
    return dns::AnswerPtr(answer);
  });
  verifier.feed(delivered);
  const std::vector<auth::DkimSignature> signatures = verifier.finish();
  BOOST_REQUIRE(signatures.size() == 1u);
  BOOST_TEST((signatures[0].result == auth::DkimResult::Pass), signatures[0].reason);
  std::string unfolded;
  for (char c : record.headers) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      unfolded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  const size_t h = unfolded.find(";h=");
  BOOST_TEST_REQUIRE(h != std::string::npos);
  const std::string names = ":" + unfolded.substr(h + 3, unfolded.find(';', h + 3) - h - 3) + ":";
  BOOST_TEST(names.find(":list-unsubscribe:") != std::string::npos, names);
  BOOST_TEST(names.find(":list-unsubscribe-post:") != std::string::npos, names);
}

BOOST_AUTO_TEST_CASE(a_message_with_its_own_list_unsubscribe_keeps_it) {
  Fixture f;
  f.config.links.host = "links.a.test";
  f.config.tenants[0].tracking = config::TrackingPolicy{false, false, true};
  pipeline::Services services;
  services.auth_lane = &f.lane;
  services.link_keys = std::make_shared<const links::KeyRing>(
      links::KeyRing{{links::Key{"k1", std::string(32, 's')}}});
  f.begin(&services);
  // Folded, another case: still the sender's own field; List-Unsubscribe-Post alone is not one.
  f.send("From: App <app@a.example>\r\nlist-unsubscribe :\r\n <https://a.example/u/1>\r\nSubject: x\r\n\r\nhi\r\n");
  BOOST_TEST_REQUIRE((f.decided.kind == MessageDecision::Kind::Accept));
  BOOST_TEST(!f.intake->replacedContent());

  // Only a List-Unsubscribe-Post: ours is added, the Post field not twice.
  Fixture post_only;
  post_only.config.links.host = "links.a.test";
  post_only.config.tenants[0].tracking = config::TrackingPolicy{false, false, true};
  pipeline::Services post_services;
  post_services.auth_lane = &post_only.lane;
  post_services.link_keys = services.link_keys;
  post_only.begin(&post_services);
  post_only.send("From: App <app@a.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nhi\r\n");
  BOOST_TEST_REQUIRE(post_only.intake->replacedContent());
  const std::string& content = *post_only.intake->replacedContent();
  BOOST_TEST(content.starts_with("List-Unsubscribe: <https://links.a.test/u/k1/"));
  BOOST_TEST(content.find("List-Unsubscribe-Post") == content.rfind("List-Unsubscribe-Post"));
}

BOOST_AUTO_TEST_CASE(never_signs_with_another_tenants_key) {
  // Tenant a sends with a From of tenant b (sender binding refuses it anyway): b's key never signs.
  const TestKey other = makeKey("b.example", "b1", config::DkimAlgorithm::Ed25519Sha256);
  Fixture f;
  f.config.tenants[1].dkim.keys = {other.key};
  pipeline::Services services;
  services.auth_lane = &f.lane;
  f.begin(&services);
  const auto stages = pipeline::outboundStages(pipeline::Context{&services, f.config, f.listener, "mx.test"});
  BOOST_TEST(stages.size() == 3u);  // sender binding, scheduled send, DKIM signing
  f.send("From: b@b.example\r\nSubject: x\r\n\r\nbody\r\n");
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::Reject));
  Fixture unsigned_fixture;
  unsigned_fixture.config.tenants[1].dkim.keys = {other.key};
  unsigned_fixture.begin(&services);
  unsigned_fixture.send(kOwnMessage);  // a has no key for a.example: sent unsigned
  BOOST_TEST((unsigned_fixture.decided.kind == MessageDecision::Kind::Accept));
  spool::MessageRecord record;
  spool::Batch batch;
  unsigned_fixture.intake->record(record, batch, 1000);
  BOOST_TEST(record.headers.empty());
}

BOOST_AUTO_TEST_CASE(a_submissions_send_at_field_schedules_or_refuses_it) {
  const uint64_t now_s = nowMicros() / 1000000;
  const auto sent = [](const std::string& fields, spool::MessageRecord* record) {
    Fixture f;
    f.config.queue.send_at_horizon = std::chrono::hours(1);
    f.begin(nullptr);
    f.send("From: app@a.example\r\n" + fields + "Subject: x\r\n\r\nbody\r\n");
    if (record != nullptr && f.decided.kind == MessageDecision::Kind::Accept) {
      spool::Batch batch;
      record->next_attempt_us = nowMicros();
      f.intake->record(*record, batch, nowMicros());
    }
    return f.decided;
  };
  spool::MessageRecord scheduled;
  BOOST_TEST((sent("X-Mxgate-Send-At: " + std::to_string(now_s + 600) + "\r\n", &scheduled).kind ==
              MessageDecision::Kind::Accept));
  BOOST_TEST(scheduled.send_at_us == (now_s + 600) * 1000000);
  BOOST_TEST(scheduled.next_attempt_us == scheduled.send_at_us);
  spool::MessageRecord past;
  BOOST_TEST((sent("X-Mxgate-Send-At: 2020-01-01T00:00:00Z\r\n", &past).kind == MessageDecision::Kind::Accept));
  BOOST_TEST(past.send_at_us == 0u);  // a time already past goes now
  for (const std::string& fields : {"X-Mxgate-Send-At: " + std::to_string(now_s + 7200) + "\r\n",
                                   std::string("X-Mxgate-Send-At: soon\r\n"),
                                   std::string("X-Mxgate-Send-At: 1\r\nX-Mxgate-Send-At: 2\r\n")}) {
    const MessageDecision refused = sent(fields, nullptr);
    BOOST_TEST((refused.kind == MessageDecision::Kind::Reject), fields);
    BOOST_TEST(refused.reason == "send_at");
    BOOST_TEST(smtp::replySpec(refused.reply).enhanced == "5.6.0");
  }
}

BOOST_AUTO_TEST_CASE(a_key_that_cannot_sign_fails_temporarily) {
  TestKey broken = makeKey("a.example", "rsa1", config::DkimAlgorithm::RsaSha256);
  broken.key.private_key = std::make_shared<const std::string>("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  Fixture f;
  f.config.tenants[0].dkim.keys = {broken.key};
  pipeline::Services services;
  services.auth_lane = &f.lane;
  f.begin(&services);
  f.send(kOwnMessage);
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::TempFail));
  BOOST_TEST(smtp::renderReply(f.decided.reply, f.decided.reply_argument) ==
             "451 4.3.0 DKIM signing failed; try again later\r\n");
  BOOST_TEST(f.decided.reason == "dkim_sign");
}

BOOST_AUTO_TEST_SUITE_END()
