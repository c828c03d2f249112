// Unit tests for the transaction intake and its stage chain, with scripted stages: a temporary
// failure wins over acceptance, a message is rejected only when every tenant rejects (else the
// rejecting tenants' recipients are quarantined), a stage may refuse a recipient, stages see
// the content and its header section, asynchronous completions after the transaction is gone
// are dropped, a stage that waits for the earlier ones sees the content they put in place, and
// what an accepted message records.
#include <boost/test/unit_test.hpp>
#include <future>

#include <deque>
#include <map>

#include "mxgate/pipeline/intake.h"
#include "mxgate/spool/store.h"
#include "temp_store.h"

using namespace mxgate;
using pipeline::Action;
using pipeline::MessageDecision;

namespace {

// A stage whose decision per tenant is scripted; with async, it finishes only when the test
// delivers its report through the inbox, like a lane's completion would.
class ScriptedStage : public pipeline::Stage {
 public:
  ScriptedStage(std::map<std::string, pipeline::Decision> decisions, bool async)
      : decisions_(std::move(decisions)), async_(async) {}

  std::string seen_content;
  std::string seen_headers;
  int headers_calls = 0;
  std::string refused_recipient;
  std::string refusal_event;  // the event of the refusal ("" = none)
  std::string header_fields;
  bool waits = false;          // waitsForEarlier()
  std::string replacement;     // put in place of the content at finish ("" = none)
  bool finishing = false;      // finish() was called
  std::string seen_message;    // the content finish() saw

  bool waitsForEarlier() const override { return waits; }
  pipeline::Decision recipient(const pipeline::Transaction&, const pipeline::Recipient& recipient) override {
    if (recipient.address.str() == refused_recipient) {
      return pipeline::Decision{Action::Reject, smtp::ReplyId::RelayDenied, recipient.address.str(), "suppressed",
                                "listed", {}, refusal_event};
    }
    return {};
  }
  void content(pipeline::Transaction&, std::string_view content) override { seen_content.append(content); }
  void headers(pipeline::Transaction&, std::string_view header_section) override {
    seen_headers = header_section;
    ++headers_calls;
  }
  void finish(pipeline::Transaction& transaction) override {
    finishing = true;
    seen_message = transaction.message ? *transaction.message : "";
    if (!replacement.empty()) {
      transaction.message = std::make_shared<const std::string>(replacement);
      transaction.message_replaced = true;
    }
    if (!async_) {
      finished();
      return;
    }
    reporter()([](pipeline::Stage& stage) { static_cast<ScriptedStage&>(stage).finished(); });
  }
  pipeline::Decision decide(const pipeline::Transaction&, const config::Tenant& tenant) const override {
    const auto it = decisions_.find(tenant.id);
    return it == decisions_.end() ? pipeline::Decision{} : it->second;
  }
  std::string headerFields(const pipeline::Transaction&) const override { return header_fields; }

 private:
  std::map<std::string, pipeline::Decision> decisions_;
  bool async_;
};

pipeline::Decision decision(Action action, smtp::ReplyId reply, std::string reason, std::string tag = {}) {
  pipeline::Decision out;
  out.action = action;
  out.reply = reply;
  out.reason = std::move(reason);
  out.detail = out.reason + " detail";
  if (!tag.empty()) {
    out.tags.push_back(std::move(tag));
  }
  return out;
}

mail::Address address(std::string_view text) {
  mail::Address out;
  BOOST_REQUIRE(mail::parseMailbox(text, false, out) == mail::AddressError::None);
  return out;
}

// The session's side: the current intake, the generation that tells transactions apart, and
// the loop inbox through which reports arrive.
struct Fixture {
  Fixture() {
    for (const char* id : {"a", "b"}) {
      config::Tenant tenant;
      tenant.id = id;
      config.id_index[id] = config.tenants.size();
      config.tenants.push_back(tenant);
    }
  }
  ~Fixture() { intake.reset(); }

