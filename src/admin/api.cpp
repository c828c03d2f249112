// Admin API routes and JSON (see include/mxgate/admin/api.h). Runs on the control loop.
#include "mxgate/admin/api.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/base/secret_file.h"
#include "mxgate/mail/address.h"

namespace mxgate::admin {
namespace {

using nlohmann::json;

std::string isoTime(uint64_t micros) { return micros == 0 ? "" : formatRfc3339(micros, 0); }

std::string_view recipientState(spool::RecipientState state) {
  switch (state) {
    case spool::RecipientState::Pending: return "pending";
    case spool::RecipientState::Delivered: return "delivered";
    case spool::RecipientState::Failed: return "failed";
    case spool::RecipientState::Quarantined: return "quarantined";
    case spool::RecipientState::Discarded: return "discarded";
  }
  return "pending";
}

std::string_view messageState(spool::MessageState state) {
  switch (state) {
    case spool::MessageState::Queued: return "queued";
    case spool::MessageState::Dead: return "dead";
    case spool::MessageState::Held: return "held";
  }
  return "queued";
}

json verdictsJson(const spool::Verdicts& verdicts) {
  json dkim = json::array();
  for (const auto& signature : verdicts.dkim) {
    dkim.push_back({{"result", signature.result},
                    {"domain", signature.domain},
                    {"selector", signature.selector},
                    {"algorithm", signature.algorithm}});
  }
  return {{"spf", verdicts.spf},     {"spf_domain", verdicts.spf_domain},     {"dkim", dkim},
          {"dmarc", verdicts.dmarc}, {"dmarc_policy", verdicts.dmarc_policy}, {"from_domain", verdicts.from_domain},
          {"virus", verdicts.virus}, {"virus_name", verdicts.virus_name}};
}

json recordJson(const spool::MessageRecord& record, bool active) {
  json recipients = json::array();
  for (const auto& recipient : record.recipients) {
    recipients.push_back({{"address", recipient.address},
                          {"tenant", recipient.tenant},
                          {"state", recipientState(recipient.state)},
                          {"attempts", recipient.attempts},
                          {"last_reply", recipient.last_reply}});
  }
  return {{"id", record.id.str()},
          {"state", messageState(record.state)},
          {"active", active},
          {"received_at", isoTime(record.received_at_us)},
          {"send_at", isoTime(record.send_at_us)},
          {"next_attempt", record.state == spool::MessageState::Queued ? isoTime(record.next_attempt_us) : ""},
          {"attempts", record.attempts},
          {"mail_from", record.mail_from},
          {"size", record.body_size},
          {"client_address", record.client_address},
          {"helo", record.helo},
          {"tls", record.tls},
          {"listener", record.listener},
          {"last_reply", record.last_reply},
          {"dead_reason", record.dead_reason},
          {"dead_at", isoTime(record.dead_at_us)},
          {"stage", record.stage == spool::Stage::Scan ? "scan" : "deliver"},
          {"verdicts", verdictsJson(record.verdicts)},
          {"recipients", recipients}};
}

json quarantineJson(const spool::QuarantineRecord& entry) {
  return {{"tenant", entry.tenant},
          {"id", entry.id.str()},
          {"reason", entry.reason},
          {"detail", entry.detail},
          {"quarantined_at", isoTime(entry.quarantined_at_us)},
          {"expires_at", isoTime(entry.expires_at_us)},
          {"legal_hold", entry.legal_hold},
          {"mail_from", entry.mail_from},
          {"size", entry.size},
          {"recipients", entry.recipients}};
}

json auditJson(const spool::AuditRecord& record) {
  return {{"at", isoTime(record.at_us)}, {"actor", record.actor},   {"action", record.action},
          {"tenant", record.tenant},     {"id", record.id},         {"detail", record.detail}};
}

size_t limitParam(const http::Request& request, size_t fallback) {
  const std::string text = request.queryParam("limit");
  return text.empty() ? fallback : std::clamp<size_t>(std::strtoull(text.c_str(), nullptr, 10), 1, 100000);
}

// Who acts, for the audit log: printable ASCII, at most 64 characters.
std::string actorOf(const http::Request& request) {
  std::string actor;
  for (char c : request.header("x-mxgate-actor").substr(0, 64)) {
    actor.push_back(c > 0x20 && c < 0x7f ? c : '_');
  }
  return actor.empty() ? "api" : actor;
}

http::Response jsonResponse(int status, const json& body) {
  return http::Response{status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", {}};
}

// A credential as listed: never its hash (the store clears it) or secret.
json credentialJson(const spool::CredentialRecord& record) {
  return {{"username", record.username}, {"tenant", record.tenant},
          {"name", record.name},         {"kind", record.kind},
          {"created_at", isoTime(record.created_us)}, {"revoked", record.revoked_us != 0},
          {"revoked_at", isoTime(record.revoked_us)}};
}

// The answer to a failed credential change.
http::Response credentialError(auth::CredentialStore::Status status, const std::string& username) {
  using Status = auth::CredentialStore::Status;
  switch (status) {
    case Status::Exists:
      return jsonResponse(409, {{"error", "credential \"" + username + "\" exists; revoke it first"}});
    case Status::NotFound: return jsonResponse(404, {{"error", "no credential \"" + username + "\""}});
    case Status::AlreadyRevoked:
      return jsonResponse(409, {{"error", "credential \"" + username + "\" is already revoked"}});
    case Status::Ok:
    case Status::Unavailable: break;
  }
  return jsonResponse(503, {{"error", "the spool cannot be read or written now; try again"}});
}

json suppressionJson(const spool::SuppressionRecord& record) {
  return {{"tenant", record.tenant},
          {"address", record.address},
          {"reason", spool::suppressionReasonName(record.reason)},
          {"detail", record.detail},
          {"created_at", isoTime(record.created_us)},
          {"queue_id", record.queue_id}};
}

// The addresses of a suppression change's body, checked: valid ones into valid, the others
// with their problem into invalid. "" or why the body is unusable.
std::string suppressionAddresses(const json& body, std::vector<std::string>& valid, json& invalid) {
  if (!body.is_object() || !body.contains("addresses") || !body["addresses"].is_array()) {
    return "the body must be a JSON object with \"addresses\": [...]";
  }
  for (const json& entry : body["addresses"]) {
    if (!entry.is_string()) {
      invalid.push_back({{"address", entry.dump()}, {"error", "not a string"}});
      continue;
    }
    const std::string text = entry.get<std::string>();
    mail::Address address;
    if (mail::parseMailbox(text, true, address) != mail::AddressError::None) {
      invalid.push_back({{"address", text}, {"error", "not an address (local@domain)"}});
      continue;
    }
    valid.push_back(address.str());
  }
  return "";
}

int statusFor(scheduler::AdminStatus status) {
  switch (status) {
    case scheduler::AdminStatus::Ok: return 200;
    case scheduler::AdminStatus::Accepted: return 202;
    case scheduler::AdminStatus::NotFound: return 404;
    case scheduler::AdminStatus::Busy: return 409;
    case scheduler::AdminStatus::Refused: return 409;
    case scheduler::AdminStatus::Error: return 500;
  }
  return 500;
}

// /v1/<collection>/<queue id>[/<action>]
struct MessagePath {
  mail::QueueId id;
  std::string_view action;
};

std::optional<MessagePath> messagePath(std::string_view path, std::string_view prefix) {
  const std::string_view rest = path.substr(prefix.size());
  const std::string_view id_text = rest.substr(0, rest.find('/'));
  auto id = mail::QueueId::parse(id_text);
  if (!id) {
    return std::nullopt;
  }
  return MessagePath{*id, rest.size() > id_text.size() ? rest.substr(id_text.size() + 1) : std::string_view()};
}

// The answer to an action on one message: its id and what happened.
scheduler::Scheduler::ActionFn actionReply(const http::Respond& respond, const mail::QueueId& id) {
  return [respond, id](scheduler::AdminStatus status, const std::string& detail) {
    respond(jsonResponse(statusFor(status), {{"id", id.str()}, {"detail", detail}}));
  };
}

}  // namespace

std::string messageJson(const spool::MessageRecord& record, bool active) {
  return recordJson(record, active).dump(2, ' ', false, json::error_handler_t::replace);
}

Api::Api(io::Loop& loop, scheduler::Scheduler& scheduler, delivery::Registry& registry,
         webhook::EventDispatcher& events, LocalReceiver& receiver, auth::CredentialStore& credentials,
         spool::SuppressionList& suppressions, LocalReceiver::ConfigFn config, std::string token, std::function<std::string()> metrics,
         RunningSettings running_settings, DrainControl drain)
    : loop_(loop),
      scheduler_(scheduler),
      registry_(registry),
      events_(events),
      receiver_(receiver),
      credentials_(credentials),
      suppressions_(suppressions),
      config_(std::move(config)),
      token_(std::move(token)),
      metrics_(std::move(metrics)),
      running_settings_(std::move(running_settings)),
      drain_(std::move(drain)) {}

bool Api::authorized(const http::Request& request) const {
  std::string_view value = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer) {
    return false;
  }
  std::string_view given = value.substr(kBearer.size());
  return given.size() == token_.size() && CRYPTO_memcmp(given.data(), token_.data(), token_.size()) == 0;
}

void Api::handle(const http::Request& request, http::Respond respond) {
  const std::string& path = request.path;
  if (path == "/healthz") {
    respond(http::Response{200, "text/plain; charset=utf-8", "ok\n", {}});
    return;
  }
  if (path == "/metrics") {
    respond(http::Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_(), {}});
    return;
  }
  if (path.starts_with(LocalReceiver::kPrefix)) {
    receiver_.handle(request, std::move(respond));
    return;
  }
  if (path.rfind("/v1/", 0) != 0) {
    respond(jsonResponse(404, {{"error", "not found"}}));
    return;
  }
  if (!authorized(request)) {
    respond(jsonResponse(401, {{"error", "missing or wrong bearer token"}}));
    return;
  }
  if (path == "/v1/queue" || path.rfind("/v1/queue/", 0) == 0) {
    handleQueue(request, std::move(respond));
  } else if (path == "/v1/quarantine" || path.rfind("/v1/quarantine/", 0) == 0) {
    handleQuarantine(request, std::move(respond));
  } else if (path == "/v1/audit") {
    handleAudit(request, std::move(respond));
  } else if (path == "/v1/config") {
    if (request.method != "GET") {
      respond(jsonResponse(405, {{"error", "use GET"}}));
      return;
    }
    respond(jsonResponse(200, {{"settings", running_settings_()}}));
  } else if (path == "/v1/webhooks" || path.rfind("/v1/webhooks/", 0) == 0) {
    handleWebhooks(request, std::move(respond));
  } else if (path == "/v1/credentials" || path.rfind("/v1/credentials/", 0) == 0) {
    handleCredentials(request, std::move(respond));
  } else if (path == "/v1/suppressions" || path == "/v1/suppressions/remove") {
    handleSuppressions(request, std::move(respond));
  } else if (path == "/v1/shaping" || path == "/v1/shaping/resume") {
    handleShaping(request, std::move(respond));
  } else if (path == "/v1/drain") {
    handleDrain(request, std::move(respond));
  } else {
    respond(jsonResponse(404, {{"error", "not found"}}));
  }
}

