// A test DNS server for unit tests: tests/integration/dns_server.py started as a child process
// on a free 127.0.0.1 port, fed from zone data given as JSON (see dns_server.py for the format
// and its faults). Test thread only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

extern char** environ;

namespace mxgate::test {

// dns_server.py as a child process: the zone goes to a temporary file, the port comes from the
// "PORT <n>" line on its stdout; SIGTERM on destruction. Its stdin is a pipe only we hold, so
// it also exits when this process dies without running destructors (--watch-stdin).
class DnsServerProcess {
 public:
  explicit DnsServerProcess(const std::string& zone) {
    char path[] = "/tmp/mxgate-dns-zone-XXXXXX";
    const int fd = mkstemp(path);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(write(fd, zone.data(), zone.size()) == static_cast<ssize_t>(zone.size()));
    close(fd);
    zone_path_ = path;

    int out[2];
    int in[2];
    BOOST_TEST_REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    BOOST_TEST_REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    const std::string script = std::string(MXGATE_SOURCE_DIR) + "/tests/integration/dns_server.py";
    const char* argv[] = {"/usr/bin/python3", script.c_str(), "--zone", zone_path_.c_str(), "--watch-stdin", nullptr};
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(in[0]);
    stdin_ = in[1];
    BOOST_TEST_REQUIRE(rc == 0);

    std::string line;
    pollfd readable{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&readable, 1, 20000) == 1) {
      char buffer[64];
      const ssize_t n = read(out[0], buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      line.append(buffer, static_cast<size_t>(n));
    }
    close(out[0]);
    BOOST_TEST_REQUIRE(line.rfind("PORT ", 0) == 0u, "dns_server.py printed: " << line);
    port_ = static_cast<uint16_t>(std::stoi(line.substr(5)));
  }

  ~DnsServerProcess() {
    close(stdin_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    unlink(zone_path_.c_str());
  }

  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  uint16_t port_ = 0;
  std::string zone_path_;
};

}  // namespace mxgate::test
