// Event records: the JSON posted for each event type, keys under the tenant with
// ids derived from their time part, and the per-tenant fan-out that skips tenants without an
// events.url.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "mxgate/events/event.h"

using namespace mxgate;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(events_suite)

BOOST_AUTO_TEST_CASE(delivery_event_json) {
  events::Fields fields;
  fields.queue_id = "0006C338WKPS2M001ZHD";
  fields.recipients = {"a@example.test"};
  fields.mail_from = "s@remote.test";
  fields.attempt = 2;
  fields.reply = "250 2.0.0 Ok";
  fields.remote = "127.0.0.1:25";
  const events::Event event = events::make("message.delivered", "acme", 1737000000123456, fields);
  BOOST_TEST(event.key.size() == 4u + 1u + 12u);
  BOOST_TEST(spool::eventKeyTenant(event.key) == "acme");
  BOOST_TEST(event.record.id.starts_with("evt_"));
  BOOST_TEST(event.record.id.size() == 4u + 24u);
  BOOST_TEST(event.record.type == "message.delivered");
  BOOST_TEST(event.record.tenant == "acme");
  const json object = json::parse(event.record.json);
  const json expected = {{"id", event.record.id},
                         {"type", "message.delivered"},
                         {"timestamp", "2025-01-16T04:00:00.123Z"},
                         {"tenant", "acme"},
                         {"data",
                          {{"message", {{"id", "0006C338WKPS2M001ZHD"}}},
                           {"recipient", "a@example.test"},
                           {"sender", "s@remote.test"},
                           {"attempt", 2},
                           {"response", {{"code", 250}, {"enhanced_code", "2.0.0"}, {"text", "Ok"}}},
                           {"remote", "127.0.0.1:25"}}}};
  BOOST_TEST(object == expected, object.dump());
  const events::Event later = events::make("message.delivered", "acme", 1737000000123456, fields);
  BOOST_TEST(later.key > event.key);  // same microsecond: the sequence orders them
}

BOOST_AUTO_TEST_CASE(bounced_event_carries_the_bounce_class_and_label) {
  events::Fields fields;
  fields.recipients = {"gone@example.test"};
  fields.reply = "550 5.1.1 no such user";
  fields.bounce_class = "hard";
  fields.bounce_label = "invalid_recipient";
  const json data = json::parse(events::make("message.bounced", "acme", 1737000000123456, fields).record.json)["data"];
  BOOST_TEST(data["bounce"].dump() == R"({"class":"hard","label":"invalid_recipient"})");
  fields.bounce_class.clear();
  const json plain = json::parse(events::make("message.bounced", "acme", 1737000000123456, fields).record.json)["data"];
  BOOST_TEST(!plain.contains("bounce"));
}

BOOST_AUTO_TEST_CASE(outbound_delivery_event_carries_peer_tls_tags_and_metadata) {
  events::Fields fields;
  fields.queue_id = "0006C338WKPS2M001ZHD";
  fields.recipients = {"rcpt@far.test"};
  fields.reply = "250 2.0.0 Ok: queued";
  fields.remote = "127.0.0.2:2525";
  fields.remote_host = "mx1.far.test";
  fields.remote_ip = "127.0.0.2";
  fields.tls_version = "TLSv1.3";
  fields.tls_cipher = "TLS_AES_256_GCM_SHA384";
  fields.outbound = true;
  fields.tags = {"welcome", "crm"};
  fields.metadata = {{"order", "42"}, {"customer", "c-9"}};
  json data = json::parse(events::make("message.delivered", "acme", 1, fields).record.json)["data"];
  BOOST_TEST(data["remote_host"] == "mx1.far.test");
  BOOST_TEST(data["remote_ip"] == "127.0.0.2");
  BOOST_TEST(data["tls"] == (json{{"version", "TLSv1.3"}, {"cipher", "TLS_AES_256_GCM_SHA384"}, {"verified_by", "none"}}),
             data.dump());
  fields.tls_verified_by = "pkix";
  data = json::parse(events::make("message.delivered", "acme", 1, fields).record.json)["data"];
  BOOST_TEST(data["tls"]["verified_by"] == "pkix", data.dump());
  BOOST_TEST(data["tags"] == (json{"welcome", "crm"}), data.dump());
  BOOST_TEST(data["metadata"] == (json{{"order", "42"}, {"customer", "c-9"}}), data.dump());
  // Plaintext and no tags: no "tls", but an outbound event still has (empty) tags and metadata.
  fields.tls_version.clear();
  fields.tls_cipher.clear();
  fields.tags.clear();
  fields.metadata.clear();
  data = json::parse(events::make("message.bounced", "acme", 1, fields).record.json)["data"];
  BOOST_TEST(!data.contains("tls"));
  BOOST_TEST(data["tags"] == json::array());
  BOOST_TEST(data["metadata"] == json::object());
  fields.outbound = false;  // inbound events are as before
  data = json::parse(events::make("message.delivered", "acme", 1, fields).record.json)["data"];
  BOOST_TEST(!data.contains("tags"));
  BOOST_TEST(!data.contains("metadata"));
}

BOOST_AUTO_TEST_CASE(click_event_json) {
  events::Fields fields;
  fields.queue_id = "0006C338WKPS2M001ZHD";
  fields.url = "https://shop.test/a?b=1";
  fields.link_index = 0;
  fields.client_ip = "203.0.113.9";
  fields.user_agent = "Mozilla/5.0";
  const json data = json::parse(events::make("message.clicked", "acme", 1, fields).record.json)["data"];
  BOOST_TEST(data == (json{{"message", {{"id", "0006C338WKPS2M001ZHD"}}},
                           {"url", "https://shop.test/a?b=1"},
                           {"link_index", 0},
                           {"ip", "203.0.113.9"},
                           {"user_agent", "Mozilla/5.0"}}),
             data.dump());
}

BOOST_AUTO_TEST_CASE(one_event_per_tenant_that_wants_events) {
  const config::LoadResult loaded = config::loadFromText(
      "node.toml", "",
      {{"acme.toml", "tenant = \"acme\"\ndomains = [\"acme.test\"]\n[delivery]\ntarget = \"file\"\npath = \"in\"\n"
                     "[events]\nurl = \"https://crm.test/events\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n"},
       {"quiet.toml", "tenant = \"quiet\"\ndomains = [\"quiet.test\"]\n[delivery]\ntarget = \"file\"\npath = \"in\"\n"}});
  BOOST_REQUIRE_MESSAGE(loaded.config, (loaded.errors.empty() ? std::string() : loaded.errors.front().str()));
  const config::Config& config = *loaded.config;
  BOOST_TEST(events::wanted(&config, "acme"));
  BOOST_TEST(!events::wanted(&config, "quiet"));
  BOOST_TEST(!events::wanted(&config, "gone"));
  BOOST_TEST(!events::wanted(nullptr, "acme"));
  spool::Batch batch;
  events::Fields base;
  base.queue_id = "0006C338WKPS2M001ZHD";
  events::addPerTenant("message.accepted",
                       {{"a@acme.test", "acme"}, {"q@quiet.test", "quiet"}, {"b@acme.test", "acme"}}, &config, 5,
                       base, batch);
  BOOST_TEST(!batch.empty());
  spool::Batch none;
  events::addPerTenant("message.accepted", {{"q@quiet.test", "quiet"}}, &config, 5, base, none);
  BOOST_TEST(none.empty());
}

BOOST_AUTO_TEST_SUITE_END()