void Api::handleQueue(const http::Request& request, http::Respond respond) {
  const std::string& path = request.path;
  if (path == "/v1/queue") {
    if (request.method != "GET") {
      respond(jsonResponse(405, {{"error", "use GET"}}));
      return;
    }
    scheduler_.list(limitParam(request, 1000), [respond](std::vector<spool::MessageRecord> records) {
      json messages = json::array();
      for (const auto& record : records) {
        messages.push_back(recordJson(record, false));
      }
      respond(jsonResponse(200, {{"messages", messages}}));
    });
    return;
  }
  const std::optional<MessagePath> target = messagePath(path, "/v1/queue/");
  if (!target) {
    respond(jsonResponse(400, {{"error", "not a queue id"}}));
    return;
  }
  const mail::QueueId id = target->id;
  const std::string_view action = target->action;
  auto reply = actionReply(respond, id);
  if (action.empty() && request.method == "GET") {
    scheduler_.show(id, [respond](scheduler::AdminStatus status, spool::MessageRecord record, bool active) {
      if (status != scheduler::AdminStatus::Ok) {
        respond(jsonResponse(statusFor(status), {{"error", status == scheduler::AdminStatus::NotFound
                                                               ? "no such message"
                                                               : "cannot read message"}}));
        return;
      }
      respond(jsonResponse(200, recordJson(record, active)));
    });
  } else if (action.empty() && request.method == "DELETE") {
    scheduler_.remove(id, actorOf(request), reply);
  } else if (action == "retry" && request.method == "POST") {
    scheduler_.retry(id, reply);
  } else {
    respond(jsonResponse(405, {{"error", "unsupported method or action"}}));
  }
}

