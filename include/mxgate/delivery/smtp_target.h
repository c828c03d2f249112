// The `smtp` delivery target: relays to a fixed next hop (host:port from the tenant policy).
// Each worker loop keeps its own pool of client connections to the hop, at most
// ceil(max_connections / loops) of them, reused across messages (RFC 5321 §4.1.4 with
// PIPELINING, RFC 2920, when the peer offers it) and closed after an idle timeout.
// STARTTLS (RFC 3207) and the certificate check follow the tenant's TLS security level
// (delivery.tls: none, may, encrypt, verify; see client_tls.h).
//
// deliver() and setTls() are thread-safe: they post to the loops' pools (deliver round robin).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/loop.h"

namespace mxgate::delivery {

class ClientPool;

class SmtpTarget : public Target {
 public:
  SmtpTarget(const config::DeliveryTarget& target, const config::SmtpClientSettings& settings,
             std::string helo_name, std::vector<io::Loop*> loops, const ClientTlsPolicy& tls);
  ~SmtpTarget() override;

  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  uint32_t concurrency() const override { return target_.max_connections; }
  void shutdown() override;
  std::string describe() const override;
  // Connections opened from now on use this policy (a reload rebuilt the TLS contexts).
  void setTls(const ClientTlsPolicy& tls);

 private:
  config::DeliveryTarget target_;
  std::vector<io::Loop*> loops_;
  std::vector<std::unique_ptr<ClientPool>> pools_;  // pools_[i] lives on loops_[i]
  std::atomic<size_t> next_{0};
};

}  // namespace mxgate::delivery
