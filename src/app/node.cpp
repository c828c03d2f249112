// Node wiring, start-up, reload and shutdown (see src/app/node.h). Main thread.
#include "node.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "mxgate/admin/api.h"
#include "mxgate/api/send_api.h"
#include "mxgate/admin/metrics.h"
#include "mxgate/auth/authenticator.h"
#include "mxgate/auth/credentials.h"
#include "mxgate/spool/suppression.h"
#include "mxgate/auth/failure_limiter.h"
#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/base/secret_file.h"
#include "mxgate/admin/link_endpoint.h"
#include "mxgate/admin/local_receiver.h"
#include "mxgate/delivery/next_hop_verifier.h"
#include "mxgate/delivery/registry.h"
#include "mxgate/links/key_file.h"
#include "mxgate/mime/message.h"
#include "mxgate/webhook/disabled_endpoints.h"
#include "mxgate/webhook/event_dispatcher.h"
#include "mxgate/http/server.h"
#include "mxgate/pipeline/services.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/server/runtime.h"
#include "mxgate/server/smtp_server.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/store.h"
#include "mxgate/tls/tls.h"
#include "drain.h"
#include "privileges.h"
#include "service_notify.h"

namespace mxgate::app {
namespace {

constexpr uint64_t kHousekeepingMs = 250;
// The admin listener takes webhooks for the local receiver: bodies up to the largest payload
// a webhook target sends by default (delivery.max_payload, 25 MiB) and then some.
constexpr size_t kAdminMaxBody = 32 * 1024 * 1024;

bool needsServerTls(const config::Config& config) {
  for (const auto& listener : config.listeners) {
    if (listener.tls != config::ListenerTls::None) {
      return true;
    }
  }
  return config.api.tls && !config.api.address.empty();
}

// Builds the server TLS context, generating the self-signed certificate on first run.
std::shared_ptr<tls::Context> serverTls(const config::Config& config, std::string& error) {
  if (!needsServerTls(config)) {
    return nullptr;
  }
  std::string cert = config.tls.cert_file;
  std::string key = config.tls.key_file;
  if (cert.empty()) {
    cert = defaultCertPath(config);
    key = defaultKeyPath(config);
    if (!tls::ensureSelfSigned(cert, key, config.node.hostname, error)) {
      return nullptr;
    }
  }
  return tls::Context::server(cert, key, config.tls.min_version, error);
}

int openLogFile(const config::Config& config) {
  if (config.log.file.empty()) {
    return 2;
  }
  int fd = ::open(config.log.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  return fd >= 0 ? fd : 2;
}

dns::ResolverSettings resolverSettings(const config::DnsSettings& dns) {
  dns::ResolverSettings settings;
  settings.servers = dns.servers;
  settings.timeout = dns.timeout;
  settings.tries = dns.tries;
  settings.cache_entries = dns.cache_entries;
  settings.max_ttl = static_cast<uint32_t>(dns.max_ttl.count());
  settings.negative_ttl = static_cast<uint32_t>(dns.negative_ttl.count());
  return settings;
}

scan::ScanSettings scanSettings(const config::ScanConfig& scan) {
  scan::ScanSettings settings;
  settings.signatures = scan.signatures;
  settings.temp_dir = scan.temp_dir;
  settings.max_scan_size = scan.max_scan_size;
  settings.max_file_size = scan.max_file_size;
  settings.max_recursion = scan.max_recursion;
  settings.max_files = scan.max_files;
  settings.max_scan_time = scan.max_scan_time;
  settings.threads = scan.threads;
  settings.queue_limit = scan.queue_limit;
  return settings;
}

// The verdict counters as metrics; result i is named by name(Result(i)), the DKIM "none" last.
std::vector<admin::VerdictCount> verdictCounts(const pipeline::Counters& counters) {
  std::vector<admin::VerdictCount> out;
  for (size_t i = 0; i < counters.spf.size(); ++i) {
    out.push_back({"spf", std::string(spf::name(static_cast<spf::Result>(i))), counters.spf[i].load()});
  }
  for (size_t i = 0; i < counters.dkim.size(); ++i) {
    const std::string_view result = i + 1 == counters.dkim.size() ? "none" : auth::name(static_cast<auth::DkimResult>(i));
    out.push_back({"dkim", std::string(result), counters.dkim[i].load()});
  }
  for (size_t i = 0; i < counters.dmarc.size(); ++i) {
    out.push_back({"dmarc", std::string(auth::name(static_cast<auth::DmarcResult>(i))), counters.dmarc[i].load()});
  }
  return out;
}

// Descriptors kept beside the listeners' connections: the spool's files, logs, loops, lanes,
// DNS and outgoing delivery connections.
constexpr uint64_t kReservedFileDescriptors = 1024;
// The kernel's default ceiling for RLIMIT_NOFILE (fs.nr_open) when the hard limit is infinite.
constexpr rlim_t kMaxFileDescriptors = 1048576;

// Every connection is a file descriptor and the soft RLIMIT_NOFILE is often 1024: it is raised
// to the hard limit. Returns the soft limit in force.
uint64_t raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  const rlim_t ceiling = limit.rlim_max == RLIM_INFINITY ? kMaxFileDescriptors : limit.rlim_max;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= ceiling) {
    return limit.rlim_cur;
  }
  rlimit raised = limit;
  raised.rlim_cur = ceiling;
  return setrlimit(RLIMIT_NOFILE, &raised) == 0 ? raised.rlim_cur : limit.rlim_cur;
}

// Descriptors the connection limits may need at once.
uint64_t neededFileDescriptors(const config::Config& config) {
  uint64_t needed = kReservedFileDescriptors + config.smtp.max_connections + config.admin.max_connections +
                    (config.api.address.empty() ? 0 : config.api.max_connections);
  if (!config.links.address.empty()) {
    needed += config.links.max_connections;
  }
  return needed;
}

http::ServerLimits adminLimits(const config::AdminSettings& admin) {
  return http::ServerLimits{http::RequestParser::Limits{8192, kAdminMaxBody}, admin.header_timeout, admin.idle_timeout,
                            admin.max_connections};
}

// The click and open endpoint takes no request bodies.
http::ServerLimits apiLimits(const config::ApiSettings& api) {
  return http::ServerLimits{http::RequestParser::Limits{16384, api.max_request_size}, api.header_timeout,
                            api.idle_timeout, api.max_connections};
}

http::ServerLimits linksLimits(const config::LinkSettings& links) {
  return http::ServerLimits{http::RequestParser::Limits{8192, admin::LinkEndpoint::kMaxBodyBytes},
                            links.header_timeout, links.idle_timeout,
                            links.max_connections};
}

admin::HttpListenerSnapshot listenerSnapshot(std::string name, const http::Server& server) {
  const http::ServerCounters& counters = server.counters();
  return admin::HttpListenerSnapshot{std::move(name), counters.open.load(), counters.refused.load(),
                                     counters.header_timeouts.load(), counters.idle_timeouts.load()};
}

// Free disk once what sits in the memtables has been flushed to files.
uint64_t spaceAfterFlush(const spool::Store& store) {
  uint64_t free = store.freeBytes();
  uint64_t unflushed = store.unflushedBytes();
  return free > unflushed ? free - unflushed : 0;
}

// The tenants' sending-limit state a previous run kept in the spool.
std::vector<shaping::TenantLimits::Usage> keptTenantUsage(spool::Store& store) {
  std::vector<shaping::TenantLimits::Usage> kept;
  for (spool::TenantUsageRecord& record : store.readTenantUsage()) {
    kept.push_back({std::move(record.tenant), record.rate_tat_us, record.day_tat_us, false});
  }
  return kept;
}

// Writes what the tenants' sending limits counted since the last call (not synced: a crash
// forgets at most the last housekeeping interval, a stop nothing).
void keepTenantUsage(shaping::TenantLimits& limits, spool::Store& store) {
  const std::vector<shaping::TenantLimits::Usage> changed = limits.changed(nowMicros());
  if (changed.empty()) {
    return;
  }
  spool::Batch batch;
  for (const shaping::TenantLimits::Usage& usage : changed) {
    if (usage.at_rest) {
      batch.deleteTenantUsage(usage.tenant);
    } else {
      batch.putTenantUsage({usage.tenant, usage.rate_tat_us, usage.day_tat_us});
    }
  }
  store.submit(std::move(batch), false, [](const spool::CommitStatus& status) {
    if (!status.ok) {
      log::warn("-", "tenant_usage_not_kept").kv("error", status.error);
    }
  });
}

}  // namespace

