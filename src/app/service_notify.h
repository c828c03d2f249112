// Telling systemd how the service is doing: the sd_notify(3) protocol (one AF_UNIX datagram of
// newline-separated VAR=value assignments to $NOTIFY_SOCKET; systemd.service(5) Type=notify,
// WatchdogSec=). Written here rather than linked from libsystemd: the protocol is one sendto(2),
// and the binary keeps no dependency on systemd's library (nor needs it installed to build or
// test). The main thread sends READY/RELOADING/STOPPING; WATCHDOG=1 goes from a timer on the
// control loop, so a control loop that hangs stops the pings and systemd restarts the service.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "mxgate/io/loop.h"

namespace mxgate::app {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; without NOTIFY_SOCKET every call does
  // nothing.
  ServiceNotifier();
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // READY=1 with a STATUS line: the listeners accept connections (after start-up or a reload).
  void ready(std::string_view status);
  // RELOADING=1 (with MONOTONIC_USEC, as sd_notify(3) asks) before a SIGHUP reload.
  void reloading();
  // STOPPING=1: the node is shutting down.
  void stopping();
  // With WATCHDOG_USEC set for this process: posts to `control` (before it starts) a timer that
  // sends WATCHDOG=1 every half of WATCHDOG_USEC, closed by the loop's shutdown hooks.
  void startWatchdog(io::Loop& control);

 private:
  void send(const std::string& message);

  int fd_ = -1;
  std::string address_;  // the socket path; a leading '@' is an abstract socket
  uint64_t watchdog_usec_ = 0;
  uv_timer_t watchdog_{};
};

}  // namespace mxgate::app
