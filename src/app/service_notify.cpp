// sd_notify(3) datagrams to $NOTIFY_SOCKET (see src/app/service_notify.h). The main thread
// sends the state changes, the control loop's timer the watchdog pings; each is one sendto(2)
// on a datagram socket, which needs no lock between the two threads.
#include "service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "mxgate/base/log.h"

namespace mxgate::app {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or ours), else 0.
uint64_t watchdogMicros() {
  const std::string pid = environment("WATCHDOG_PID");
  if (!pid.empty() && pid != std::to_string(::getpid())) {
    return 0;
  }
  const std::string usec = environment("WATCHDOG_USEC");
  char* end = nullptr;
  const unsigned long long value = std::strtoull(usec.c_str(), &end, 10);
  return usec.empty() || *end != '\0' ? 0 : value;
}

uint64_t monotonicMicros() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
}

}  // namespace

ServiceNotifier::ServiceNotifier() : address_(environment("NOTIFY_SOCKET")) {
  // A path ("/run/systemd/notify") or an abstract name ("@..."); anything else is not ours.
  if (address_.empty() || (address_.front() != '/' && address_.front() != '@') ||
      address_.size() >= sizeof(sockaddr_un::sun_path)) {
    return;
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  watchdog_usec_ = fd_ >= 0 ? watchdogMicros() : 0;
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void ServiceNotifier::send(const std::string& message) {
  if (fd_ < 0) {
    return;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, address_.data(), address_.size());
  if (address.sun_path[0] == '@') {
    address.sun_path[0] = '\0';
  }
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
               length) < 0) {
    log::warn("-", "service_notify_failed").kv("socket", address_).kv("error", std::strerror(errno));
  }
}

void ServiceNotifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + std::string(status)); }

void ServiceNotifier::reloading() {
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(monotonicMicros()));
}

void ServiceNotifier::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

void ServiceNotifier::startWatchdog(io::Loop& control) {
  if (watchdog_usec_ == 0) {
    return;
  }
  const uint64_t interval_ms = std::max<uint64_t>(1, watchdog_usec_ / 2 / 1000);
  control.post([this, &control, interval_ms] {
    uv_timer_init(control.uv(), &watchdog_);
    watchdog_.data = this;
    uv_timer_start(
        &watchdog_, [](uv_timer_t* timer) { static_cast<ServiceNotifier*>(timer->data)->send("WATCHDOG=1"); }, 0,
        interval_ms);
  });
  control.addShutdownHook([this] { uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr); });
}

}  // namespace mxgate::app