std::string linkKeysPath(const config::Config& config) {
  return config.links.keys_file.empty() ? config.spool.path + "/link.keys" : config.links.keys_file;
}

std::string defaultCertPath(const config::Config& config) { return config.spool.path + "/tls/selfsigned.crt"; }
std::string defaultKeyPath(const config::Config& config) { return config.spool.path + "/tls/selfsigned.key"; }

struct Node::Parts {
  std::unique_ptr<spool::Store> store;
  std::unique_ptr<io::Loop> control;
  std::vector<std::unique_ptr<io::Loop>> workers;
  std::vector<io::Loop*> worker_ptrs;
  std::unique_ptr<io::Lane> read_lane;
  std::unique_ptr<io::Lane> file_lane;
  std::unique_ptr<dns::Resolver> resolver;
  std::unique_ptr<spf::ResolverDns> spf_dns;
  std::unique_ptr<io::Lane> auth_lane;
  std::unique_ptr<scan::Scanner> scanner;
  std::unique_ptr<pipeline::Services> inbound;
  std::unique_ptr<io::Lane> payload_lane;
  std::unique_ptr<io::Lane> credential_lane;
  std::unique_ptr<auth::CredentialStore> credentials;
  std::unique_ptr<spool::SuppressionList> suppressions;
  std::unique_ptr<shaping::TenantLimits> tenant_limits;  // outbound message_rate / daily_cap
  std::unique_ptr<auth::FailureLimiter> auth_limiter;  // failed AUTH per client address and user name
  std::unique_ptr<auth::Authenticator> authenticator;
  delivery::WebhookCounters webhook_counters;
  std::unique_ptr<webhook::DisabledEndpoints> disabled_endpoints;
  std::shared_ptr<const links::KeyRing> link_keys;
  std::unique_ptr<delivery::Registry> registry;
  std::unique_ptr<delivery::NextHopVerifier> verifier;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<webhook::EventDispatcher> events;
  std::unique_ptr<spool::Admission> admission;
  std::unique_ptr<server::Runtime> runtime;
  std::unique_ptr<server::SmtpServer> smtp;
  std::unique_ptr<admin::LocalReceiver> receiver;
  std::unique_ptr<admin::Api> api;
  std::unique_ptr<http::Server> admin_http;
  admin::LinkCounters link_counters;
  std::unique_ptr<admin::LinkEndpoint> links;
  std::unique_ptr<io::Loop> links_loop;      // the click and open endpoint's own thread
  std::unique_ptr<http::Server> links_http;  // null when links.address is ""
  // The HTTP send API ([api]): its own loop and lane; null when api.address is "".
  std::unique_ptr<io::Lane> api_lane;
  std::unique_ptr<io::Loop> api_loop;
  std::unique_ptr<api::SendApi> send_api;
  std::unique_ptr<http::Server> api_http;
  std::unique_ptr<Drain> drain;
  uv_timer_t housekeeping{};
  // True from the housekeeping tick that hands an admission refresh to the read lane until
  // that refresh has run: refreshes never overlap (Admission::refresh is not reentrant) and a
  // slow one (the store's lock is held through a reopen) does not pile more onto the lane.
  std::atomic<bool> refresh_pending{false};
  int log_fd = 2;
  // The node settings in effect: a reload changes those it applies, the rest wait for a restart.
  std::mutex settings_mutex;
  std::map<std::string, std::string> running_settings;
};