void Api::handleQuarantine(const http::Request& request, http::Respond respond) {
  const std::string& path = request.path;
  if (path == "/v1/quarantine") {
    if (request.method != "GET") {
      respond(jsonResponse(405, {{"error", "use GET"}}));
      return;
    }
    scheduler::QuarantineQuery query;
    query.tenant = request.queryParam("tenant");
    query.reason = request.queryParam("reason");
    query.limit = limitParam(request, 1000);
    scheduler_.quarantineList(std::move(query), [respond](std::vector<spool::QuarantineRecord> entries) {
      json list = json::array();
      for (const auto& entry : entries) {
        list.push_back(quarantineJson(entry));
      }
      respond(jsonResponse(200, {{"entries", list}}));
    });
    return;
  }
  const std::optional<MessagePath> target = messagePath(path, "/v1/quarantine/");
  if (!target) {
    respond(jsonResponse(400, {{"error", "not a queue id"}}));
    return;
  }
  const mail::QueueId id = target->id;
  const std::string_view action = target->action;
  const std::string tenant = request.queryParam("tenant");
  auto reply = actionReply(respond, id);
  if (action.empty() && request.method == "GET") {
    scheduler_.quarantineShow(tenant, id, [respond](scheduler::AdminStatus status, const std::string& error,
                                                     scheduler::QuarantineDetail detail) {
      if (status != scheduler::AdminStatus::Ok) {
        respond(jsonResponse(statusFor(status), {{"error", error}}));
        return;
      }
      json audit = json::array();
      for (const auto& record : detail.audit) {
        audit.push_back(auditJson(record));
      }
      json body = quarantineJson(detail.entry);
      body["message"] = detail.message.id == detail.entry.id ? recordJson(detail.message, false) : json();
      body["headers"] = detail.header_section;
      body["audit"] = audit;
      respond(jsonResponse(200, body));
    });
    return;
  }
  std::optional<scheduler::QuarantineAction> chosen;
  if (action.empty() && request.method == "DELETE") {
    chosen = scheduler::QuarantineAction::Delete;
  } else if (request.method == "POST" && action == "release") {
    chosen = scheduler::QuarantineAction::Release;
  } else if (request.method == "POST" && action == "hold") {
    chosen = scheduler::QuarantineAction::Hold;
  } else if (request.method == "POST" && action == "unhold") {
    chosen = scheduler::QuarantineAction::Unhold;
  }
  if (!chosen) {
    respond(jsonResponse(405, {{"error", "unsupported method or action"}}));
    return;
  }
  const bool force = request.queryParam("force") == "1";
  scheduler_.quarantineAct(*chosen, tenant, id, actorOf(request), force, reply);
}

