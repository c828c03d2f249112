// SO_REUSEPORT listening sockets, one per worker loop (see include/mxgate/io/listener.h).
// bindSocket() and reserveSocket() run on the starting (main) thread.
#include "mxgate/io/listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "mxgate/base/log.h"
#include "mxgate/io/stream.h"

namespace mxgate::io {
namespace {

struct Reserved {
  int fd;
  uint16_t bound_port;
};

// Sockets bound by reserveSocket, by the (address, port) asked for; bindSocket hands them out.
std::mutex g_reserved_mutex;
std::multimap<std::pair<std::string, uint16_t>, Reserved> g_reserved;

int bindNew(const std::string& address, uint16_t port, int backlog, uint16_t& bound_port, std::string& error) {
  sockaddr_storage storage{};
  if (!parseAddress(address, port, storage)) {
    error = "not a numeric IP address: " + address;
    return -1;
  }
  int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    error = std::string("SO_REUSEPORT: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  socklen_t length = storage.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(fd, backlog) != 0) {
    error = "bind " + address + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  bound_port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return fd;
}

}  // namespace

bool reserveSocket(const std::string& address, uint16_t port, int backlog, uint16_t& bound_port,
                   std::string& error) {
  int fd = bindNew(address, port, backlog, bound_port, error);
  if (fd < 0) {
    return false;
  }
  std::lock_guard<std::mutex> lock(g_reserved_mutex);
  g_reserved.emplace(std::make_pair(address, port), Reserved{fd, bound_port});
  return true;
}

int bindSocket(const std::string& address, uint16_t port, int backlog, uint16_t& bound_port,
               std::string& error) {
  {
    std::lock_guard<std::mutex> lock(g_reserved_mutex);
    auto reserved = g_reserved.find(std::make_pair(address, port));
    if (reserved != g_reserved.end()) {
      const Reserved socket = reserved->second;
      g_reserved.erase(reserved);
      ::listen(socket.fd, backlog);  // the caller's backlog replaces the one it was reserved with
      bound_port = socket.bound_port;
      return socket.fd;
    }
  }
  return bindNew(address, port, backlog, bound_port, error);
}

Listener::Listener(Loop& loop, int fd, ConnectionFn on_connection)
    : loop_(loop), fd_(fd), on_connection_(std::move(on_connection)) {}

int Listener::start() { return listen(); }

int Listener::listen() {
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    return uv_translate_sys_error(errno);
  }
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(loop_.uv(), tcp);
  tcp->data = this;
  int rc = uv_tcp_open(tcp, fd);
  if (rc != 0) {
    ::close(fd);  // not the handle's
  } else {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 1024, &Listener::onConnection);
  }
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
    return rc;
  }
  tcp_ = tcp;
  return 0;
}

void Listener::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status == UV_EMFILE || status == UV_ENFILE) {
    self->pause(status);
    return;
  }
  if (status < 0) {
    log::warn("-", "accept_failed").kv("error", uv_strerror(status));
    return;
  }
  self->on_connection_(server);
}

void Listener::pause(int status) {
  if (tcp_ == nullptr) {
    return;
  }
  log::warn("-", "accept_paused").kv("error", uv_strerror(status)).kv("ms", kListenerPauseMs);
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
  tcp_ = nullptr;
  if (resume_ == nullptr) {
    resume_ = new uv_timer_t;
    uv_timer_init(loop_.uv(), resume_);
    resume_->data = this;
  }
  uv_timer_start(resume_, &Listener::onResume, kListenerPauseMs, 0);
}

void Listener::onResume(uv_timer_t* timer) {
  auto* self = static_cast<Listener*>(timer->data);
  if (self->closed_) {
    return;
  }
  const int rc = self->listen();
  if (rc != 0) {
    uv_timer_start(timer, &Listener::onResume, kListenerPauseMs, 0);  // still out of descriptors
    return;
  }
  log::info("-", "accept_resumed");
}

void Listener::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (tcp_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
    tcp_ = nullptr;
  }
  if (resume_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(resume_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    resume_ = nullptr;
  }
  ::close(fd_);
}

}  // namespace mxgate::io
