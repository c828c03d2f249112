// Tenant -> delivery target registry (see include/mxgate/delivery/registry.h). Any thread.
#include "mxgate/delivery/registry.h"

#include <algorithm>

#include "mxgate/base/log.h"
#include "mxgate/delivery/file_target.h"

namespace mxgate::delivery {
namespace {

// The SMTP client settings every smtp and mx target is built with, as part of its key.
std::string clientKey(const config::Config& config) {
  const config::SmtpClientSettings& client = config.smtp_client;
  return config.node.hostname + "\n" + std::to_string(client.connect_timeout.count()) + "\n" +
         std::to_string(client.command_timeout.count()) + "\n" + std::to_string(client.data_timeout.count()) + "\n" +
         std::to_string(client.idle_timeout.count()) + "\n" + std::to_string(client.max_messages_per_connection);
}

// Everything that distinguishes one target from another, as a map key.
std::string targetKey(const config::Tenant& tenant, const config::Config& config) {
  const config::DeliveryTarget& target = tenant.delivery;
  if (target.kind == config::DeliveryKind::File) {
    return "file\n" + target.path;
  }
  if (target.kind == config::DeliveryKind::Webhook) {
    std::string key = "webhook\n" + tenant.id + "\n" + target.url + "\n" + std::to_string(target.max_connections) +
                      "\n" + std::to_string(target.allow_private) + "\n" + std::to_string(target.timeout.count()) +
                      "\n" + std::to_string(target.max_payload) + "\n" + std::to_string(target.inline_attachments_max) +
                      "\n" + std::to_string(target.retry_initial.count()) + "\n" +
                      std::to_string(target.retry_max.count()) + "\n" + std::to_string(target.max_age.count()) + "\n" +
                      std::to_string(static_cast<int>(tenant.links.mode)) + "\n" +
                      std::to_string(tenant.links.rewrite_text) + "\n" + tenant.thread.ticket_pattern + "\n" +
                      config.links.host;
    for (const std::string& host : tenant.links.allow_hosts) {
      key += "\n" + host;
    }
    for (const std::string& secret : target.secret_keys) {
      key += "\n" + secret;
    }
    return key;
  }
  return "smtp\n" + target.host + "\n" + std::to_string(target.port) + "\n" +
         std::to_string(target.max_connections) + "\n" + std::to_string(static_cast<int>(target.tls)) + "\n" + target.tls_ca_file + "\n" +
         target.tls_verify_name + "\n" + clientKey(config);
}

// The key of an mx target: the [mx] settings, and the deliveries it runs at once.
std::string mxKey(const config::Config& config, uint32_t max_connections) {
  const config::MxSettings& mx = config.mx;
  return "mx\n" + std::to_string(mx.port) + "\n" + std::to_string(mx.max_addresses) + "\n" +
         std::to_string(mx.connections_per_host) + "\n" + std::to_string(mx.ipv4) + std::to_string(mx.ipv6) +
         std::to_string(mx.prefer_ipv6) + "\n" + std::to_string(max_connections) + "\n" + clientKey(config);
}

}  // namespace

Registry::Registry(std::vector<io::Loop*> loops, io::Lane& file_lane, WebhookContext webhooks, dns::Resolver& resolver,
                   spool::Store* store)
    : loops_(std::move(loops)),
      file_lane_(file_lane),
      webhooks_(std::move(webhooks)),
      resolver_(resolver),
      mta_sts_(*webhooks_.loop, resolver, &mx_tls_counters_, store) {}

Registry::~Registry() = default;

void Registry::update(const config::Config& config, const ClientTlsContexts& client_tls) {
  std::lock_guard<std::mutex> lock(mutex_);
  webhooks_.links.host = config.links.host;
  std::unordered_map<std::string, Target*> by_tenant;
  std::unordered_map<std::string, WebhookTarget*> webhooks_by_tenant;
  std::unordered_map<std::string, SmtpTarget*> next_hops_by_tenant;
  std::vector<const config::Tenant*> routes;
  for (const auto& tenant : config.tenants) {
    routes.push_back(&tenant);
  }
  config::Tenant bounces;  // the bounce relay, routed like a tenant's smtp next hop
  if (config.bounces_enabled && !config.bounces.host.empty()) {
    bounces.id = std::string(kBounceRoute);
    bounces.delivery = config.bounces;
    routes.push_back(&bounces);
  }
  for (const config::Tenant* route : routes) {
    const config::Tenant& tenant = *route;
    std::string key = targetKey(tenant, config);
    auto it = targets_.find(key);
    if (it == targets_.end()) {
      std::unique_ptr<Target> target;
      if (tenant.delivery.kind == config::DeliveryKind::File) {
        target = std::make_unique<FileTarget>(tenant.delivery.path, file_lane_);
      } else if (tenant.delivery.kind == config::DeliveryKind::Webhook) {
        target = std::make_unique<WebhookTarget>(tenant, webhooks_, *webhooks_.loop);
      } else {
        auto smtp = std::make_unique<SmtpTarget>(tenant.delivery, config.smtp_client, config.node.hostname, loops_,
                                                 client_tls.policyFor(tenant.delivery));
        smtp_targets_.emplace(key, smtp.get());
        target = std::move(smtp);
      }
      it = targets_.emplace(key, std::move(target)).first;
    } else if (const auto smtp = smtp_targets_.find(key); smtp != smtp_targets_.end()) {
      smtp->second->setTls(client_tls.policyFor(tenant.delivery));
    }
    if (const auto smtp = smtp_targets_.find(key); smtp != smtp_targets_.end()) {
      next_hops_by_tenant[tenant.id] = smtp->second;
    }
    if (tenant.delivery.kind != config::DeliveryKind::Webhook && tenant.links.mode != config::LinkMode::Off) {
      // Links are rewritten in front of the (shared) file or smtp target, per tenant.
      std::string wrapper_key = "links\n" + tenant.id + "\n" + std::to_string(static_cast<int>(tenant.links.mode)) +
                                "\n" + std::to_string(tenant.links.rewrite_text) + "\n" + config.links.host + "\n" + key;
      for (const std::string& host : tenant.links.allow_hosts) {
        wrapper_key += "\n" + host;
      }
      auto wrapper = targets_.find(wrapper_key);
      if (wrapper == targets_.end()) {
        wrapper = targets_
                      .emplace(wrapper_key, std::make_unique<LinkRewritingTarget>(*it->second, tenant, webhooks_.links,
                                                                                  *webhooks_.payload_lane))
                      .first;
      }
      it = wrapper;
    }
    by_tenant[tenant.id] = it->second.get();
    if (tenant.delivery.kind == config::DeliveryKind::Webhook) {
      webhooks_by_tenant[tenant.id] = static_cast<WebhookTarget*>(it->second.get());
    }
  }
  mta_sts_.configure(MtaStsSettings{config.mx.mta_sts_port, config.mx.mta_sts_ca_file});
  const auto mx_tls = std::make_shared<const MxTlsPolicies>(config, client_tls, &mx_tls_counters_, &mta_sts_);
  shaping_.update(config.shaping);
  if (config.bounces_enabled && config.bounces.host.empty()) {
    // Reports go to each sender domain's mail exchangers, within their own budget.
    by_tenant[std::string(kBounceRoute)] = mxTarget(config, config.bounces.max_connections, mx_tls);
  }
  std::unordered_map<std::string, Target*> outbound_by_tenant;
  for (const config::Tenant& tenant : config.tenants) {
    switch (tenant.outbound.target) {
      case config::OutboundTarget::Mx:
        outbound_by_tenant[tenant.id] = mxTarget(config, config.mx.max_connections, mx_tls);
        break;
    }
  }
  by_tenant_.swap(by_tenant);
  outbound_by_tenant_.swap(outbound_by_tenant);
  webhooks_by_tenant_.swap(webhooks_by_tenant);
  next_hops_by_tenant_.swap(next_hops_by_tenant);
}

MxTarget* Registry::mxTarget(const config::Config& config, uint32_t max_connections,
                             const std::shared_ptr<const MxTlsPolicies>& tls) {
  const std::string key = mxKey(config, max_connections);
  if (const auto found = mx_targets_.find(key); found != mx_targets_.end()) {
    found->second->setTls(tls);
    return found->second;
  }
  auto target = std::make_unique<MxTarget>(resolver_, config.mx, max_connections, config.smtp_client,
                                           config.node.hostname, loops_, tls, shaping_);
  MxTarget* raw = target.get();
  mx_targets_.emplace(key, raw);
  targets_.emplace(key, std::move(target));
  return raw;
}

std::vector<Registry::WebhookEndpoint> Registry::webhookEndpoints() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<WebhookEndpoint> endpoints;
  for (const auto& [tenant, target] : webhooks_by_tenant_) {
    endpoints.push_back(WebhookEndpoint{tenant, target->shownUrl(), target->disabled()});
  }
  std::sort(endpoints.begin(), endpoints.end(), [](const auto& a, const auto& b) { return a.tenant < b.tenant; });
  return endpoints;
}

bool Registry::enableWebhook(const std::string& tenant) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = webhooks_by_tenant_.find(tenant);
  if (it == webhooks_by_tenant_.end()) {
    return false;
  }
  if (webhooks_.endpoints->enable(spool::EndpointKind::Delivery, tenant) > 0) {
    log::info("-", "webhook_endpoint_enabled").kv("tenant", tenant).kv("url", it->second->shownUrl());
  }
  return true;
}

Target* Registry::forTenant(const std::string& tenant, bool outbound) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto& targets = outbound ? outbound_by_tenant_ : by_tenant_;
  auto it = targets.find(tenant);
  return it == targets.end() ? nullptr : it->second;
}

SmtpTarget* Registry::nextHopFor(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = next_hops_by_tenant_.find(tenant);
  return it == next_hops_by_tenant_.end() ? nullptr : it->second;
}

void Registry::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, target] : targets_) {
    target->shutdown();
  }
  mta_sts_.shutdown();
}

}  // namespace mxgate::delivery