  // Starts a transaction with the stages; returns them for inspection.
  template <typename... Stages>
  std::vector<ScriptedStage*> begin(std::unique_ptr<Stages>... stages) {
    std::vector<ScriptedStage*> raw{stages.get()...};
    std::vector<std::unique_ptr<pipeline::Stage>> list;
    (list.push_back(std::move(stages)), ...);
    pipeline::Transaction transaction;
    transaction.id = mail::QueueId::generate();
    transaction.client_ip = "192.0.2.1";
    transaction.mail_from = "sender@remote.example";
    const uint64_t current = ++generation;
    intake = std::make_unique<pipeline::Intake>(
        pipeline::Context{nullptr, config, listener, "mx.test"}, *store, std::move(transaction),
        [this, current](std::function<void(pipeline::Intake&)> report) {
          inbox.push_back([this, current, report = std::move(report)] {
            if (intake && generation == current) {
              report(*intake);
            }
          });
        },
        std::move(list));
    return raw;
  }
  void add(std::string_view recipient, const std::string& tenant) {
    BOOST_TEST((intake->addRecipient(pipeline::Recipient{address(recipient), tenant}).action == Action::Continue));
  }
  void finish() {
    intake->finish(nullptr, [this](const MessageDecision& result) {
      decided = result;
      ++decisions;
    });
  }
  void drain() {
    while (!inbox.empty()) {
      auto report = std::move(inbox.front());
      inbox.pop_front();
      report();
    }
  }

  pipeline::test::TempStore temp;
  std::unique_ptr<spool::Store>& store = temp.store;
  config::Config config;
  config::Listener listener;
  std::unique_ptr<pipeline::Intake> intake;
  uint64_t generation = 0;
  std::deque<std::function<void()>> inbox;
  MessageDecision decided;
  int decisions = 0;
};

std::unique_ptr<ScriptedStage> stage(std::map<std::string, pipeline::Decision> decisions = {}, bool async = false) {
  return std::make_unique<ScriptedStage>(std::move(decisions), async);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(intake)

BOOST_AUTO_TEST_CASE(no_stages_accept_at_once) {
  Fixture f;
  f.begin();
  f.add("u@a.example", "a");
  f.finish();
  BOOST_TEST(f.decisions == 1);
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::Accept));
  spool::MessageRecord record;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  BOOST_REQUIRE(record.recipients.size() == 1u);
  BOOST_TEST(record.recipients[0].tenant == "a");
  BOOST_TEST(record.headers.empty());
  BOOST_TEST((record.stage == spool::Stage::Deliver));
}

BOOST_AUTO_TEST_CASE(a_temporary_failure_wins_over_acceptance) {
  Fixture f;
  f.begin(stage({{"a", decision(Action::Tag, smtp::ReplyId::SpfFailed, "spf", "spf=fail")}}),
           stage({{"b", decision(Action::TempFail, smtp::ReplyId::CheckTemporaryFailure, "dkim")}}, true),
           stage({{"a", decision(Action::Reject, smtp::ReplyId::DmarcFailed, "dmarc")}}));
  f.add("u@a.example", "a");
  f.add("v@b.example", "b");
  f.finish();
  BOOST_TEST(f.decisions == 0);  // the async stage has not reported yet
  f.drain();
  BOOST_TEST(f.decisions == 1);
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::TempFail));
  BOOST_TEST((f.decided.reply == smtp::ReplyId::CheckTemporaryFailure));
  BOOST_TEST(f.decided.reason == "dkim");
}

BOOST_AUTO_TEST_CASE(rejected_only_when_every_tenant_rejects) {
  {
    Fixture f;
    f.begin(stage({{"a", decision(Action::Reject, smtp::ReplyId::SpfFailed, "spf")},
                    {"b", decision(Action::Reject, smtp::ReplyId::DmarcFailed, "dmarc")}}));
    f.add("u@a.example", "a");
    f.add("v@b.example", "b");
    f.finish();
    BOOST_TEST((f.decided.kind == MessageDecision::Kind::Reject));
    BOOST_TEST((f.decided.reply == smtp::ReplyId::SpfFailed));  // the first tenant's reply
    BOOST_TEST(f.decided.quarantined.empty());
  }
  Fixture f;
  f.begin(stage({{"a", decision(Action::Reject, smtp::ReplyId::SpfFailed, "spf")},
                  {"b", decision(Action::Tag, smtp::ReplyId::SpfFailed, "spf", "spf=fail")}}),
           stage({}, true));
  f.add("u@a.example", "a");
  f.add("v@b.example", "b");
  f.finish();
  f.drain();
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::Accept));
  BOOST_REQUIRE(f.decided.quarantined.size() == 1u);
  BOOST_TEST(f.decided.quarantined[0].tenant == "a");
  spool::MessageRecord record;
  record.id = f.intake->transaction().id;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  BOOST_REQUIRE(record.recipients.size() == 2u);
  BOOST_TEST((record.recipients[0].state == spool::RecipientState::Quarantined));
  BOOST_TEST((record.recipients[1].state == spool::RecipientState::Pending));
  BOOST_TEST(record.headers == "X-Mxgate-Tag: spf=fail\r\n");
  BOOST_TEST((record.state != spool::MessageState::Held));
}

