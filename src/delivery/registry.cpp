// Tenant -> delivery target registry (see include/mxgate/delivery/registry.h). Any thread.
#include "mxgate/delivery/registry.h"

#include "mxgate/delivery/file_target.h"
#include "mxgate/delivery/smtp_target.h"

namespace mxgate::delivery {
namespace {

// Everything that distinguishes one target from another, as a map key.
std::string targetKey(const config::DeliveryTarget& target, const config::Config& config) {
  if (target.kind == config::DeliveryKind::File) {
    return "file\n" + target.path;
  }
  const auto& client = config.smtp_client;
  return "smtp\n" + target.host + "\n" + std::to_string(target.port) + "\n" +
         std::to_string(target.max_connections) + "\n" + std::to_string(static_cast<int>(target.tls)) + "\n" +
         config.node.hostname + "\n" + std::to_string(client.connect_timeout.count()) + "\n" +
         std::to_string(client.command_timeout.count()) + "\n" + std::to_string(client.data_timeout.count()) +
         "\n" + std::to_string(client.idle_timeout.count()) + "\n" +
         std::to_string(client.max_messages_per_connection);
}

}  // namespace

Registry::Registry(std::vector<io::Loop*> loops, io::Lane& file_lane, std::shared_ptr<tls::Context> client_tls)
    : loops_(std::move(loops)), file_lane_(file_lane), client_tls_(std::move(client_tls)) {}

Registry::~Registry() = default;

void Registry::update(const config::Config& config) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unordered_map<std::string, Target*> by_tenant;
  for (const auto& tenant : config.tenants) {
    std::string key = targetKey(tenant.delivery, config);
    auto it = targets_.find(key);
    if (it == targets_.end()) {
      std::unique_ptr<Target> target;
      if (tenant.delivery.kind == config::DeliveryKind::File) {
        target = std::make_unique<FileTarget>(tenant.delivery.path, file_lane_);
      } else {
        target = std::make_unique<SmtpTarget>(tenant.delivery, config.smtp_client, config.node.hostname, loops_,
                                              client_tls_);
      }
      it = targets_.emplace(key, std::move(target)).first;
    }
    by_tenant[tenant.id] = it->second.get();
  }
  by_tenant_.swap(by_tenant);
}

Target* Registry::forTenant(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_tenant_.find(tenant);
  return it == by_tenant_.end() ? nullptr : it->second;
}

void Registry::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, target] : targets_) {
    target->shutdown();
  }
}

}  // namespace mxgate::delivery
