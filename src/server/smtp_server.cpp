// SMTP listeners and per-loop session registries (see include/mxgate/server/smtp_server.h).
// bind() runs on the starting thread; everything else on the worker loops.
#include "mxgate/server/smtp_server.h"

#include <unistd.h>

#include "mxgate/base/log.h"
#include "mxgate/server/session.h"

namespace mxgate::server {

LoopServer::LoopServer(io::Loop& loop, Runtime& runtime, ConnectionLimits& limits, ServerCounters& counters,
                       uint32_t loop_index)
    : loop_(loop),
      runtime_(runtime),
      limits_(limits),
      counters_(counters),
      next_id_((static_cast<uint64_t>(loop_index) << 48) + 1) {}

LoopServer::~LoopServer() = default;

void LoopServer::addListener(int fd, const config::Listener& listener) {
  auto bound = std::make_unique<Bound>();
  bound->config = listener;
  const config::Listener* config = &bound->config;
  bound->listener = std::make_unique<io::Listener>(
      loop_, fd, [this, config](uv_stream_t* server) { onConnection(server, *config); });
  int rc = bound->listener->start();
  if (rc != 0) {
    log::error("-", "listen_failed").kv("listener", listener.name).kv("error", uv_strerror(rc));
    ::close(fd);
    return;
  }
  listeners_.push_back(std::move(bound));
}

void LoopServer::start() {
  uv_timer_init(loop_.uv(), &sweep_);
  sweep_.data = this;
  uv_timer_start(&sweep_, &LoopServer::onSweep, 1000, 1000);
}

void LoopServer::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<LoopServer*>(timer->data);
  uint64_t now = self->loop_.now();
  for (auto& [id, session] : self->sessions_) {
    session->checkTimeout(now);
  }
}

void LoopServer::onConnection(uv_stream_t* server, const config::Listener& listener) {
  if (!listening_) {
    return;
  }
  uint64_t id = next_id_++;
  auto* session = new Session(*this, id, runtime_.current(), listener);
  sessions_.emplace(id, session);
  session->start(server);
}

Session* LoopServer::find(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void LoopServer::forget(uint64_t id) { sessions_.erase(id); }

std::vector<Session*> LoopServer::openSessions() const {
  std::vector<Session*> open;
  for (const auto& [id, session] : sessions_) {
    open.push_back(session);
  }
  return open;
}

void LoopServer::closeListeners() {
  if (!listening_) {
    return;
  }
  listening_ = false;
  for (auto& bound : listeners_) {
    bound->listener->close();
  }
}

void LoopServer::drain() {
  if (stopping_ || !listening_) {
    return;
  }
  closeListeners();
  for (Session* session : openSessions()) {
    session->drain();
  }
}

void LoopServer::stop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  closeListeners();
  for (Session* session : openSessions()) {
    session->shutdown();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
}

SmtpServer::SmtpServer(Runtime& runtime, std::vector<io::Loop*> loops) : runtime_(runtime), loops_(std::move(loops)) {
  for (uint32_t i = 0; i < loops_.size(); ++i) {
    servers_.push_back(std::make_unique<LoopServer>(*loops_[i], runtime_, limits_, counters_, i));
  }
}

SmtpServer::~SmtpServer() {
  for (const auto& fds : fds_) {
    for (int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
}

bool SmtpServer::bind(std::string& error) {
  const config::Config& config = *runtime_.current().config;
  fds_.assign(loops_.size(), std::vector<int>(config.listeners.size(), -1));
  bound_ports_.assign(config.listeners.size(), 0);
  for (size_t j = 0; j < config.listeners.size(); ++j) {
    const config::Listener& listener = config.listeners[j];
    uint16_t port = listener.port;
    for (size_t i = 0; i < loops_.size(); ++i) {
      uint16_t bound = 0;
      int fd = io::bindSocket(listener.address, port, 1024, bound, error);
      if (fd < 0) {
        error = "listener " + listener.name + ": " + error;
        return false;
      }
      fds_[i][j] = fd;
      port = bound;  // with port 0 every loop joins the port the first bind received
    }
    bound_ports_[j] = port;
    log::info("-", "listening")
        .kv("listener", listener.name)
        .kv("address", listener.address)
        .kv("port", port)
        .kv("loops", loops_.size());
  }
  return true;
}

void SmtpServer::start() {
  const config::Config& config = *runtime_.current().config;
  for (size_t i = 0; i < loops_.size(); ++i) {
    LoopServer* server = servers_[i].get();
    std::vector<std::pair<int, config::Listener>> sockets;
    for (size_t j = 0; j < config.listeners.size(); ++j) {
      sockets.emplace_back(fds_[i][j], config.listeners[j]);
      fds_[i][j] = -1;  // the loop owns it now
    }
    loops_[i]->addShutdownHook([server] { server->stop(); });
    loops_[i]->post([server, sockets] {
      for (const auto& [fd, listener] : sockets) {
        server->addListener(fd, listener);
      }
      server->start();
    });
  }
}

void SmtpServer::drain() {
  for (size_t i = 0; i < loops_.size(); ++i) {
    LoopServer* server = servers_[i].get();
    loops_[i]->post([server] { server->drain(); });
  }
}

void SmtpServer::stop() {
  for (size_t i = 0; i < loops_.size(); ++i) {
    LoopServer* server = servers_[i].get();
    loops_[i]->post([server] { server->stop(); });
  }
}

}  // namespace mxgate::server