void Api::handleAudit(const http::Request& request, http::Respond respond) {
  if (request.method != "GET") {
    respond(jsonResponse(405, {{"error", "use GET"}}));
    return;
  }
  scheduler_.auditList(limitParam(request, 100), [respond](std::vector<spool::AuditRecord> records) {
    json list = json::array();
    for (const auto& record : records) {
      list.push_back(auditJson(record));
    }
    respond(jsonResponse(200, {{"audit", list}}));
  });
}

std::string tokenPath(const config::Config& config) {
  return config.admin.token_file.empty() ? config.spool.path + "/admin.token" : config.admin.token_file;
}

bool ensureToken(const std::string& path, std::string& token, std::string& error) {
  return base::ensureSecretFile(path, "admin token", token, error);
}

namespace {

// A dead-lettered message with a recipient of one of these webhook tenants ("" = any of them).
bool deadForWebhook(const spool::MessageRecord& record, const std::vector<delivery::Registry::WebhookEndpoint>& endpoints,
                    const std::string& tenant) {
  if (record.state != spool::MessageState::Dead) {
    return false;
  }
  for (const auto& recipient : record.recipients) {
    if (recipient.state != spool::RecipientState::Failed || (!tenant.empty() && recipient.tenant != tenant)) {
      continue;
    }
    for (const auto& endpoint : endpoints) {
      if (endpoint.tenant == recipient.tenant) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

void Api::handleWebhooks(const http::Request& request, http::Respond respond) {
  const std::string& path = request.path;
  const std::vector<delivery::Registry::WebhookEndpoint> endpoints = registry_.webhookEndpoints();
  const std::string tenant = request.queryParam("tenant");
  if (path == "/v1/webhooks" && request.method == "GET") {
    json event_list = json::array();
    for (const webhook::EventTenantStatus& status : events_.status()) {
      event_list.push_back({{"tenant", status.tenant},
                            {"url", status.url},
                            {"disabled", status.disabled},
                            {"pending", status.pending},
                            {"dead", status.dead},
                            {"last_error", status.last_error}});
    }
    scheduler_.list(limitParam(request, 100000), [respond, endpoints, event_list](std::vector<spool::MessageRecord> records) {
      json list = json::array();
      for (const auto& endpoint : endpoints) {
        list.push_back({{"tenant", endpoint.tenant}, {"url", endpoint.url}, {"disabled", endpoint.disabled}});
      }
      json dead = json::array();
      for (const auto& record : records) {
        if (deadForWebhook(record, endpoints, "")) {
          dead.push_back(recordJson(record, false));
        }
      }
      respond(jsonResponse(200, {{"endpoints", list}, {"events", event_list}, {"dead", dead}}));
    });
    return;
  }
  if (request.method != "POST") {
    respond(jsonResponse(405, {{"error", "unsupported method or action"}}));
    return;
  }
  for (const auto& endpoint : endpoints) {
    if (tenant.empty() || endpoint.tenant == tenant) {
      registry_.enableWebhook(endpoint.tenant);
    }
  }
  if (path == "/v1/webhooks/replay") {
    events_.replay(tenant);
    scheduler_.list(100000, [this, respond, endpoints, tenant](std::vector<spool::MessageRecord> records) {
      json replayed = json::array();
      for (const auto& record : records) {
        if (deadForWebhook(record, endpoints, tenant)) {
          scheduler_.retry(record.id, [](scheduler::AdminStatus, const std::string&) {});
          replayed.push_back(record.id.str());
        }
      }
      respond(jsonResponse(202, {{"replayed", replayed}}));
    });
    return;
  }
  const std::optional<MessagePath> target = messagePath(path, "/v1/webhooks/");
  if (!target || target->action != "replay") {
    respond(jsonResponse(404, {{"error", "not found"}}));
    return;
  }
  scheduler_.retry(target->id, actionReply(respond, target->id));
}

void Api::handleCredentials(const http::Request& request, http::Respond respond) {
  constexpr std::string_view kPrefix = "/v1/credentials/";
  const std::string& path = request.path;
  if (path == "/v1/credentials" && request.method == "GET") {
    credentials_.list(loop_, request.queryParam("tenant"), [respond](auth::CredentialStore::Listing listing) {
      if (listing.status != auth::CredentialStore::Status::Ok) {
        respond(credentialError(listing.status, ""));
        return;
      }
      json list = json::array();
      for (const auto& record : listing.records) {
        list.push_back(credentialJson(record));
      }
      respond(jsonResponse(200, {{"credentials", list}}));
    });
    return;
  }
  if (path == "/v1/credentials" && request.method == "POST") {
    addCredential(request, std::move(respond));
    return;
  }
  const std::string_view rest = std::string_view(path).substr(std::min(path.size(), kPrefix.size()));
  const size_t slash = rest.find('/');
  if (path.rfind(kPrefix, 0) != 0 || slash == std::string_view::npos || slash == 0 ||
      rest.substr(slash + 1) != "revoke" || request.method != "POST") {
    respond(jsonResponse(405, {{"error", "unsupported method or action"}}));
    return;
  }
  const std::string username(rest.substr(0, slash));
  credentials_.revoke(loop_, username, actorOf(request), [respond, username](auth::CredentialStore::Change change) {
    if (change.status != auth::CredentialStore::Status::Ok) {
      respond(credentialError(change.status, username));
      return;
    }
    respond(jsonResponse(200, credentialJson(change.record)));
  });
}

void Api::addCredential(const http::Request& request, http::Respond respond) {
  const std::string tenant = request.queryParam("tenant");
  const std::string name = request.queryParam("name");
  const std::string kind_text = request.queryParam("kind");
  if (tenant.empty()) {
    respond(jsonResponse(400, {{"error", "tenant= is required"}}));
    return;
  }
  if (!auth::isValidCredentialName(name)) {
    respond(jsonResponse(400, {{"error", "name= must be 1 to 64 characters of a-z, 0-9, '_' and '-'"}}));
    return;
  }
  const std::optional<auth::CredentialKind> kind = auth::parseKind(kind_text.empty() ? "smtp" : kind_text);
  if (!kind) {
    respond(jsonResponse(400, {{"error", "kind= must be \"smtp\" or \"api\""}}));
    return;
  }
  if (config_()->tenantById(tenant) == nullptr) {
    respond(jsonResponse(404, {{"error", "unknown tenant \"" + tenant + "\""}}));
    return;
  }
  const std::string username = auth::credentialUsername(tenant, name);
  credentials_.add(loop_, tenant, name, *kind, actorOf(request), [respond, username](auth::CredentialStore::Change change) {
    if (change.status != auth::CredentialStore::Status::Ok) {
      respond(credentialError(change.status, username));
      return;
    }
    respond(jsonResponse(201, {{"username", change.record.username}, {"secret", change.secret}}));
  });
}

void Api::handleShaping(const http::Request& request, http::Respond respond) {
  const uint64_t now = nowMicros();
  if (request.path == "/v1/shaping") {
    if (request.method != "GET") {
      respond(jsonResponse(405, {{"error", "use GET"}}));
      return;
    }
    json sites = json::array();
    for (const shaping::SiteStatus& status : registry_.busySites(now)) {
      json site = {{"site", status.site}, {"connections", status.connections}};
      if (status.backoff_line != 0) {
        site["backoff"] = {{"rule", status.backoff_source + ":" + std::to_string(status.backoff_line)},
                           {"action", status.suspended ? "suspend" : "slow down"},
                           {"until", isoTime(status.backoff_until_us)}};
      }
      sites.push_back(std::move(site));
    }
    respond(jsonResponse(200, {{"sites", sites}}));
    return;
  }
  if (request.method != "POST") {
    respond(jsonResponse(405, {{"error", "use POST"}}));
    return;
  }
  const std::string site = request.queryParam("site");
  if (!registry_.endBackoff(site, now)) {
    respond(jsonResponse(404, {{"error", "site \"" + site + "\" has no back-off in force"}}));
    return;
  }
  log::warn("-", "shaping_resumed").kv("site", site).kv("actor", actorOf(request));
  respond(jsonResponse(200, {{"detail", "the back-off of " + site + " ended"}}));
}

void Api::handleDrain(const http::Request& request, http::Respond respond) {
  if (request.method == "POST") {
    const bool until_empty = request.queryParam("until_empty") == "1";
    std::optional<std::chrono::milliseconds> timeout;
    if (const std::string seconds = request.queryParam("timeout"); !seconds.empty()) {
      uint64_t value = 0;
      const auto [end, error] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), value);
      if (error != std::errc() || end != seconds.data() + seconds.size() || value == 0 || value > 7 * 86400) {
        respond(jsonResponse(400, {{"error", "timeout= takes seconds, 1 .. 604800"}}));
        return;
      }
      timeout = std::chrono::seconds(value);
    }
    drain_.request(until_empty, timeout, actorOf(request));
  } else if (request.method != "GET") {
    respond(jsonResponse(405, {{"error", "use GET or POST"}}));
    return;
  }
  const DrainStatus status = drain_.status();
  json body = {{"draining", status.draining},
               {"until_empty", status.until_empty},
               {"sessions", status.sessions},
               {"active", status.active},
               {"queued", status.queued},
               {"remaining_ms", status.remaining_ms ? json(*status.remaining_ms) : json(nullptr)}};
  respond(jsonResponse(request.method == "POST" ? 202 : 200, body));
}

void Api::handleSuppressions(const http::Request& request, http::Respond respond) {
  const std::string tenant = request.queryParam("tenant");
  if (tenant.empty()) {
    respond(jsonResponse(400, {{"error", "tenant= is required"}}));
    return;
  }
  if (config_()->tenantById(tenant) == nullptr) {
    respond(jsonResponse(404, {{"error", "unknown tenant \"" + tenant + "\""}}));
    return;
  }
  if (request.path == "/v1/suppressions" && request.method == "GET") {
    const size_t limit = limitParam(request, 1000);
    suppressions_.list(loop_, tenant, request.queryParam("after"), limit, [respond](spool::SuppressionList::Listing listing) {
      if (!listing.ok) {
        respond(jsonResponse(503, {{"error", "the spool cannot be read now; try again"}}));
        return;
      }
      json list = json::array();
      for (const auto& record : listing.records) {
        list.push_back(suppressionJson(record));
      }
      const std::string next = listing.more && !listing.records.empty() ? listing.records.back().address : "";
      respond(jsonResponse(200, {{"suppressions", list}, {"next", next}}));
    });
    return;
  }
  if (request.method != "POST") {
    respond(jsonResponse(405, {{"error", "unsupported method or action"}}));
    return;
  }
  const json body = json::parse(request.body, nullptr, false);
  std::vector<std::string> addresses;
  json invalid = json::array();
  if (const std::string problem = suppressionAddresses(body, addresses, invalid); !problem.empty()) {
    respond(jsonResponse(400, {{"error", problem}}));
    return;
  }
  const bool removing = request.path == "/v1/suppressions/remove";
  auto answer = [respond, invalid, removing](spool::SuppressionList::Change change) {
    if (!change.ok) {
      respond(jsonResponse(503, {{"error", "the spool cannot be written now: " + change.error}}));
      return;
    }
    respond(jsonResponse(200, {{removing ? "removed" : "added", change.changed},
                               {removing ? "not_listed" : "already", change.unchanged},
                               {"invalid", invalid}}));
  };
  if (removing) {
    suppressions_.remove(loop_, tenant, std::move(addresses), actorOf(request), std::move(answer));
    return;
  }
  const bool import = body.contains("import") && body["import"].is_boolean() && body["import"].get<bool>();
  const std::string detail = body.contains("detail") && body["detail"].is_string() ? body["detail"].get<std::string>() : "";
  suppressions_.add(loop_, tenant, std::move(addresses),
                    import ? spool::SuppressionReason::Import : spool::SuppressionReason::Manual, detail.substr(0, 1000),
                    actorOf(request), std::move(answer));
}

}  // namespace mxgate::admin
