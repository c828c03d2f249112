// MTA-STS policy discovery, fetching and caching for MX delivery (RFC 8461 §3, §5; see
// include/mxgate/delivery/mta_sts_policies.h). Everything but the public entry points runs on
// the policies' loop; resolver callbacks are posted back to it.
#include "mxgate/delivery/mta_sts_policies.h"

#include <charconv>
#include <random>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"

namespace mxgate::delivery {
namespace {

int64_t nowSeconds() { return static_cast<int64_t>(nowMicros() / 1000000); }

// A random time in the last quarter of a policy's life (spreads refreshes of many domains).
int64_t refreshTime(int64_t fetched_at, uint32_t max_age) {
  static thread_local std::minstd_rand random{std::random_device{}()};
  const uint32_t quarter = max_age / 4;
  const uint32_t early = quarter == 0 ? 0 : static_cast<uint32_t>(random() % quarter);
  return fetched_at + max_age - quarter + early;
}

// The spool record of a policy (queue/README.md, "MTA-STS policy record").
std::string encodeRecord(const StsPolicy& policy) {
  return policy.id + "\n" + std::to_string(policy.fetched_at) + "\n" + std::to_string(policy.refresh_at) + "\n" +
         policy.body;
}

std::optional<StsPolicy> decodeRecord(const std::string& domain, std::string_view record) {
  StsPolicy policy;
  policy.domain = domain;
  int64_t* times[] = {&policy.fetched_at, &policy.refresh_at};
  size_t end = record.find('\n');
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  policy.id = std::string(record.substr(0, end));
  record.remove_prefix(end + 1);
  for (int64_t* time : times) {
    end = record.find('\n');
    if (end == std::string_view::npos ||
        std::from_chars(record.data(), record.data() + end, *time).ptr != record.data() + end) {
      return std::nullopt;
    }
    record.remove_prefix(end + 1);
  }
  std::string error;
  std::optional<mta_sts::Policy> parsed = mta_sts::parsePolicy(record, error);
  if (!parsed) {
    return std::nullopt;
  }
  policy.policy = std::move(*parsed);
  policy.body = std::string(record);
  policy.expires_at = policy.fetched_at + policy.policy.max_age;
  return policy;
}

bool isTextPlain(std::string_view content_type) {
  const std::string_view media = ascii::trim(content_type.substr(0, content_type.find(';')));
  return ascii::equalsIgnoreCase(media, "text/plain");
}

}  // namespace

std::string StsPolicy::dropUnlistedHops(MxRoute& route) const {
  std::string refused;
  std::erase_if(route.hops, [&](const MxHop& hop) {
    if (policy.allowsMx(hop.host)) {
      return false;
    }
    if (refused.find(hop.host) == std::string::npos) {
      refused += (refused.empty() ? "" : ",") + hop.host;
    }
    return true;
  });
  return refused;
}

MtaStsPolicies::MtaStsPolicies(io::Loop& loop, dns::Resolver& resolver, TlsCounters* counters,
                               spool::Store* store)
    : loop_(loop), resolver_(resolver), counters_(counters), store_(store), client_(loop, 4) {
  load();
}

void MtaStsPolicies::load() {
  if (store_ == nullptr) {
    return;
  }
  spool::Batch stale;
  size_t loaded = 0;
  const int64_t now = nowSeconds();
  for (const auto& [domain, record] : store_->mtaStsPolicies()) {
    std::optional<StsPolicy> policy = decodeRecord(domain, record);
    if (!policy || policy->expires_at <= now) {
      stale.deleteMtaSts(domain);
      continue;
    }
    domains_[domain].policy = std::make_shared<const StsPolicy>(std::move(*policy));
    ++loaded;
  }
  if (!stale.empty()) {
    store_->submit(std::move(stale), false, [](const spool::CommitStatus&) {});
  }
  log::info("-", "mta_sts_policies_loaded").kv("policies", static_cast<unsigned long long>(loaded));
}

void MtaStsPolicies::configure(MtaStsSettings settings) {
  loop_.post([this, settings = std::move(settings)]() mutable { settings_ = std::move(settings); });
}

void MtaStsPolicies::lookup(std::string domain, std::function<void(StsPolicyPtr)> done) {
  loop_.post([this, domain = std::move(domain), done = std::move(done)]() mutable {
    if (stopped_) {
      done(nullptr);
      return;
    }
    Domain& entry = domains_[domain];
    entry.waiting.push_back(std::move(done));
    if (entry.waiting.size() > 1) {
      return;  // joins the lookup under way
    }
    resolver_.query("_mta-sts." + domain, dns::RrType::TXT, [this, domain](dns::AnswerPtr answer) {
      loop_.post([this, domain, answer] { afterTxt(domain, *answer); });
    });
  });
}

void MtaStsPolicies::afterTxt(const std::string& domain, const dns::Answer& answer) {
  Domain& entry = domains_[domain];
  const StsPolicyPtr cached = current(entry);
  std::string error;
  const std::optional<std::string> id =
      answer.status == dns::Status::Ok ? mta_sts::parseTxtRecords(answer.texts, error) : std::nullopt;
  // §5.1: without a valid record (none, a failed lookup) a cached policy still applies.
  const int64_t now = nowSeconds();
  if (!id || (cached && cached->id == *id && now < cached->refresh_at) || now < entry.fetch_after || stopped_) {
    finish(domain, cached);
    return;
  }
  fetch(domain, *id, dns::RrType::A);
}

void MtaStsPolicies::fetch(const std::string& domain, const std::string& id, dns::RrType type) {
  const std::string host = "mta-sts." + domain;
  resolver_.query(host, type, [this, domain, id, host, type](dns::AnswerPtr answer) {
    loop_.post([this, domain, id, host, type, answer] {
      if (answer->status != dns::Status::Ok || answer->addresses.empty()) {
        if (type == dns::RrType::A && !answer->temporary()) {
          fetch(domain, id, dns::RrType::AAAA);
        } else {
          fetchFailed(domain, TlsFailure::StsPolicyFetchError, "no address for " + host);
        }
        return;
      }
      const std::string port = std::to_string(settings_.port);
      const std::string& address = answer->addresses.front();
      webhook::Request request;
      request.url = "https://" + host + (settings_.port == 443 ? "" : ":" + port) + "/.well-known/mta-sts.txt";
      request.resolve = {host + ":" + port + ":" + (type == dns::RrType::AAAA ? "[" + address + "]" : address)};
      request.https_only = true;
      request.ca_file = settings_.ca_file;
      request.max_body = mta_sts::kMaxPolicyBytes;
      request.timeout = kFetchTimeout;
      request.allow_private = settings_.port != 443;
      client_.get(std::move(request),
                  [this, domain, id](webhook::Response response) { afterFetch(domain, id, response); });
    });
  });
}

void MtaStsPolicies::afterFetch(const std::string& domain, const std::string& id, const webhook::Response& response) {
  if (!response.error.empty()) {
    fetchFailed(domain, response.peer_unverified ? TlsFailure::StsWebpkiInvalid : TlsFailure::StsPolicyFetchError,
                response.error);
    return;
  }
  if (response.status != 200) {
    fetchFailed(domain, TlsFailure::StsPolicyFetchError, "HTTP status " + std::to_string(response.status));
    return;
  }
  if (!isTextPlain(response.content_type)) {
    fetchFailed(domain, TlsFailure::StsPolicyFetchError, "content type \"" + response.content_type + "\"");
    return;
  }
  std::string error;
  const std::optional<mta_sts::Policy> policy = mta_sts::parsePolicy(response.body, error);
  if (!policy) {
    fetchFailed(domain, TlsFailure::StsPolicyInvalid, error);
    return;
  }
  auto fetched = std::make_shared<StsPolicy>();
  fetched->domain = domain;
  fetched->id = id;
  fetched->policy = *policy;
  fetched->body = response.body;
  fetched->fetched_at = nowSeconds();
  fetched->expires_at = fetched->fetched_at + policy->max_age;
  fetched->refresh_at = refreshTime(fetched->fetched_at, policy->max_age);
  log::info("-", "mta_sts_policy_fetched")
      .kv("domain", domain)
      .kv("id", id)
      .kv("mode", mta_sts::name(policy->mode))
      .kv("max_age", static_cast<unsigned long long>(policy->max_age))
      .kv("remote", response.remote);
  domains_[domain].policy = fetched;
  if (store_ != nullptr) {
    spool::Batch batch;
    batch.putMtaSts(domain, encodeRecord(*fetched));
    store_->submit(std::move(batch), false, [](const spool::CommitStatus&) {});
  }
  finish(domain, std::move(fetched));
}

void MtaStsPolicies::fetchFailed(const std::string& domain, TlsFailure failure, const std::string& error) {
  if (counters_ != nullptr) {
    counters_->failures[static_cast<size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  }
  Domain& entry = domains_[domain];
  entry.fetch_after = nowSeconds() + kFailureBackoffSeconds;
  const StsPolicyPtr cached = current(entry);
  log::warn("-", "mta_sts_fetch_failed")
      .kv("domain", domain)
      .kv("result_type", name(failure))
      .kv("error", error)
      .kv("cached_policy", cached ? cached->id : "none");
  finish(domain, cached);
}

StsPolicyPtr MtaStsPolicies::current(const Domain& entry) const {
  return entry.policy && entry.policy->expires_at > nowSeconds() ? entry.policy : nullptr;
}

void MtaStsPolicies::finish(const std::string& domain, StsPolicyPtr policy) {
  const auto found = domains_.find(domain);
  std::vector<std::function<void(StsPolicyPtr)>> waiting;
  waiting.swap(found->second.waiting);
  if (!current(found->second) && found->second.fetch_after <= nowSeconds()) {
    domains_.erase(found);  // nothing worth keeping: the map holds policies and back-offs only
  }
  for (auto& done : waiting) {
    done(policy);
  }
}

void MtaStsPolicies::shutdown() {
  loop_.post([this] {
    stopped_ = true;
    client_.shutdown();
  });
}

}  // namespace mxgate::delivery
