// TLS security levels of the SMTP client and the contexts they need (see
// include/mxgate/delivery/client_tls.h). RFC 3207, RFC 7435, RFC 6125, RFC 7672 (DANE for SMTP).
// build() runs on the configuration thread; policies are read on loop threads.
#include "mxgate/delivery/client_tls.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace mxgate::delivery {

std::string_view name(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::StartTlsNotSupported: return "starttls-not-supported";
    case TlsFailure::CertificateHostMismatch: return "certificate-host-mismatch";
    case TlsFailure::CertificateExpired: return "certificate-expired";
    case TlsFailure::CertificateNotTrusted: return "certificate-not-trusted";
    case TlsFailure::TlsaInvalid: return "tlsa-invalid";
    case TlsFailure::DnssecInvalid: return "dnssec-invalid";
    case TlsFailure::ValidationFailure: return "validation-failure";
    case TlsFailure::StsPolicyFetchError: return "sts-policy-fetch-error";
    case TlsFailure::StsPolicyInvalid: return "sts-policy-invalid";
    case TlsFailure::StsWebpkiInvalid: return "sts-webpki-invalid";
    case TlsFailure::Count: break;
  }
  return "?";
}

TlsFailure tlsFailureOfVerifyCode(long code) {
  switch (code) {
    case X509_V_ERR_HOSTNAME_MISMATCH: return TlsFailure::CertificateHostMismatch;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return TlsFailure::CertificateExpired;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED: return TlsFailure::CertificateNotTrusted;
    case X509_V_ERR_DANE_NO_MATCH: return TlsFailure::TlsaInvalid;
    default: return TlsFailure::ValidationFailure;
  }
}

const char* ClientTlsPolicy::levelName() const {
  if (dane != nullptr) {
    return "dane";
  }
  switch (level) {
    case config::ClientTls::None: return "none";
    case config::ClientTls::May: return "may";
    case config::ClientTls::Encrypt: return "encrypt";
    case config::ClientTls::Verify: return "verify";
    case config::ClientTls::Dane: return "dane";
  }
  return "?";
}

bool ClientTlsPolicy::applyTlsa(const dns::Answer& answer, const std::string& next_hop_domain) {
  if (answer.temporary()) {
    return false;
  }
  if (answer.status != dns::Status::Ok || !answer.authenticated) {
    return true;  // no TLSA records, or not secure ones: no DANE (RFC 7672 §2.2)
  }
  auto authentication = std::make_shared<tls::DaneAuthentication>();
  for (const dns::Tlsa& record : answer.tlsa) {
    // Usable: DANE-TA(2) or DANE-EE(3), selector Cert(0) or SPKI(1), matching Full(0),
    // SHA2-256(1) or SHA2-512(2) (RFC 6698 §7.2-7.4, RFC 7672 §3.1).
    if (record.usage >= 2 && record.usage <= 3 && record.selector <= 1 && record.matching_type <= 2) {
      authentication->records.push_back(
          tls::TlsaRecord{record.usage, record.selector, record.matching_type, record.data});
    }
  }
  if (authentication->records.empty()) {
    level = std::max(level, config::ClientTls::Encrypt);  // TLSA published, none usable: TLS, no auth
    return true;
  }
  authentication->names = {peer_name};
  if (!next_hop_domain.empty() && next_hop_domain != peer_name) {
    authentication->names.push_back(next_hop_domain);
  }
  dane = std::move(authentication);
  context = dane_context;
  return true;
}

