// Listening sockets. Every worker loop opens its own socket on the same address with
// SO_REUSEPORT, so the kernel spreads new connections across loops and a connection stays
// on the loop that accepted it. bindSocket() runs on the starting thread (errors such as
// EADDRINUSE surface at start-up); Listener itself lives on its loop's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "mxgate/io/loop.h"

namespace mxgate::io {

// Creates a non-blocking TCP socket with SO_REUSEADDR and SO_REUSEPORT, binds and listens.
// Returns the fd, or -1 with error set. bound_port receives the port (useful with port 0).
// A socket reserved for the same address and port is handed out instead of binding anew.
int bindSocket(const std::string& address, uint16_t port, int backlog, uint16_t& bound_port,
               std::string& error);

// Binds and listens as bindSocket does and keeps the socket for the next bindSocket call with
// the same address and port: a process started as root binds its privileged ports this way
// before it gives up root (every socket of a SO_REUSEPORT group must come from the same user,
// so all of a listener's sockets are reserved). Returns false with error set.
bool reserveSocket(const std::string& address, uint16_t port, int backlog, uint16_t& bound_port,
                   std::string& error);

// Out of descriptors (EMFILE, ENFILE) a listener stops accepting for kListenerPauseMs instead of
// spinning on the failing accept: new connections wait in the kernel's backlog while the
// sessions already open finish and give descriptors back, then it accepts again (logged once
// per pause). libuv's own remedy, a spare descriptor closed to accept and drop one connection,
// loses that descriptor for good when another thread takes it meanwhile, and its accept loop
// then never returns.
inline constexpr uint64_t kListenerPauseMs = 250;

class Listener {
 public:
  // on_connection runs on the loop thread for each pending connection; it must accept it.
  using ConnectionFn = std::function<void(uv_stream_t* server)>;

  Listener(Loop& loop, int fd, ConnectionFn on_connection);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // On the loop thread: starts accepting on the socket. Returns a libuv error code.
  int start();
  // On the loop thread: stops accepting and closes the socket. The listener must outlive its
  // loop's next turn (the handles close asynchronously).
  void close();

 private:
  static void onConnection(uv_stream_t* server, int status);
  static void onResume(uv_timer_t* timer);
  // A new handle on a duplicate of fd_ (a paused handle's close closes only its duplicate).
  int listen();
  void pause(int status);

  Loop& loop_;
  int fd_;
  ConnectionFn on_connection_;
  uv_tcp_t* tcp_ = nullptr;     // accepting; null while paused or closed
  uv_timer_t* resume_ = nullptr;  // the pause's timer
  bool closed_ = false;
};

}  // namespace mxgate::io
