// Giving up root at start-up (see src/app/privileges.h): initgroups(3), setgid(2), setuid(2)
// (POSIX.1-2017), after the listening sockets are reserved. Main thread, before other threads.
#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "mxgate/base/log.h"
#include "mxgate/io/listener.h"

namespace mxgate::app {
namespace {

// The backlog a reserved socket listens with until its server takes it (and sets its own).
constexpr int kReservedBacklog = 128;

bool reserve(const std::string& what, const std::string& address, uint16_t port, uint16_t& bound,
             std::string& error) {
  if (!io::reserveSocket(address, port, kReservedBacklog, bound, error)) {
    error = what + ": " + error;
    return false;
  }
  return true;
}

// Every socket the node will listen on: each SMTP listener once per worker loop (they share
// the port with SO_REUSEPORT, see io/listener.h), then admin, links and api.
bool reserveListeningSockets(const config::Config& config, std::string& error) {
  for (const config::Listener& listener : config.listeners) {
    uint16_t port = listener.port;
    for (uint32_t i = 0; i < config.node.workers; ++i) {
      uint16_t bound = 0;
      if (!reserve("listener " + listener.name, listener.address, port, bound, error)) {
        return false;
      }
      port = bound;  // with port 0 the other loops join the port the first bind received
    }
  }
  uint16_t bound = 0;
  if (!reserve("admin", config.admin.address, config.admin.port, bound, error)) {
    return false;
  }
  if (!config.links.address.empty() && !reserve("links", config.links.address, config.links.port, bound, error)) {
    return false;
  }
  return config.api.address.empty() || reserve("api", config.api.address, config.api.port, bound, error);
}

// The passwd entry of `name`; false with error when there is none.
bool lookUpUser(const std::string& name, passwd& entry, std::vector<char>& buffer, std::string& error) {
  passwd* found = nullptr;
  buffer.resize(16384);
  const int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    error = rc == 0 ? "no user named " + name : "looking up user " + name + ": " + std::strerror(rc);
    return false;
  }
  return true;
}

std::string errnoText(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace

bool becomeNodeUser(const std::string& config_path, const config::Config& config, std::string& error) {
  const std::string& name = config.node.user;
  if (name.empty()) {
    return true;
  }
  const std::string where = config_path + ": node.user: ";
  passwd entry{};
  std::vector<char> buffer;
  if (!lookUpUser(name, entry, buffer, error)) {
    error = where + error;
    return false;
  }
  if (::geteuid() != 0) {
    if (::geteuid() == entry.pw_uid && ::getuid() == entry.pw_uid) {
      return true;
    }
    error = where + "running as uid " + std::to_string(::geteuid()) + ", neither root nor " + name + " (uid " +
            std::to_string(entry.pw_uid) + ")";
    return false;
  }
  if (entry.pw_uid == 0) {
    return true;
  }
  if (!reserveListeningSockets(config, error)) {
    error = where + "binding the ports before becoming " + name + ": " + error;
    return false;
  }
  if (::initgroups(name.c_str(), entry.pw_gid) != 0) {
    error = where + errnoText("initgroups");
    return false;
  }
  if (::setgid(entry.pw_gid) != 0) {
    error = where + errnoText("setgid");
    return false;
  }
  if (::setuid(entry.pw_uid) != 0) {
    error = where + errnoText("setuid");
    return false;
  }
  // Root must be gone for good: real, effective and saved ids all changed.
  if (::setuid(0) == 0 || ::seteuid(0) == 0 || ::geteuid() != entry.pw_uid || ::getegid() != entry.pw_gid) {
    error = where + "root could be regained after becoming " + name;
    return false;
  }
  return true;
}

void warnIfRoot(const config::Config& config) {
  if (::geteuid() != 0) {
    return;
  }
  log::warn("-", "running_as_root")
      .kv("note", config.node.user.empty() ? "set node.user to run unprivileged once the ports are bound"
                                           : "node.user names root");
}

}  // namespace mxgate::app
