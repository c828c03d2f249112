// Event records for the webhook outbox (see include/mxgate/events/event.h). Any thread.
#include "mxgate/events/event.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/digest.h"
#include "mxgate/smtp/reply_parser.h"
#include "mxgate/spool/store.h"

namespace mxgate::events {
namespace {

using nlohmann::json;

}  // namespace

bool wanted(const config::Config* config, std::string_view tenant) {
  if (config == nullptr) {
    return false;
  }
  const config::Tenant* found = config->tenantById(tenant);
  return found != nullptr && !found->events.url.empty();
}

void addPerTenant(std::string_view type, const std::vector<std::pair<std::string, std::string>>& recipients,
                  const config::Config* config, uint64_t at_us, const Fields& base, spool::Batch& batch) {
  std::vector<std::string_view> done;
  for (const auto& [address, tenant] : recipients) {
    if (std::find(done.begin(), done.end(), tenant) != done.end()) {
      continue;
    }
    done.push_back(tenant);
    if (!wanted(config, tenant)) {
      continue;
    }
    Fields fields = base;
    for (const auto& [other_address, other_tenant] : recipients) {
      if (other_tenant == tenant) {
        fields.recipients.push_back(other_address);
      }
    }
    const Event event = make(type, tenant, at_us, fields);
    batch.putEvent(event.key, event.record);
  }
}

Event make(std::string_view type, std::string_view tenant, uint64_t at_us, const Fields& fields) {
  Event event;
  event.key = spool::newEventKey(tenant, at_us);
  spool::EventRecord& record = event.record;
  record.at_us = at_us;
  record.id = "evt_" + base::hexLower(spool::eventKeyTime(event.key));
  record.tenant = std::string(tenant);
  record.type = std::string(type);

  json data = json::object();
  if (!fields.queue_id.empty()) {
    data["message"] = {{"id", fields.queue_id}};
  }
  if (fields.recipients.size() == 1) {
    data["recipient"] = fields.recipients.front();
  } else if (!fields.recipients.empty()) {
    data["recipients"] = fields.recipients;
  }
  if (!fields.mail_from.empty()) {
    data["sender"] = fields.mail_from;
  }
  if (fields.attempt > 0) {
    data["attempt"] = fields.attempt;
  }
  if (!fields.reply.empty()) {
    const smtp::ReplyLine reply = smtp::splitReplyLine(fields.reply);
    data["response"] = {{"code", reply.code == 0 ? json() : json(reply.code)},
                        {"enhanced_code", reply.enhanced.empty() ? json() : json(reply.enhanced)},
                        {"text", reply.text}};
  }
  if (!fields.remote.empty()) {
    data["remote"] = fields.remote;
  }
  if (!fields.remote_host.empty()) {
    data["remote_host"] = fields.remote_host;
  }
  if (!fields.remote_ip.empty()) {
    data["remote_ip"] = fields.remote_ip;
  }
  if (!fields.tls_version.empty()) {
    data["tls"] = {{"version", fields.tls_version},
                   {"cipher", fields.tls_cipher},
                   {"verified_by", fields.tls_verified_by.empty() ? "none" : fields.tls_verified_by}};
  }
  if (fields.outbound) {
    data["tags"] = fields.tags;
    json metadata = json::object();
    for (const auto& [key, value] : fields.metadata) {
      metadata[key] = value;
    }
    data["metadata"] = std::move(metadata);
  }
  if (!fields.bounce_class.empty()) {
    data["bounce"] = {{"class", fields.bounce_class}, {"label", fields.bounce_label}};
  }
  if (!fields.reason.empty()) {
    data["reason"] = fields.reason;
  }
  if (!fields.detail.empty()) {
    data["detail"] = fields.detail;
  }
  if (!fields.url.empty()) {
    data["url"] = fields.url;
  }
  if (record.type == "message.clicked") {
    data["link_index"] = fields.link_index;
  }
  if (!fields.client_ip.empty()) {
    data["ip"] = fields.client_ip;
  }
  if (!fields.user_agent.empty()) {
    data["user_agent"] = fields.user_agent;
  }
  if (fields.next_attempt_us > 0) {
    data["next_retry_at"] = formatRfc3339(fields.next_attempt_us, 3);
  }
  const json object = {{"id", record.id}, {"type", record.type}, {"timestamp", formatRfc3339(at_us, 3)},
                       {"tenant", record.tenant}, {"data", data}};
  record.json = object.dump(-1, ' ', false, json::error_handler_t::replace);
  return event;
}

}  // namespace mxgate::events
