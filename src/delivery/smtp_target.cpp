// The smtp delivery target: one ClientPool per worker loop (see
// include/mxgate/delivery/smtp_target.h). deliver() runs on any thread.
#include "mxgate/delivery/smtp_target.h"

#include "smtp_client.h"

namespace mxgate::delivery {

SmtpTarget::SmtpTarget(const config::DeliveryTarget& target, const config::SmtpClientSettings& settings,
                       std::string helo_name, std::vector<io::Loop*> loops, const ClientTlsPolicy& tls)
    : target_(target), loops_(std::move(loops)) {
  const auto per_loop = static_cast<uint32_t>((target.max_connections + loops_.size() - 1) / loops_.size());
  for (io::Loop* loop : loops_) {
    pools_.push_back(std::make_unique<ClientPool>(*loop, target, settings, helo_name, tls, per_loop));
  }
}

SmtpTarget::~SmtpTarget() = default;

void SmtpTarget::deliver(std::shared_ptr<const Job> job, std::function<void(Result)> done) {
  size_t index = next_.fetch_add(1, std::memory_order_relaxed) % pools_.size();
  ClientPool* pool = pools_[index].get();
  pool->loop().post([pool, job = std::move(job), done = std::move(done)]() mutable {
    pool->submit(PendingDelivery{std::move(job), std::move(done)});
  });
}

void SmtpTarget::shutdown() {
  for (auto& pool : pools_) {
    ClientPool* raw = pool.get();
    raw->loop().post([raw] { raw->shutdown(); });
  }
}

void SmtpTarget::setTls(const ClientTlsPolicy& tls) {
  for (auto& pool : pools_) {
    ClientPool* raw = pool.get();
    raw->loop().post([raw, tls] { raw->setTls(tls); });
  }
}

std::string SmtpTarget::describe() const {
  return "smtp:" + target_.host + ":" + std::to_string(target_.port);
}

}  // namespace mxgate::delivery
