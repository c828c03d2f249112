// The queue CLI (see include/mxgate/admin/cli.h). Blocking socket I/O; CLI process only.
#include "mxgate/admin/cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mxgate/admin/api.h"
#include "mxgate/io/stream.h"

namespace mxgate::admin {
namespace {

using nlohmann::json;

struct HttpResult {
  int status = 0;
  std::string body;
  std::string error;
};

HttpResult request(const config::Config& config, const std::string& method, const std::string& path,
                   const std::string& token) {
  HttpResult result;
  sockaddr_storage address{};
  if (!io::parseAddress(config.admin.address, config.admin.port, address)) {
    result.error = "admin.address is not a numeric address";
    return result;
  }
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  socklen_t length = address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    result.error = "cannot connect to the admin API at " + config.admin.address + ":" +
                   std::to_string(config.admin.port) + " (is mxgate running?)";
    if (fd >= 0) {
      ::close(fd);
    }
    return result;
  }
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: mxgate\r\nAuthorization: Bearer " + token +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    result.error = "cannot send the request";
    ::close(fd);
    return result;
  }
  std::string response;
  char buffer[65536];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
    response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) {
    result.error = "malformed response from the admin API";
    return result;
  }
  result.status = std::atoi(response.c_str() + 9);
  result.body = response.substr(head_end + 4);
  return result;
}

std::string age(const std::string& iso) {
  std::tm tm{};
  if (iso.empty() || strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) {
    return "-";
  }
  auto then = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - then).count();
  if (seconds < 120) {
    return std::to_string(seconds) + "s";
  }
  if (seconds < 7200) {
    return std::to_string(seconds / 60) + "m";
  }
  if (seconds < 172800) {
    return std::to_string(seconds / 3600) + "h";
  }
  return std::to_string(seconds / 86400) + "d";
}

void printTable(const json& messages) {
  std::printf("%-20s %-6s %-6s %9s %8s  %s\n", "QUEUE ID", "STATE", "AGE", "SIZE", "ATTEMPTS", "FROM -> TO (LAST REPLY)");
  for (const auto& message : messages) {
    std::string state = message.value("state", "");
    if (message.value("active", false)) {
      state = "active";
    }
    std::printf("%-20s %-6s %-6s %9llu %8llu  <%s>\n", message.value("id", "").c_str(), state.c_str(),
                age(message.value("received_at", "")).c_str(),
                static_cast<unsigned long long>(message.value("size", 0ULL)),
                static_cast<unsigned long long>(message.value("attempts", 0ULL)),
                message.value("mail_from", "").c_str());
    for (const auto& recipient : message["recipients"]) {
      std::printf("%48s -> %s [%s]%s%s\n", "", recipient.value("address", "").c_str(),
                  recipient.value("state", "").c_str(), recipient.value("last_reply", "").empty() ? "" : " ",
                  recipient.value("last_reply", "").c_str());
    }
  }
  std::printf("%zu message(s)\n", messages.size());
}

int usage() {
  std::cerr << "usage: mxgate queue ls [--limit N] | show <id> | retry <id> | delete <id>  [--json] [--config PATH]\n";
  return 2;
}

}  // namespace

int runQueueCommand(const config::Config& config, const std::vector<std::string>& args, bool as_json) {
  if (args.empty()) {
    return usage();
  }
  std::string token_path = tokenPath(config);
  std::ifstream token_in(token_path);
  std::string token;
  if (!token_in || !std::getline(token_in, token) || token.empty()) {
    std::cerr << "mxgate: cannot read the admin token from " << token_path << "\n";
    return 3;
  }
  const std::string& verb = args[0];
  std::string method;
  std::string path;
  if (verb == "ls") {
    std::string limit = "1000";
    for (size_t i = 1; i + 1 < args.size(); ++i) {
      if (args[i] == "--limit") {
        limit = args[i + 1];
      }
    }
    method = "GET";
    path = "/v1/queue?limit=" + limit;
  } else if ((verb == "show" || verb == "retry" || verb == "delete") && args.size() >= 2) {
    path = "/v1/queue/" + args[1];
    method = verb == "show" ? "GET" : verb == "delete" ? "DELETE" : "POST";
    if (verb == "retry") {
      path += "/retry";
    }
  } else {
    return usage();
  }
  HttpResult result = request(config, method, path, token);
  if (!result.error.empty()) {
    std::cerr << "mxgate: " << result.error << "\n";
    return 3;
  }
  json body = json::parse(result.body, nullptr, false);
  if (as_json || body.is_discarded()) {
    std::cout << result.body;
  } else if (verb == "ls" && result.status == 200) {
    printTable(body["messages"]);
  } else if (verb == "show" && result.status == 200) {
    printTable(json::array({body}));
  } else {
    std::cout << body.value("detail", body.value("error", result.body)) << "\n";
  }
  return result.status >= 200 && result.status < 300 ? 0 : 1;
}

}  // namespace mxgate::admin
