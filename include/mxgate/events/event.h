// Delivery and engagement events for the tenant's event webhook (DESIGN.md "Webhooks"):
// message.accepted, delivered, deferred and bounced (with the reply's bounce class and label),
// expired, suppressed, rejected, quarantined, released,
// clicked, opened, unsubscribed (RFC 8058 one-click) and webhook.endpoint.disabled. make()
// builds the outbox record — its key
// in the events family and the JSON object posted — which the caller writes in the same
// batch as the state change that causes it. The JSON follows the field survey in
// shared/research/ecosystem.md §2.3 (KumoMTA / SendGrid / Postmark names, snake_case).
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::events {

// What an event says; empty fields are left out of the JSON.
struct Fields {
  std::string queue_id;
  std::vector<std::string> recipients;  // "recipient" when one, "recipients" when several
  std::string mail_from;
  uint32_t attempt = 0;          // delivery attempt (0 = not a delivery event)
  std::string reply;             // an SMTP reply or our error text: parsed into code, enhanced code, text
  std::string remote;            // where the delivery went (host:port, URL, file)
  std::string remote_host;       // smtp/mx: the answering peer's host name, IP, and TLS facts
  std::string remote_ip;
  std::string tls_version;       // "" = plaintext (left out)
  std::string tls_cipher;
  std::string tls_verified_by;   // tls.verified_by: "dane", "pkix" or "none"
  // An authenticated tenant's own message: its events carry "tags" and "metadata" (even empty).
  bool outbound = false;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> metadata;  // a JSON object; a repeated key: the last wins
  std::string reason;            // quarantine reason, rejection cause, ...
  std::string detail;
  std::string url;               // clicked: the target; webhook.endpoint.disabled: the endpoint
  uint32_t link_index = 0;
  std::string client_ip;         // clicked / opened
  std::string user_agent;
  uint64_t next_attempt_us = 0;  // deferred: when the next attempt is due
  // bounced, deferred: how the reply was classified (bounce/classifier.h), as
  // "bounce": {"class": ..., "label": ...}; left out when bounce_class is empty.
  std::string bounce_class;
  std::string bounce_label;
};

struct Event {
  std::string key;  // the events family key
  spool::EventRecord record;
};

// The event record, with a fresh key and the JSON object
// {"id","type","timestamp","tenant","data":{...}}.
Event make(std::string_view type, std::string_view tenant, uint64_t at_us, const Fields& fields);

// For each tenant that wants events among the given (address, tenant) recipients, one event
// listing that tenant's addresses (base's other fields as given) into batch.
void addPerTenant(std::string_view type, const std::vector<std::pair<std::string, std::string>>& recipients,
                  const config::Config* config, uint64_t at_us, const Fields& base, spool::Batch& batch);

// True when the tenant wants events (has an events.url); writers skip the others.
bool wanted(const config::Config* config, std::string_view tenant);

}  // namespace mxgate::events
