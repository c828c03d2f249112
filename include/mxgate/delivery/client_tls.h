// TLS security levels of mxgate's SMTP client, like Postfix's smtp_tls_security_level: what a
// connection to a next hop does about STARTTLS (RFC 3207) and the server's certificate
// (none, may = opportunistic per RFC 7435, encrypt, verify = chain and name per RFC 6125,
// dane = RFC 7672 for MX delivery: exchangers whose DNSSEC-validated TLSA records are usable
// are authenticated by them, the others get the level that applies without DANE).
// ClientTlsContexts builds the OpenSSL client contexts a configuration needs, one per distinct
// verification setting: one that accepts any certificate (may, encrypt), one verifying context
// per CA file ("" = the system store) and one for DANE. Built on the configuration thread (start,
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
#include "mxgate/dns/resolver.h"
#include "mxgate/tls/tls.h"

namespace mxgate::delivery {

// Why TLS with a mail exchanger failed, in RFC 8460 §4.3 result types (the names TLS-RPT
// reports use): not offered or refused, a certificate naming another host, expired, not
// chained to a trusted anchor, no TLSA record matching (DANE), a TLSA lookup that failed or
// did not validate, any other handshake failure (also: an exchanger an MTA-STS testing policy
// does not name; under such a policy the failures enforce would have caused are counted too),
// and for MTA-STS (RFC 8461) policy fetches: one that failed, a policy that did not parse, a
// policy host whose certificate did not pass PKIX verification.
enum class TlsFailure : size_t {
  StartTlsNotSupported,
  CertificateHostMismatch,
  CertificateExpired,
  CertificateNotTrusted,
  TlsaInvalid,
  DnssecInvalid,
  ValidationFailure,
  StsPolicyFetchError,
  StsPolicyInvalid,
  StsWebpkiInvalid,
  Count
};
std::string_view name(TlsFailure failure);  // "starttls-not-supported", ...
// The result type of a failed certificate verification (OpenSSL's X509_V_* code).
TlsFailure tlsFailureOfVerifyCode(long code);

// TLS outcomes of MX delivery, for the metrics: sessions set up (verified or not) and
// failures by type. Shared by every mx target's connections; any thread.
struct TlsCounters {
  std::atomic<uint64_t> resumed{0};  // of the sessions below, those that resumed a saved one
  std::atomic<uint64_t> dane{0};
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> unverified{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(TlsFailure::Count)> failures{};
};

// What one SMTP client connection does about TLS.
struct ClientTlsPolicy {
  // None, May, Encrypt or Verify: what applies when DANE does not (never Dane itself).
  config::ClientTls level = config::ClientTls::None;
  std::shared_ptr<tls::Context> context;  // null for level None
  std::string peer_name;  // sent as SNI; with Verify, the name the certificate must carry
  TlsCounters* counters = nullptr;  // where outcomes are counted (mx delivery), or nullptr
  // Level dane was asked for: the TLSA records of exchangers reached through DNSSEC-validated
  // answers are looked up (MxTarget), and dane_context is what usable ones are checked with.
  bool dane_wanted = false;
  std::shared_ptr<tls::Context> dane_context;
  // Usable TLSA records of this exchanger: TLS is required and the server is authenticated by
  // them (context is then dane_context).
  std::shared_ptr<const tls::DaneAuthentication> dane;
  // Under an MTA-STS testing policy (RFC 8461 §5): context checks the certificate without
  // failing the handshake, and what an enforce policy would have refused is counted.
  bool sts_testing = false;