Node::Node(std::string config_path, std::shared_ptr<const config::Config> config)
    : config_path_(std::move(config_path)), config_(std::move(config)) {}

Node::~Node() = default;

int Node::run() {
  const config::Config& config = *config_;
  auto parts = std::make_unique<Parts>();
  if (std::string user_error; !becomeNodeUser(config_path_, config, user_error)) {
    log::error("-", "privilege_drop_failed").kv("error", user_error);
    return 1;
  }
  ServiceNotifier notifier;
  parts->log_fd = openLogFile(config);
  log::configure(config.log.level, config.log.format, parts->log_fd);
  warnIfRoot(config);
  mail::QueueId::setNode(config.node.id);
  const uint64_t file_limit = raiseFileLimit();
  if (file_limit < neededFileDescriptors(config)) {
    log::warn("-", "file_limit_low")
        .kv("nofile", file_limit)
        .kv("needed", neededFileDescriptors(config))
        .kv("note", "raise the hard RLIMIT_NOFILE (LimitNOFILE=) or lower the connection limits");
  }

  // Signals are taken by the main thread with sigwait; every thread started below inherits
  // the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string error;
  std::shared_ptr<tls::Context> server_tls = serverTls(config, error);
  if (needsServerTls(config) && !server_tls) {
    log::error("-", "tls_setup_failed").kv("error", error);
    return 1;
  }
  delivery::ClientTlsContexts client_tls;
  if (!client_tls.build(config, error)) {
    log::error("-", "tls_client_setup_failed").kv("error", error);
    return 1;
  }

  parts->store = spool::Store::open(config.spool, error);
  if (!parts->store) {
    log::error("-", "spool_open_failed").kv("error", error);
    return 1;
  }
  parts->control = std::make_unique<io::Loop>("control");
  for (uint32_t i = 0; i < config.node.workers; ++i) {
    parts->workers.push_back(std::make_unique<io::Loop>("worker-" + std::to_string(i)));
    parts->worker_ptrs.push_back(parts->workers.back().get());
  }
  parts->read_lane = std::make_unique<io::Lane>("spool-read", config.queue.read_threads, config.queue.lane_queue_limit);
  parts->file_lane =
      std::make_unique<io::Lane>("file-delivery", config.queue.file_threads, config.queue.lane_queue_limit);
  mime::initialize();
  parts->link_keys = links::loadKeyFile(linkKeysPath(config), true, error);
  if (!parts->link_keys) {
    log::error("-", "link_keys_failed").kv("error", error);
    return 1;
  }
  parts->payload_lane =
      std::make_unique<io::Lane>("webhook-payload", config.webhook.threads, config.webhook.queue_limit);
  parts->disabled_endpoints = std::make_unique<webhook::DisabledEndpoints>(*parts->store);
  parts->disabled_endpoints->load(config);
  parts->resolver = dns::Resolver::create(resolverSettings(config.dns), error);
  if (!parts->resolver) {
    log::error("-", "resolver_failed").kv("error", "dns.servers: " + error);
    return 1;
  }
  parts->resolver->start();
  parts->registry = std::make_unique<delivery::Registry>(
      parts->worker_ptrs, *parts->file_lane,
      delivery::WebhookContext{parts->control.get(), parts->payload_lane.get(),
                               delivery::LinkContext{parts->link_keys, config.links.host}, &parts->webhook_counters,
                               parts->disabled_endpoints.get()},
      *parts->resolver, parts->store.get());
  parts->registry->update(config, client_tls);
  if (!startInbound(*parts, error)) {
    log::error("-", "inbound_setup_failed").kv("error", error);
    return 1;
  }
  delivery::Registry* registry = parts->registry.get();
  parts->verifier = std::make_unique<delivery::NextHopVerifier>(
      *parts->control, [registry](const std::string& tenant) { return registry->nextHopFor(tenant); },
      config.smtp_client.verify_cache_entries);
  Parts* raw = parts.get();
  parts->admission = std::make_unique<spool::Admission>(config.spool);
  parts->scheduler = std::make_unique<scheduler::Scheduler>(
      *parts->control, *parts->store, *parts->read_lane, *parts->admission, config.queue,
      [registry](const std::string& tenant, bool outbound) { return registry->forTenant(tenant, outbound); },
      scheduler::InboundHooks{parts->scanner.get(), [raw] { return raw->runtime->current().config; }});
  parts->events = std::make_unique<webhook::EventDispatcher>(*parts->control, *parts->store, *parts->read_lane,
                                                             *parts->disabled_endpoints,
                                                             [raw] { return raw->runtime->current().config; });
  uint64_t recovered = parts->scheduler->recover();
  parts->admission->refresh(spaceAfterFlush(*parts->store), parts->store->writable());
  std::string credential_key;
  if (!base::ensureSecretFile(auth::credentialKeyPath(config), "credential key", credential_key, error)) {
    log::error("-", "credential_key_failed").kv("error", error);
    return 1;
  }
  parts->credential_lane = std::make_unique<io::Lane>("credentials", config.submission.auth_threads,
                                                      config.submission.auth_queue_limit);
  parts->credentials =
      std::make_unique<auth::CredentialStore>(*parts->store, *parts->credential_lane, std::move(credential_key));
  parts->suppressions = std::make_unique<spool::SuppressionList>(*parts->store, *parts->read_lane);
  parts->inbound->suppressions = parts->suppressions.get();
  parts->tenant_limits = std::make_unique<shaping::TenantLimits>();
  parts->tenant_limits->restore(keptTenantUsage(*parts->store));
  parts->tenant_limits->update(config);
  parts->inbound->tenant_limits = parts->tenant_limits.get();
  parts->auth_limiter = std::make_unique<auth::FailureLimiter>(config.submission, config.smtp.ipv6_prefix_length);
  parts->authenticator = std::make_unique<auth::Authenticator>(*parts->credentials, *parts->auth_limiter);
  parts->runtime = std::make_unique<server::Runtime>(server::makeSnapshot(config_, server_tls), *parts->store,
                                                     *parts->admission, *parts->scheduler, parts->inbound.get(),
                                                     *parts->verifier, *parts->authenticator);
  parts->smtp = std::make_unique<server::SmtpServer>(*parts->runtime, parts->worker_ptrs);
  if (!parts->smtp->bind(error)) {
    log::error("-", "listen_failed").kv("error", error);
    return 1;
  }

  std::string token;
  if (!admin::ensureToken(admin::tokenPath(config), token, error)) {
    log::error("-", "admin_token_failed").kv("error", error);
    return 1;
  }
  auto metrics = [raw] {
    admin::MetricsSnapshot snapshot;
    snapshot.queue = raw->scheduler->stats();
    snapshot.store = raw->store->stats();
    snapshot.audit_records = raw->store->auditRecords();
    snapshot.store_pending = raw->store->pendingBatches();
    snapshot.store_writable = raw->store->writable();
    snapshot.free_disk_bytes = raw->admission->freeDiskBytes();
    snapshot.inflight_bytes = raw->admission->inflight();
    snapshot.storage_pressure = raw->admission->storagePressure();
    const server::ServerCounters& counters = raw->smtp->counters();
    snapshot.connections_open = raw->smtp->limits().total();
    snapshot.connections = counters.connections.load();
    snapshot.refused_connections = counters.refused_connections.load();
    snapshot.accepted_messages = counters.accepted_messages.load();
    snapshot.accepted_bytes = counters.accepted_bytes.load();
    snapshot.rejected_messages = counters.rejected_messages.load();
    snapshot.tempfailed_messages = counters.tempfailed_messages.load();
    snapshot.rejected_recipients = counters.rejected_recipients.load();
    snapshot.protocol_errors = counters.protocol_errors.load();
    snapshot.removed_auth_results = counters.removed_auth_results.load();
    snapshot.removed_own_fields = counters.removed_own_fields.load();
    snapshot.http_listeners.push_back(listenerSnapshot("admin", *raw->admin_http));
    if (raw->links_http) {
      snapshot.http_listeners.push_back(listenerSnapshot("links", *raw->links_http));
    }
    if (raw->api_http) {
      snapshot.http_listeners.push_back(listenerSnapshot("api", *raw->api_http));
      const api::ApiCounters& requests = raw->send_api->counters();
      snapshot.api_requests = {{"accepted", requests.accepted.load(std::memory_order_relaxed)},
                               {"replayed", requests.replayed.load(std::memory_order_relaxed)},
                               {"cancelled", requests.cancelled.load(std::memory_order_relaxed)},
                               {"refused", requests.refused.load(std::memory_order_relaxed)},
                               {"unavailable", requests.unavailable.load(std::memory_order_relaxed)}};
      const io::Lane& lane = *raw->api_lane;
      snapshot.lanes.push_back(
          admin::LaneSnapshot{lane.name(), lane.depth(), lane.completed(), lane.refused(), lane.waitMicros()});
    }
    for (const io::Lane* lane : {raw->read_lane.get(), raw->file_lane.get(), raw->auth_lane.get(),
                                 raw->payload_lane.get(), raw->credential_lane.get()}) {
      snapshot.lanes.push_back(
          admin::LaneSnapshot{lane->name(), lane->depth(), lane->completed(), lane->refused(), lane->waitMicros()});
    }
    snapshot.verdicts = verdictCounts(raw->inbound->counters);
    snapshot.dns_enabled = true;
    snapshot.dns = raw->resolver->stats();
    if (raw->scanner) {
      snapshot.scan_enabled = true;
      snapshot.scan = raw->scanner->stats();
      snapshot.lanes.push_back(admin::LaneSnapshot{"scan", snapshot.scan.queued, snapshot.scan.scanned,
                                                   snapshot.scan.refused, snapshot.scan.wait_micros});
    }
    for (size_t i = 0; i < raw->webhook_counters.attempts.size(); ++i) {
      snapshot.webhook_attempts.emplace_back(std::string(delivery::name(static_cast<delivery::WebhookResult>(i))),
                                             raw->webhook_counters.attempts[i].load());
    }
    const delivery::TlsCounters& mx_tls = raw->registry->mxTlsCounters();
    snapshot.mx_tls_resumed = mx_tls.resumed.load(std::memory_order_relaxed);
    snapshot.mx_tls_dane = mx_tls.dane.load(std::memory_order_relaxed);
    snapshot.mx_tls_verified = mx_tls.verified.load(std::memory_order_relaxed);
    snapshot.mx_tls_unverified = mx_tls.unverified.load(std::memory_order_relaxed);
    const shaping::ThrottleCounters& throttles = raw->registry->throttleCounters();
    for (size_t i = 0; i < throttles.held.size(); ++i) {
      snapshot.mx_throttled.emplace_back(std::string(shaping::name(static_cast<shaping::Throttle>(i))),
                                         throttles.held[i].load(std::memory_order_relaxed));
    }
    snapshot.mx_backoffs = throttles.backoffs.load(std::memory_order_relaxed);
    for (size_t i = 0; i < mx_tls.failures.size(); ++i) {
      snapshot.mx_tls_failures.emplace_back(std::string(delivery::name(static_cast<delivery::TlsFailure>(i))),
                                            mx_tls.failures[i].load(std::memory_order_relaxed));
    }
    for (const delivery::Registry::WebhookEndpoint& endpoint : raw->registry->webhookEndpoints()) {
      snapshot.webhook_endpoints_disabled += endpoint.disabled ? 1 : 0;
    }
    snapshot.events = raw->events->stats();
    snapshot.verifier = raw->verifier->stats();
    const auth::AuthCounters& auth = raw->authenticator->counters();
    snapshot.auth = {auth.accepted.load(std::memory_order_relaxed), auth.failed.load(std::memory_order_relaxed),
                     auth.locked.load(std::memory_order_relaxed), auth.unavailable.load(std::memory_order_relaxed)};
    for (size_t kind = 0; kind < snapshot.link_requests.size(); ++kind) {
      for (size_t result = 0; result < 4; ++result) {
        snapshot.link_requests[kind][result] = raw->link_counters.requests[kind][result].load();
      }
    }
    snapshot.now_us = nowMicros();
    return admin::renderMetrics(snapshot);
  };
  parts->receiver = std::make_unique<admin::LocalReceiver>([raw] { return raw->runtime->current().config; },
                                                           config.spool.path + "/received", *parts->file_lane,
                                                           *parts->control);
  parts->running_settings = config.settings;
  parts->drain = std::make_unique<Drain>(
      Drain::Hooks{.begin =
                       [raw](bool deliver_queue) {
                         raw->smtp->drain();
                         if (raw->api_http) {
                           raw->api_loop->post([raw] { raw->api_http->drain(); });
                         }
                         raw->scheduler->drain(deliver_queue);
                       },
                   .progress =
                       [raw] {
                         const scheduler::QueueStats stats = raw->scheduler->stats();
                         const uint64_t api = raw->api_http ? raw->api_http->counters().open.load() : 0;
                         return Drain::Progress{.sessions = raw->smtp->limits().total() + api,
                                                .active = stats.active,
                                                .queued = stats.queued,
                                                .paused = stats.paused};
                       }},
      config.node.shutdown_timeout);
  Drain* drain = parts->drain.get();
  parts->api = std::make_unique<admin::Api>(
      *parts->control, *parts->scheduler, *parts->registry, *parts->events, *parts->receiver, *parts->credentials,
      *parts->suppressions,
      [raw] { return raw->runtime->current().config; }, token, metrics, [raw] {
        std::lock_guard<std::mutex> lock(raw->settings_mutex);
        return raw->running_settings;
      },
      admin::DrainControl{.request = [drain](bool until_empty, std::optional<std::chrono::milliseconds> timeout,
                                             const std::string& actor) { drain->request(until_empty, timeout, actor); },
                          .status = [drain] { return drain->status(); }});
  admin::Api* api = parts->api.get();
  parts->admin_http = std::make_unique<http::Server>(
      *parts->control, [api](const http::Request& request, http::Respond respond) { api->handle(request, std::move(respond)); },
      adminLimits(config.admin));
  if (!parts->admin_http->bind(config.admin.address, config.admin.port, error)) {
    log::error("-", "admin_listen_failed").kv("error", error);
    return 1;
  }
  if (!config.links.address.empty()) {
    parts->links_loop = std::make_unique<io::Loop>("links");
    parts->links = std::make_unique<admin::LinkEndpoint>(parts->link_keys, parts->link_counters, *parts->store,
                                                         *parts->suppressions, *parts->links_loop,
                                                         [raw] { return raw->runtime->current().config; });
    admin::LinkEndpoint* links = parts->links.get();
    parts->links_http = std::make_unique<http::Server>(
        *parts->links_loop,
        [links](const http::Request& request, http::Respond respond) { links->handle(request, std::move(respond)); },
        linksLimits(config.links));
    if (!parts->links_http->bind(config.links.address, config.links.port, error)) {
      log::error("-", "links_listen_failed").kv("error", error);
      return 1;
    }
  }

  if (!config.api.address.empty()) {
    parts->api_lane = std::make_unique<io::Lane>("api", config.api.build_threads, config.api.build_queue_limit);
    parts->api_loop = std::make_unique<io::Loop>("api");
    parts->send_api = std::make_unique<api::SendApi>(*parts->api_loop, *parts->runtime, *parts->api_lane);
    api::SendApi* send_api = parts->send_api.get();
    parts->api_http = std::make_unique<http::Server>(
        *parts->api_loop,
        [send_api](const http::Request& request, http::Respond respond) {
          send_api->handle(request, std::move(respond));
        },
        apiLimits(config.api));
    parts->api_http->setErrorFormat(api::errorResponse);
    if (config.api.tls) {
      parts->api_http->useTls([raw] { return raw->runtime->current().tls; });
    }
    if (!parts->api_http->bind(config.api.address, config.api.port, error)) {
      log::error("-", "api_listen_failed").kv("error", error);
      return 1;
    }
  }

  parts_ = std::move(parts);
  raw->control->post([raw] {
    raw->scheduler->start();
    raw->verifier->start();
    raw->events->start();
    raw->admin_http->start();
    uv_timer_init(raw->control->uv(), &raw->housekeeping);
    raw->housekeeping.data = raw;
    uv_timer_start(
        &raw->housekeeping,
        [](uv_timer_t* timer) {
          auto* parts = static_cast<Parts*>(timer->data);
          keepTenantUsage(*parts->tenant_limits, *parts->store);
          // statvfs and the store's lock (held through a reopen) stay off the control loop.
          if (parts->refresh_pending.exchange(true)) {
            return;
          }
          const bool queued = parts->read_lane->submit([parts] {
            parts->admission->refresh(spaceAfterFlush(*parts->store), parts->store->writable());
            parts->refresh_pending.store(false);
          });
          if (!queued) {
            parts->refresh_pending.store(false);
          }
        },
        0, kHousekeepingMs);
  });
  raw->control->addShutdownHook([raw] {
    raw->scheduler->stop();
    raw->verifier->stop();
    raw->events->stop();
    raw->admin_http->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->housekeeping), nullptr);
  });
  notifier.startWatchdog(*raw->control);
  raw->control->start();
  if (raw->links_http) {
    raw->links_loop->post([raw] { raw->links_http->start(); });
    raw->links_loop->addShutdownHook([raw] { raw->links_http->stop(); });
    raw->links_loop->start();
  }
  if (raw->api_http) {
    raw->api_loop->post([raw] {
      raw->send_api->start();
      raw->api_http->start();
    });
    raw->api_loop->addShutdownHook([raw] {
      raw->api_http->stop();
      raw->send_api->stop();
    });
    raw->api_loop->start();
  }
  for (auto& worker : raw->workers) {
    worker->start();
  }
  raw->smtp->start();

  log::info("-", "started")
      .kv("version", "0.1.0")
      .kv("workers", config.node.workers)
      .kv("spool", config.spool.path)
      .kv("queued", recovered)
      .kv("admin_port", raw->admin_http->port())
      .kv("links_port", raw->links_http ? raw->links_http->port() : 0)
      .kv("api_port", raw->api_http ? raw->api_http->port() : 0)
      .kv("nofile", file_limit)
      .kv("tenants", config.tenants.size());
  notifier.ready("accepting mail on " + std::to_string(config.listeners.size()) + " listeners");

  // SIGTERM and SIGINT drain (a second one stops at once), as does the admin API's drain;
  // the drain is polled between signals.
  const timespec tick{.tv_sec = 0, .tv_nsec = 200'000'000};
  for (;;) {
    const int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGHUP) {
      notifier.reloading();
      reload();
      notifier.ready("accepting mail (SIGHUP handled: the log tells whether the configuration was reloaded)");
    } else if (signal_number == SIGTERM || signal_number == SIGINT) {
      const char* name = signal_number == SIGTERM ? "TERM" : "INT";
      if (raw->drain->draining()) {
        log::warn("-", "drain_cut_short").kv("signal", name);
        break;
      }
      raw->drain->request(false, std::nullopt, std::string("signal:") + name);
    }
    if (raw->drain->poll()) {
      break;
    }
  }
  log::info("-", "stopping");
  notifier.stopping();
  shutdown();
  return 0;
}