BOOST_AUTO_TEST_CASE(the_most_severe_stage_decides_and_tags_accumulate) {
  pipeline::Decision tenant;
  pipeline::fold(tenant, decision(Action::Tag, smtp::ReplyId::SpfFailed, "spf", "spf=fail"));
  pipeline::fold(tenant, decision(Action::Quarantine, smtp::ReplyId::DmarcFailed, "dmarc"));
  pipeline::fold(tenant, decision(Action::Quarantine, smtp::ReplyId::VirusFound, "virus", "virus=X"));
  pipeline::fold(tenant, pipeline::Decision{});
  BOOST_TEST((tenant.action == Action::Quarantine));
  BOOST_TEST(tenant.reason == "dmarc");  // the first of equals stays
  BOOST_TEST((tenant.tags == std::vector<std::string>{"spf=fail", "virus=X"}));
}

BOOST_AUTO_TEST_CASE(every_recipient_quarantined_holds_the_message) {
  Fixture f;
  f.begin(stage({{"a", decision(Action::Quarantine, smtp::ReplyId::Queued, "virus")}}));
  f.add("u@a.example", "a");
  f.finish();
  spool::MessageRecord record;
  record.id = f.intake->transaction().id;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  BOOST_TEST((record.state == spool::MessageState::Held));
  BOOST_TEST(!batch.empty());  // the quarantine entry and its audit record
}

BOOST_AUTO_TEST_CASE(a_stage_may_refuse_a_recipient) {
  Fixture f;
  auto stages = f.begin(stage());
  stages[0]->refused_recipient = "gone@a.example";
  const pipeline::Decision refusal = f.intake->addRecipient(pipeline::Recipient{address("gone@a.example"), "a"});
  BOOST_TEST((refusal.action == Action::Reject));
  BOOST_TEST(refusal.reason == "suppressed");
  f.add("here@a.example", "a");
  BOOST_REQUIRE(f.intake->transaction().recipients.size() == 1u);
  BOOST_TEST(f.intake->transaction().recipients[0].address.str() == "here@a.example");
}

