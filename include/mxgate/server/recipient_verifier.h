// Recipient verification for tenants with delivery.recipients = "verify": before RCPT is
// answered, the session asks whether the tenant's next hop accepts the address (a probe, like
// Postfix's reject_unverified_recipient, answered from a cache when it can). The session only
// sees this interface; the implementation lives with the SMTP client (delivery) and is wired
// in by the node. verify() is thread-safe; `done` runs exactly once, on any thread, at the
// latest after the tenant's delivery.verify_wait.
#pragma once

#include <functional>
#include <string>

#include "mxgate/config/config.h"

namespace mxgate::server {

enum class Verification {
  Accepted,    // the next hop accepts the address
  Refused,     // it refused the address (5xx): 550 5.1.1
  Unverified,  // no answer yet, or only a temporary one: 450 4.1.1
};

struct VerificationResult {
  Verification verdict = Verification::Unverified;
  std::string detail;  // the next hop's reply or what went wrong, for the log
};

class RecipientVerifier {
 public:
  virtual ~RecipientVerifier() = default;
  virtual void verify(const config::Tenant& tenant, const std::string& address,
                      std::function<void(VerificationResult)> done) = 0;
};

}  // namespace mxgate::server
