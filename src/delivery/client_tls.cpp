// TLS security levels of the SMTP client and the contexts they need (see
// include/mxgate/delivery/client_tls.h). RFC 3207, RFC 7435, RFC 6125.
// build() runs on the configuration thread; policies are read on loop threads.
#include "mxgate/delivery/client_tls.h"

namespace mxgate::delivery {

const char* ClientTlsPolicy::levelName() const {
  switch (level) {
    case config::ClientTls::None: return "none";
    case config::ClientTls::May: return "may";
    case config::ClientTls::Encrypt: return "encrypt";
    case config::ClientTls::Verify: return "verify";
  }
  return "?";
}

bool ClientTlsContexts::build(const config::Config& config, std::string& error) {
  unverified_ = tls::Context::client(kMinVersion, error);
  if (!unverified_) {
    return false;
  }
  verifying_.clear();
  const auto add = [this, &error](const config::DeliveryTarget& target, const std::string& where) {
    if (target.kind != config::DeliveryKind::Smtp || target.tls != config::ClientTls::Verify ||
        verifying_.contains(target.tls_ca_file)) {
      return true;
    }
    auto context = tls::Context::verifyingClient(kMinVersion, target.tls_ca_file, error);
    if (!context) {
      error = where + ": " + error;
      return false;
    }
    verifying_.emplace(target.tls_ca_file, std::move(context));
    return true;
  };
  for (const config::Tenant& tenant : config.tenants) {
    if (!add(tenant.delivery, tenant.source_file + ": delivery.tls_ca_file")) {
      return false;
    }
  }
  return config.bounces.host.empty() || add(config.bounces, config.source_file + ": bounces.tls");
}

ClientTlsPolicy ClientTlsContexts::policyFor(const config::DeliveryTarget& target) const {
  ClientTlsPolicy policy;
  policy.level = target.tls;
  policy.peer_name = target.tls_verify_name.empty() ? target.host : target.tls_verify_name;
  if (target.tls == config::ClientTls::Verify) {
    const auto it = verifying_.find(target.tls_ca_file);
    policy.context = it == verifying_.end() ? nullptr : it->second;
  } else if (target.tls != config::ClientTls::None) {
    policy.context = unverified_;
  }
  return policy;
}

}  // namespace mxgate::delivery
