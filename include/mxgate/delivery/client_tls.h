// TLS security levels of mxgate's SMTP client, like Postfix's smtp_tls_security_level: what a
// connection to a next hop does about STARTTLS (RFC 3207) and the server's certificate
// (none, may = opportunistic per RFC 7435, encrypt, verify = chain and name per RFC 6125).
// ClientTlsContexts builds the OpenSSL client contexts a configuration needs, one per distinct
// verification setting: one that accepts any certificate (may, encrypt) and one verifying
// context per CA file ("" = the system store). Built on the configuration thread (start,
// reload, `mxgate check`); the policies it hands out are then read on loop threads.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "mxgate/config/config.h"
#include "mxgate/tls/tls.h"

namespace mxgate::delivery {

// What one SMTP client connection does about TLS.
struct ClientTlsPolicy {
  config::ClientTls level = config::ClientTls::None;
  std::shared_ptr<tls::Context> context;  // null for level None
  std::string peer_name;  // sent as SNI; with Verify, the name the certificate must carry

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

 private:
  std::shared_ptr<tls::Context> unverified_;
  std::map<std::string, std::shared_ptr<tls::Context>> verifying_;  // by CA file
};

}  // namespace mxgate::delivery