// A refusal that names an event (the suppression stage's message.suppressed) writes it for the
// tenant, which wants events; a refusal without one writes nothing.
BOOST_AUTO_TEST_CASE(a_refusal_with_an_event_records_it_for_the_tenant) {
  Fixture f;
  f.config.tenants[0].events.url = "https://crm.example/events";
  auto stages = f.begin(stage());
  stages[0]->refused_recipient = "gone@a.example";
  BOOST_TEST((f.intake->addRecipient(pipeline::Recipient{address("gone@a.example"), "a"}).action == Action::Reject));
  stages[0]->refusal_event = "message.suppressed";
  BOOST_TEST((f.intake->addRecipient(pipeline::Recipient{address("gone@a.example"), "a"}).action == Action::Reject));
  std::promise<void> written;
  f.store->submit(spool::Batch(), true, [&written](const spool::CommitStatus&) { written.set_value(); });
  written.get_future().wait();
  std::vector<spool::EventRecord> found;
  f.store->scanEvents("", [&found](const std::string&, spool::EventRecord& record) {
    found.push_back(record);
    return true;
  });
  BOOST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found[0].type == "message.suppressed");
  BOOST_TEST(found[0].tenant == "a");
  BOOST_TEST(found[0].json.find(R"("recipient":"gone@a.example")") != std::string::npos);
  BOOST_TEST(found[0].json.find(R"("reason":"suppressed")") != std::string::npos);
  BOOST_TEST(found[0].json.find(R"("code":550)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stages_see_the_content_and_its_header_section_once) {
  Fixture f;
  auto stages = f.begin(stage(), stage());
  f.add("u@a.example", "a");
  f.intake->content("From: x@remote.example\r\nSubj");
  BOOST_TEST(stages[0]->headers_calls == 0);
  f.intake->content("ect: hi\r\n\r\nbody\r\n");
  f.intake->content("more\r\n\r\n");
  f.finish();
  for (ScriptedStage* seen : stages) {
    BOOST_TEST(seen->headers_calls == 1);
    BOOST_TEST(seen->seen_headers == "From: x@remote.example\r\nSubject: hi\r\n");
    BOOST_TEST(seen->seen_content == "From: x@remote.example\r\nSubject: hi\r\n\r\nbody\r\nmore\r\n\r\n");
  }
}

BOOST_AUTO_TEST_CASE(a_message_that_is_all_header_ends_its_header_section_at_the_end) {
  Fixture f;
  auto stages = f.begin(stage());
  f.add("u@a.example", "a");
  f.intake->content("Subject: only\r\n");
  f.finish();
  BOOST_TEST(stages[0]->headers_calls == 1);
  BOOST_TEST(stages[0]->seen_headers == "Subject: only\r\n");
}

BOOST_AUTO_TEST_CASE(header_fields_of_stages_in_order_then_tags) {
  Fixture f;
  auto stages = f.begin(stage({{"a", decision(Action::Tag, smtp::ReplyId::SpfFailed, "spf", "spf=fail")}}), stage());
  stages[0]->header_fields = "X-First: 1\r\n";
  stages[1]->header_fields = "X-Second: 2\r\n";
  f.add("u@a.example", "a");
  f.finish();
  spool::MessageRecord record;
  spool::Batch batch;
  f.intake->record(record, batch, 1000);
  BOOST_TEST(record.headers == "X-First: 1\r\nX-Second: 2\r\nX-Mxgate-Tag: spf=fail\r\n");
}

BOOST_AUTO_TEST_CASE(a_completion_after_the_transaction_is_gone_is_dropped) {
  Fixture f;
  f.begin(stage({{"a", decision(Action::Reject, smtp::ReplyId::SpfFailed, "spf")}}, true));
  f.add("u@a.example", "a");
  f.finish();
  BOOST_TEST(f.inbox.size() == 1u);
  f.intake.reset();  // the session ended the transaction (RSET, lost connection)
  f.drain();
  BOOST_TEST(f.decisions == 0);

  // A report of an earlier transaction does not reach the next one.
  f.begin(stage({}, true));
  f.add("u@a.example", "a");
  f.finish();
  f.begin(stage({{"a", decision(Action::Reject, smtp::ReplyId::SpfFailed, "spf")}}));
  f.drain();
  BOOST_TEST(f.decisions == 0);
  f.add("u@a.example", "a");
  f.finish();
  BOOST_TEST(f.decisions == 1);
  BOOST_TEST((f.decided.kind == MessageDecision::Kind::Reject));
}

BOOST_AUTO_TEST_CASE(a_waiting_stage_finishes_after_the_earlier_ones_and_signs_their_content) {
  Fixture f;
  const std::vector<ScriptedStage*> stages = f.begin(stage({}, true), stage(), stage({}, true));
  stages[0]->replacement = "rewritten";
  stages[2]->waits = true;
  f.add("u@a.example", "a");
  f.intake->finish(std::make_shared<const std::string>("original"), [&f](const MessageDecision& result) {
    f.decided = result;
    ++f.decisions;
  });
  BOOST_TEST(stages[0]->finishing);
  BOOST_TEST(stages[1]->finishing);  // no wait: at once
  BOOST_TEST(!stages[2]->finishing);  // until the first has reported
  BOOST_TEST(stages[1]->seen_message == "rewritten");
  f.drain();
  BOOST_TEST(stages[2]->finishing);
  BOOST_TEST(stages[2]->seen_message == "rewritten");
  BOOST_TEST(f.decisions == 1);
  BOOST_REQUIRE(f.intake->replacedContent());
  BOOST_TEST(*f.intake->replacedContent() == "rewritten");

  // Without a replacement the content stays as it came.
  Fixture plain;
  plain.begin(stage(), stage({}, true));
  plain.add("u@a.example", "a");
  plain.intake->finish(std::make_shared<const std::string>("original"), [](const MessageDecision&) {});
  plain.drain();
  BOOST_TEST(!plain.intake->replacedContent());
}

BOOST_AUTO_TEST_CASE(the_decision_may_end_the_intake) {
  Fixture f;
  f.begin(stage({}, true), stage());
  f.add("u@a.example", "a");
  f.intake->finish(nullptr, [&f](const MessageDecision&) {
    f.intake.reset();  // what the session does on a refusal
    ++f.decisions;
  });
  f.drain();
  BOOST_TEST(f.decisions == 1);
  BOOST_TEST(!f.intake);
}

BOOST_AUTO_TEST_SUITE_END()
