// TLS security levels of mxgate's SMTP client, like Postfix's smtp_tls_security_level: what a
// connection to a next hop does about STARTTLS (RFC 3207) and the server's certificate
// (none, may = opportunistic per RFC 7435, encrypt, verify = chain and name per RFC 6125).
// ClientTlsContexts builds the OpenSSL client contexts a configuration needs, one per distinct
// verification setting: one that accepts any certificate (may, encrypt) and one verifying
// context per CA file ("" = the system store). Built on the configuration thread (start,
// reload, `mxgate check`); the policies it hands out are then read on loop threads.
// MxTlsPolicies answers, for MX delivery, which level a tenant's mail to a recipient domain
// gets: the stronger of the tenant's outbound.tls and the domain's mx.destinations_file entry.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "mxgate/config/config.h"
#include "mxgate/tls/tls.h"

namespace mxgate::delivery {

// Why TLS with a mail exchanger failed, in RFC 8460 §4.3 result types (the names TLS-RPT
// reports use): not offered or refused, a certificate naming another host, expired, not
// chained to a trusted anchor, or any other handshake failure.
enum class TlsFailure : size_t {
  StartTlsNotSupported,
  CertificateHostMismatch,
  CertificateExpired,
  CertificateNotTrusted,
  ValidationFailure,
  Count
};
std::string_view name(TlsFailure failure);  // "starttls-not-supported", ...
// The result type of a failed certificate verification (OpenSSL's X509_V_* code).
TlsFailure tlsFailureOfVerifyCode(long code);

// TLS outcomes of MX delivery, for the metrics: sessions set up (verified or not) and
// failures by type. Shared by every mx target's connections; any thread.
struct TlsCounters {
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> unverified{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(TlsFailure::Count)> failures{};
};

// What one SMTP client connection does about TLS.
struct ClientTlsPolicy {
  config::ClientTls level = config::ClientTls::None;
  std::shared_ptr<tls::Context> context;  // null for level None
  std::string peer_name;  // sent as SNI; with Verify, the name the certificate must carry
  TlsCounters* counters = nullptr;  // where outcomes are counted (mx delivery), or nullptr

  // STARTTLS is sent when the peer offers it.
  bool usesStartTls() const { return level != config::ClientTls::None && context != nullptr; }
  // Encrypt and Verify: nothing is sent to a peer without TLS.
  bool requiresTls() const { return level == config::ClientTls::Encrypt || level == config::ClientTls::Verify; }
  // May: a failed handshake is retried once on a new plaintext connection (as Postfix does).
  bool plaintextFallback() const { return level == config::ClientTls::May; }
  // Names the level in logs and errors: "none", "may", "encrypt", "verify".
  const char* levelName() const;
};

class ClientTlsContexts {
 public:
  static constexpr int kMinVersion = 12;  // TLS 1.2

  // Builds the contexts every smtp tenant of config needs. False with error ("<policy file>:
  // delivery.tls_ca_file: ...") when a CA file does not load.
  bool build(const config::Config& config, std::string& error);
  // The policy for a next hop of the configuration given to build(). A verify level whose
  // CA file was not built gets no context, so its connections fail instead of going unverified.
  ClientTlsPolicy policyFor(const config::DeliveryTarget& target) const;
  // The same for a level and CA file (MX delivery); peer_name is left empty.
  ClientTlsPolicy policyFor(config::ClientTls level, const std::string& ca_file) const;

 private:
  bool addVerifying(const std::string& ca_file, const std::string& where, std::string& error);

  std::shared_ptr<tls::Context> unverified_;
  std::map<std::string, std::shared_ptr<tls::Context>> verifying_;  // by CA file
};

// The TLS policies of MX delivery under one configuration: immutable once built, shared by
// the mx targets' loops and replaced whole by a reload.
class MxTlsPolicies {
 public:
  // counters: where every connection of these policies counts its TLS outcomes (may be null).
  MxTlsPolicies(const config::Config& config, const ClientTlsContexts& contexts, TlsCounters* counters);
  MxTlsPolicies(const MxTlsPolicies&) = delete;  // by_destination_ points into destinations_
  MxTlsPolicies& operator=(const MxTlsPolicies&) = delete;

  // What the mail of tenant ("" or an unknown id: the level "may") to domain's exchangers
  // requires; peer_name is left for the exchanger's name. Called on loop threads.
  ClientTlsPolicy forDestination(const std::string& tenant, std::string_view domain) const;

 private:
  std::map<std::string, ClientTlsPolicy, std::less<>> by_tenant_;
  config::DestinationPolicies destinations_;
  std::map<const config::DestinationPolicy*, ClientTlsPolicy> by_destination_;
  ClientTlsPolicy opportunistic_;
};

}  // namespace mxgate::delivery