  // STARTTLS is sent when the peer offers it.
  bool usesStartTls() const { return level != config::ClientTls::None && context != nullptr; }
  // Encrypt, Verify and DANE: nothing is sent to a peer without TLS.
  bool requiresTls() const {
    return dane != nullptr || level == config::ClientTls::Encrypt || level == config::ClientTls::Verify;
  }
  // May: a failed handshake is retried once on a new plaintext connection (as Postfix does).
  bool plaintextFallback() const { return dane == nullptr && level == config::ClientTls::May; }
  // Names the level in logs and errors: "none", "may", "encrypt", "verify", "dane".
  const char* levelName() const;
  // Counts a failure of a connection under this policy (when it has counters).
  void countFailure(TlsFailure failure) const {
    if (counters != nullptr) {
      counters->failures[static_cast<size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
    }
  }
  // How a session under this policy authenticated its peer: "dane" (by the TLSA records: the
  // DANE context trusts nothing else), "pkix", or "none" when it did not verify.
  std::string_view verifiedBy(bool verified) const { return !verified ? "none" : dane ? "dane" : "pkix"; }
  // Applies the TLSA answer of this exchanger's _25._tcp name (RFC 7672 §2.2): validated usable
  // records authenticate it; validated records none of which is usable still require TLS
  // (encrypt); no records, or an answer that was not validated, change nothing. False when the
  // answer is a failure (SERVFAIL, bogus, timeout), which must defer, never mean "no TLSA".
  bool applyTlsa(const dns::Answer& answer, const std::string& next_hop_domain);
};

class MtaStsPolicies;

class ClientTlsContexts {
 public:
  static constexpr int kMinVersion = 12;  // TLS 1.2

  // Builds the contexts every smtp tenant of config needs. False with error ("<policy file>:
  // delivery.tls_ca_file: ...") when a CA file does not load.
  bool build(const config::Config& config, std::string& error);
  // The policy for a next hop of the configuration given to build(). A verify level whose
  // CA file was not built gets no context, so its connections fail instead of going unverified.
  ClientTlsPolicy policyFor(const config::DeliveryTarget& target) const;
  // The same for a level and CA file (MX delivery); peer_name is left empty. Dane gives level
  // May with dane_wanted.
  ClientTlsPolicy policyFor(config::ClientTls level, const std::string& ca_file) const;
  // With mx.mta_sts: a context verifying against mx.mta_sts_ca_file that reports a failed
  // verification (Session::verified, verifyCode) instead of failing the handshake.
  const std::shared_ptr<tls::Context>& stsTestingContext() const { return sts_testing_; }

 private:
  bool addVerifying(const std::string& ca_file, const std::string& where, std::string& error);

  std::shared_ptr<tls::Context> unverified_;
  std::shared_ptr<tls::Context> dane_;
  std::shared_ptr<tls::Context> sts_testing_;
  std::map<std::string, std::shared_ptr<tls::Context>> verifying_;  // by CA file
};

// The TLS policies of MX delivery under one configuration: immutable once built, shared by
// the mx targets' loops and replaced whole by a reload.
class MxTlsPolicies {
 public:
  // counters: where every connection of these policies counts its TLS outcomes (may be null);
  // mta_sts: the MTA-STS policies of recipient domains, applied when config.mx.mta_sts is set.
  MxTlsPolicies(const config::Config& config, const ClientTlsContexts& contexts, TlsCounters* counters,
                MtaStsPolicies* mta_sts = nullptr);
  MxTlsPolicies(const MxTlsPolicies&) = delete;  // by_destination_ points into destinations_
  MxTlsPolicies& operator=(const MxTlsPolicies&) = delete;

  // What the mail of tenant ("" or an unknown id: the level "may") to domain's exchangers
  // requires: the stronger level of the two, and DANE when either asks for it; peer_name is
  // left for the exchanger's name. Called on loop threads.
  ClientTlsPolicy forDestination(const std::string& tenant, std::string_view domain) const;
  // The MTA-STS policies to apply, or nullptr when MX delivery does not use MTA-STS.
  MtaStsPolicies* mtaSts() const { return mta_sts_; }
  // policy raised for an exchanger under an MTA-STS enforce policy (RFC 8461 §4.2): STARTTLS
  // and a certificate valid for its name, chained to mx.mta_sts_ca_file. DANE still wins.
  ClientTlsPolicy stsEnforced(ClientTlsPolicy policy) const;
  // policy for an exchanger under an MTA-STS testing policy: may and encrypt get the reporting
  // context and sts_testing (delivery goes on as the level says); none and verify stay as they are.
  ClientTlsPolicy stsTesting(ClientTlsPolicy policy) const;

 private:
  std::map<std::string, ClientTlsPolicy, std::less<>> by_tenant_;
  config::DestinationPolicies destinations_;
  std::map<const config::DestinationPolicy*, ClientTlsPolicy> by_destination_;
  ClientTlsPolicy opportunistic_;
  MtaStsPolicies* mta_sts_ = nullptr;
  std::shared_ptr<tls::Context> sts_context_;
  std::shared_ptr<tls::Context> sts_testing_context_;
};

}  // namespace mxgate::delivery