bool Node::startInbound(Parts& parts, std::string& error) {
  const config::Config& config = *config_;
  parts.spf_dns = std::make_unique<spf::ResolverDns>(*parts.resolver);
  parts.auth_lane = std::make_unique<io::Lane>("auth", config.auth.threads, config.auth.queue_limit);
  auth::initializeDkim();
  if (!auth::initializeDmarc(config.auth.public_suffix_list, error)) {
    error = "auth.public_suffix_list: " + error;
    return false;
  }
  if (!config.scan.signatures.empty()) {
    parts.scanner = scan::Scanner::create(scanSettings(config.scan), error);
    if (!parts.scanner) {
      error = "scan.signatures: " + error;
      return false;
    }
    log::info("-", "scanner_ready").kv("signatures", parts.scanner->stats().signatures);
  }
  parts.inbound = std::make_unique<pipeline::Services>();
  parts.inbound->resolver = parts.resolver.get();
  parts.inbound->spf_dns = parts.spf_dns.get();
  parts.inbound->auth_lane = parts.auth_lane.get();
  parts.inbound->link_keys = parts.link_keys;
  parts.inbound->scanner = parts.scanner.get();
  parts.inbound->dkim.min_rsa_bits = config.auth.dkim_min_rsa_bits;
  parts.inbound->dkim.max_signatures = config.auth.max_dkim_signatures;
  parts.inbound->max_header_size = config.smtp.max_header_size;
  return true;
}

