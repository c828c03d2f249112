// Node wiring, start-up, reload and shutdown (see src/app/node.h). Main thread.
#include "node.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "mxgate/admin/api.h"
#include "mxgate/admin/metrics.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/delivery/registry.h"
#include "mxgate/http/server.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/server/runtime.h"
#include "mxgate/server/smtp_server.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/store.h"
#include "mxgate/tls/tls.h"

namespace mxgate::app {
namespace {

constexpr uint64_t kHousekeepingMs = 250;

bool needsServerTls(const config::Config& config) {
  for (const auto& listener : config.listeners) {
    if (listener.tls != config::ListenerTls::None) {
      return true;
    }
  }
  return false;
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

// Free disk once what sits in the memtables has been flushed to files.
uint64_t spaceAfterFlush(const spool::Store& store) {
  uint64_t free = store.freeBytes();
  uint64_t unflushed = store.unflushedBytes();
  return free > unflushed ? free - unflushed : 0;
}

}  // namespace

std::string defaultCertPath(const config::Config& config) { return config.spool.path + "/tls/selfsigned.crt"; }
std::string defaultKeyPath(const config::Config& config) { return config.spool.path + "/tls/selfsigned.key"; }

struct Node::Parts {
  std::unique_ptr<spool::Store> store;
  std::unique_ptr<io::Loop> control;
  std::vector<std::unique_ptr<io::Loop>> workers;
  std::vector<io::Loop*> worker_ptrs;
  std::unique_ptr<io::Lane> read_lane;
  std::unique_ptr<io::Lane> file_lane;
  std::unique_ptr<delivery::Registry> registry;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<spool::Admission> admission;
  std::unique_ptr<server::Runtime> runtime;
  std::unique_ptr<server::SmtpServer> smtp;
  std::unique_ptr<admin::Api> api;
  std::unique_ptr<http::Server> admin_http;
  uv_timer_t housekeeping{};
  int log_fd = 2;
};

Node::Node(std::string config_path, std::shared_ptr<const config::Config> config)
    : config_path_(std::move(config_path)), config_(std::move(config)) {}

Node::~Node() = default;

int Node::run() {
  const config::Config& config = *config_;
  auto parts = std::make_unique<Parts>();
  parts->log_fd = openLogFile(config);
  log::configure(config.log.level, config.log.format, parts->log_fd);
  mail::QueueId::setNode(config.node.id);

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
  std::shared_ptr<tls::Context> client_tls = tls::Context::client(12, false, error);
  if (!client_tls) {
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
  parts->registry = std::make_unique<delivery::Registry>(parts->worker_ptrs, *parts->file_lane, client_tls);
  parts->registry->update(config);
  delivery::Registry* registry = parts->registry.get();
  parts->admission = std::make_unique<spool::Admission>(config.spool);
  parts->scheduler = std::make_unique<scheduler::Scheduler>(
      *parts->control, *parts->store, *parts->read_lane, *parts->admission, config.queue,
      [registry](const std::string& tenant) { return registry->forTenant(tenant); });
  uint64_t recovered = parts->scheduler->recover();
  parts->admission->refresh(spaceAfterFlush(*parts->store), parts->store->writable());
  parts->runtime = std::make_unique<server::Runtime>(server::makeSnapshot(config_, server_tls), *parts->store,
                                                     *parts->admission, *parts->scheduler);
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
  Parts* raw = parts.get();
  auto metrics = [raw] {
    admin::MetricsSnapshot snapshot;
    snapshot.queue = raw->scheduler->stats();
    snapshot.store = raw->store->stats();
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
    for (const io::Lane* lane : {raw->read_lane.get(), raw->file_lane.get()}) {
      snapshot.lanes.push_back(
          admin::LaneSnapshot{lane->name(), lane->depth(), lane->completed(), lane->refused(), lane->waitMicros()});
    }
    snapshot.now_us = nowMicros();
    return admin::renderMetrics(snapshot);
  };
  parts->api = std::make_unique<admin::Api>(*parts->scheduler, token, metrics);
  admin::Api* api = parts->api.get();
  parts->admin_http = std::make_unique<http::Server>(
      *parts->control, [api](const http::Request& request, http::Respond respond) { api->handle(request, std::move(respond)); },
      http::RequestParser::Limits{});
  if (!parts->admin_http->bind(config.admin.address, config.admin.port, error)) {
    log::error("-", "admin_listen_failed").kv("error", error);
    return 1;
  }

  parts_ = std::move(parts);
  raw->control->post([raw] {
    raw->scheduler->start();
    raw->admin_http->start();
    uv_timer_init(raw->control->uv(), &raw->housekeeping);
    raw->housekeeping.data = raw;
    uv_timer_start(
        &raw->housekeeping,
        [](uv_timer_t* timer) {
          // statvfs and the store's lock (held through a reopen) stay off the control loop.
          auto* parts = static_cast<Parts*>(timer->data);
          parts->read_lane->submit([parts] {
            parts->admission->refresh(spaceAfterFlush(*parts->store), parts->store->writable());
          });
        },
        0, kHousekeepingMs);
  });
  raw->control->addShutdownHook([raw] {
    raw->scheduler->stop();
    raw->admin_http->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->housekeeping), nullptr);
  });
  raw->control->start();
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
      .kv("tenants", config.tenants.size());

  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) {
      continue;
    }
    if (signal_number == SIGHUP) {
      reload();
      continue;
    }
    log::info("-", "stopping").kv("signal", signal_number == SIGTERM ? "TERM" : "INT");
    break;
  }
  shutdown();
  return 0;
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
  bool listeners_changed = fresh.listeners.size() != config_->listeners.size();
  for (size_t i = 0; !listeners_changed && i < fresh.listeners.size(); ++i) {
    const auto& a = fresh.listeners[i];
    const auto& b = config_->listeners[i];
    listeners_changed = a.address != b.address || a.port != b.port;
  }
  if (listeners_changed) {
    log::warn("-", "reload_partial").kv("note", "listener addresses and ports change only on restart");
  }
  log::configure(fresh.log.level, fresh.log.format, parts_->log_fd);
  parts_->registry->update(fresh);
  parts_->runtime->replace(server::makeSnapshot(loaded.config, server_tls));
  config_ = loaded.config;
  log::info("-", "reloaded").kv("tenants", fresh.tenants.size());
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
  parts.control->stop();
  parts.control->join();
  parts.read_lane->stop();
  parts.file_lane->stop();
  parts.store->stop();
  log::info("-", "stopped");
}

}  // namespace mxgate::app