bool ClientTlsContexts::build(const config::Config& config, std::string& error) {
  unverified_ = tls::Context::client(kMinVersion, error);
  dane_ = unverified_ ? tls::Context::daneClient(kMinVersion, error) : nullptr;
  if (!unverified_ || !dane_) {
    return false;
  }
  verifying_.clear();
  const auto add = [this, &error](const config::DeliveryTarget& target, const std::string& where) {
    return target.kind != config::DeliveryKind::Smtp || target.tls != config::ClientTls::Verify ||
           addVerifying(target.tls_ca_file, where, error);
  };
  for (const config::Tenant& tenant : config.tenants) {
    if (!add(tenant.delivery, tenant.source_file + ": delivery.tls_ca_file")) {
      return false;
    }
    if (tenant.outbound.tls == config::ClientTls::Verify &&
        !addVerifying(tenant.outbound.tls_ca_file, tenant.source_file + ": outbound.tls_ca_file", error)) {
      return false;
    }
  }
  for (const config::DestinationPolicy& entry : config.destinations.entries) {
    if (entry.tls == config::ClientTls::Verify &&
        !addVerifying(entry.tls_ca_file, config.destinations.source + ":" + std::to_string(entry.line) +
                                             ": destination.tls_ca_file", error)) {
      return false;
    }
  }
  sts_testing_.reset();
  if (config.mx.mta_sts) {
    const std::string where = config.source_file + ": mx.mta_sts_ca_file";
    if (!addVerifying(config.mx.mta_sts_ca_file, where, error)) {
      return false;
    }
    sts_testing_ = tls::Context::verifyingClient(kMinVersion, config.mx.mta_sts_ca_file, error);
    if (!sts_testing_) {
      error = where + ": " + error;
      return false;
    }
    // The chain and name are still checked (and reported); the handshake goes on either way.
    SSL_CTX_set_verify(sts_testing_->raw(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  }
  return config.bounces.host.empty() || add(config.bounces, config.source_file + ": bounces.tls");
}

bool ClientTlsContexts::addVerifying(const std::string& ca_file, const std::string& where, std::string& error) {
  if (verifying_.contains(ca_file)) {
    return true;
  }
  auto context = tls::Context::verifyingClient(kMinVersion, ca_file, error);
  if (!context) {
    error = where + ": " + error;
    return false;
  }
  verifying_.emplace(ca_file, std::move(context));
  return true;
}

ClientTlsPolicy ClientTlsContexts::policyFor(const config::DeliveryTarget& target) const {
  ClientTlsPolicy policy = policyFor(target.tls, target.tls_ca_file);
  policy.peer_name = target.tls_verify_name.empty() ? target.host : target.tls_verify_name;
  return policy;
}

ClientTlsPolicy ClientTlsContexts::policyFor(config::ClientTls level, const std::string& ca_file) const {
  ClientTlsPolicy policy;
  policy.level = level;
  if (level == config::ClientTls::Dane) {
    policy.level = config::ClientTls::May;
    policy.dane_wanted = true;
    policy.dane_context = dane_;
  }
  if (policy.level == config::ClientTls::Verify) {
    const auto it = verifying_.find(ca_file);
    policy.context = it == verifying_.end() ? nullptr : it->second;
  } else if (policy.level != config::ClientTls::None) {
    policy.context = unverified_;
  }
  return policy;
}

MxTlsPolicies::MxTlsPolicies(const config::Config& config, const ClientTlsContexts& contexts, TlsCounters* counters,
                             MtaStsPolicies* mta_sts)
    : destinations_(config.destinations),
      opportunistic_(contexts.policyFor(config::ClientTls::May, "")),
      mta_sts_(config.mx.mta_sts ? mta_sts : nullptr),
      sts_context_(contexts.policyFor(config::ClientTls::Verify, config.mx.mta_sts_ca_file).context),
      sts_testing_context_(contexts.stsTestingContext()) {
  const auto counted = [counters](ClientTlsPolicy policy) {
    policy.counters = counters;
    return policy;
  };
  opportunistic_ = counted(opportunistic_);
  for (const config::Tenant& tenant : config.tenants) {
    by_tenant_.emplace(tenant.id, counted(contexts.policyFor(tenant.outbound.tls, tenant.outbound.tls_ca_file)));
  }
  for (const config::DestinationPolicy& entry : destinations_.entries) {
    by_destination_.emplace(&entry, counted(contexts.policyFor(entry.tls, entry.tls_ca_file)));
  }
}

ClientTlsPolicy MxTlsPolicies::forDestination(const std::string& tenant, std::string_view domain) const {
  const auto found = by_tenant_.find(tenant);
  const ClientTlsPolicy& own = found == by_tenant_.end() ? opportunistic_ : found->second;
  const config::DestinationPolicy* entry = destinations_.find(domain);
  if (entry == nullptr) {
    return own;
  }
  const ClientTlsPolicy& required = by_destination_.at(entry);
  // The stronger level wins; at equal Verify levels the destination's CA file is the one its
  // operator knows its exchangers chain to. DANE applies when either asks for it.
  ClientTlsPolicy chosen = own.level > required.level ? own : required;
  if (!chosen.dane_wanted && (own.dane_wanted || required.dane_wanted)) {
    chosen.dane_wanted = true;
    chosen.dane_context = own.dane_wanted ? own.dane_context : required.dane_context;
  }
  return chosen;
}

ClientTlsPolicy MxTlsPolicies::stsEnforced(ClientTlsPolicy policy) const {
  policy.level = config::ClientTls::Verify;
  policy.context = sts_context_;
  return policy;
}

ClientTlsPolicy MxTlsPolicies::stsTesting(ClientTlsPolicy policy) const {
  if (policy.level == config::ClientTls::May || policy.level == config::ClientTls::Encrypt) {
    policy.context = sts_testing_context_;
    policy.sts_testing = sts_testing_context_ != nullptr;
  }
  return policy;
}

}  // namespace mxgate::delivery