void Node::reload() {
  config::LoadResult loaded = config::load(config_path_);
  if (!loaded.config) {
    for (const auto& error : loaded.errors) {
      log::error("-", "reload_rejected").kv("error", error.str());
    }
    log::warn("-", "reload_failed").kv("kept", "previous configuration");
    return;
  }
  const config::Config& fresh = *loaded.config;
  std::string error;
  std::shared_ptr<tls::Context> server_tls = serverTls(fresh, error);
  if (needsServerTls(fresh) && !server_tls) {
    log::error("-", "reload_rejected").kv("error", "tls: " + error);
    log::warn("-", "reload_failed").kv("kept", "previous configuration");
    return;
  }
  delivery::ClientTlsContexts client_tls;
  if (!client_tls.build(fresh, error)) {
    log::error("-", "reload_rejected").kv("error", error);
    log::warn("-", "reload_failed").kv("kept", "previous configuration");
    return;
  }
  std::string needs_restart;
  {
    std::lock_guard<std::mutex> lock(parts_->settings_mutex);
    for (const config::SettingChange& change : config::changedSettings(parts_->running_settings, fresh.settings)) {
      if (change.needs_restart) {
        needs_restart += (needs_restart.empty() ? "" : ",") + change.key;
      } else if (change.next) {
        parts_->running_settings[change.key] = *change.next;
      } else {
        parts_->running_settings.erase(change.key);
      }
    }
  }
  if (!needs_restart.empty()) {
    log::warn("-", "reload_needs_restart").kv("keys", needs_restart).kv("kept", "the running values until a restart");
  }
  log::configure(fresh.log.level, fresh.log.format, parts_->log_fd);
  parts_->registry->update(fresh, client_tls);
  parts_->runtime->replace(server::makeSnapshot(loaded.config, server_tls));
  parts_->scheduler->updateSettings(fresh.queue);
  parts_->read_lane->setQueueLimit(fresh.queue.lane_queue_limit);
  parts_->file_lane->setQueueLimit(fresh.queue.lane_queue_limit);
  parts_->auth_lane->setQueueLimit(fresh.auth.queue_limit);
  parts_->payload_lane->setQueueLimit(fresh.webhook.queue_limit);
  parts_->credential_lane->setQueueLimit(fresh.submission.auth_queue_limit);
  if (parts_->api_lane) {
    parts_->api_lane->setQueueLimit(fresh.api.build_queue_limit);
  }
  parts_->auth_limiter->update(fresh.submission, fresh.smtp.ipv6_prefix_length);
  parts_->tenant_limits->update(fresh);
  parts_->drain->setDefaultTimeout(fresh.node.shutdown_timeout);
  config_ = loaded.config;
  log::info("-", "reloaded").kv("tenants", fresh.tenants.size());
  if (parts_->scanner) {
    // Compiles the new engine here, off every loop; scans under way finish on the old one.
    if (parts_->scanner->reload(error)) {
      log::info("-", "signatures_reloaded").kv("signatures", parts_->scanner->stats().signatures);
    } else {
      log::error("-", "signatures_reload_failed").kv("error", error).kv("kept", "previous engine");
    }
  }
}

void Node::shutdown() {
  Parts& parts = *parts_;
  // New sessions stop first, then delivery; the control loop last, the spool writer after
  // everything that could still submit to it.
  parts.registry->shutdown();
  for (auto& worker : parts.workers) {
    worker->stop();
  }
  for (auto& worker : parts.workers) {
    worker->join();
  }
  if (parts.links_loop) {
    parts.links_loop->stop();
    parts.links_loop->join();
  }
  if (parts.api_loop) {
    parts.api_loop->stop();
    parts.api_loop->join();
    parts.api_lane->stop();
  }
  parts.control->stop();
  parts.control->join();
  parts.read_lane->stop();
  parts.file_lane->stop();
  parts.payload_lane->stop();
  parts.credential_lane->stop();
  parts.auth_lane->stop();
  parts.resolver->stop();
  parts.scanner.reset();  // its lane finishes the scans under way
  keepTenantUsage(*parts.tenant_limits, *parts.store);  // nothing admits mail any more
  parts.store->stop();
  log::info("-", "stopped");
}

}  // namespace mxgate::app
