// The `smtp` delivery target: relays to a fixed next hop (host:port from the tenant policy).
// Each worker loop keeps its own pool of client connections to the hop, at most
// ceil(max_connections / loops) of them, reused across messages (RFC 5321 §4.1.4 with
// PIPELINING, RFC 2920, when the peer offers it) and closed after an idle timeout.
// STARTTLS (RFC 3207) is used when offered (policy "opportunistic") or demanded ("required").
//
// deliver() is thread-safe: it posts the job to one loop's pool (round robin).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/loop.h"
#include "mxgate/tls/tls.h"

namespace mxgate::delivery {

class ClientPool;

class SmtpTarget : public Target {
 public:
  SmtpTarget(const config::DeliveryTarget& target, const config::SmtpClientSettings& settings,
             std::string helo_name, std::vector<io::Loop*> loops, std::shared_ptr<tls::Context> client_tls);
  ~SmtpTarget() override;

  void deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) override;
  void shutdown() override;
  std::string describe() const override;

 private:
  config::DeliveryTarget target_;
  std::vector<io::Loop*> loops_;
  std::vector<std::unique_ptr<ClientPool>> pools_;  // pools_[i] lives on loops_[i]
  std::atomic<size_t> next_{0};
};

}  // namespace mxgate::delivery
