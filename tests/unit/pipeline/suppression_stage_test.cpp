// Unit tests for the suppression stage of the outbound list: a recipient on the sending
// tenant's suppression list is refused at RCPT with 550 5.1.1 saying it is suppressed (any case
// of the address), with a message.suppressed event for the tenant; another tenant's list and
// inbound transactions are never affected; the stage is in the list an authenticated
// transaction's intake runs.
#include <boost/test/unit_test.hpp>

#include <future>

#include "mxgate/io/lane.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/pipeline/services.h"
#include "mxgate/spool/suppression.h"
#include "temp_store.h"

using namespace mxgate;
using pipeline::Action;

namespace {

mail::Address address(std::string_view text) {
  mail::Address out;
  BOOST_REQUIRE(mail::parseMailbox(text, false, out) == mail::AddressError::None);
  return out;
}

struct Fixture : pipeline::test::TempStore {
  Fixture() {
    list = std::make_unique<spool::SuppressionList>(*store, lane);
    services.suppressions = list.get();
    for (const char* id : {"a", "b"}) {
      config::Tenant tenant;
      tenant.id = id;
      tenant.domains = {std::string(id) + ".example"};
      config.domain_index[tenant.domains[0]] = config.tenants.size();
      config.id_index[id] = config.tenants.size();
      config.tenants.push_back(tenant);
    }
    config.tenants[0].events.url = "https://crm.a.example/events";
    listener.role = config::ListenerRole::Submission;
    spool::Batch batch;
    batch.putSuppression({"a", "gone@far.example", spool::SuppressionReason::HardBounce, "550 5.1.1", 1, "q"});
    flush(std::move(batch));
  }
  ~Fixture() { lane.stop(); }
  void flush(spool::Batch batch = {}) {
    std::promise<void> written;
    store->submit(std::move(batch), true, [&written](const spool::CommitStatus&) { written.set_value(); });
    written.get_future().wait();
  }
  pipeline::Transaction transaction(std::string tenant) const {
    pipeline::Transaction out;
    out.id = mail::QueueId::generate();
    out.origin = tenant.empty() ? spool::Origin::Inbound : spool::Origin::Submission;
    out.tenant = std::move(tenant);
    out.mail_from = "app@a.example";
    return out;
  }
  pipeline::Context context() { return pipeline::Context{&services, config, listener, "mx.test"}; }

  io::Lane lane{"spool-read", 1, 10};
  std::unique_ptr<spool::SuppressionList> list;
  pipeline::Services services;
  config::Config config;
  config::Listener listener;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(suppression_stage)

BOOST_AUTO_TEST_CASE(refuses_only_the_sending_tenants_suppressed_recipients) {
  Fixture f;
  const std::unique_ptr<pipeline::Stage> stage = pipeline::makeSuppressionStage(f.context());
  const pipeline::Decision refused =
      stage->recipient(f.transaction("a"), pipeline::Recipient{address("Gone@FAR.example"), "a"});
  BOOST_TEST((refused.action == Action::Reject));
  BOOST_TEST(refused.reason == "suppressed");
  BOOST_TEST(refused.event == "message.suppressed");
  BOOST_TEST(smtp::renderReply(refused.reply, refused.reply_argument) ==
             "550 5.1.1 <Gone@far.example>: Recipient address rejected: suppressed (on the sender's suppression list "
             "after a hard bounce or by request)\r\n");
  BOOST_TEST((stage->recipient(f.transaction("a"), pipeline::Recipient{address("other@far.example"), "a"}).action ==
              Action::Continue));
  BOOST_TEST((stage->recipient(f.transaction("b"), pipeline::Recipient{address("gone@far.example"), "b"}).action ==
              Action::Continue));
  BOOST_TEST((stage->recipient(f.transaction(""), pipeline::Recipient{address("gone@far.example"), "a"}).action ==
              Action::Continue));
}

BOOST_AUTO_TEST_CASE(an_authenticated_transaction_refuses_a_suppressed_recipient_with_an_event) {
  Fixture f;
  const pipeline::Context context = f.context();
  pipeline::Intake intake(context, *f.store, f.transaction("a"), [](std::function<void(pipeline::Intake&)>) {});
  const pipeline::Decision refused = intake.addRecipient(pipeline::Recipient{address("gone@far.example"), "a"});
  BOOST_TEST((refused.reply == smtp::ReplyId::SuppressedRecipient));
  BOOST_TEST((intake.addRecipient(pipeline::Recipient{address("here@far.example"), "a"}).action == Action::Continue));
  BOOST_TEST(intake.transaction().recipients.size() == 1u);
  f.flush();
  std::vector<spool::EventRecord> events;
  f.store->scanEvents("", [&events](const std::string&, spool::EventRecord& record) {
    events.push_back(record);
    return true;
  });
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0].type == "message.suppressed");
  BOOST_TEST(events[0].tenant == "a");
  BOOST_TEST(events[0].json.find(R"("recipient":"gone@far.example")") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
