// The admin CLI (see include/mxgate/admin/cli.h). Blocking socket I/O; CLI process only.
#include "mxgate/admin/cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "mxgate/admin/api.h"
#include "mxgate/base/ascii.h"
#include "mxgate/io/stream.h"
#include "mxgate/mail/address.h"

namespace mxgate::admin {
namespace {

using nlohmann::json;

struct HttpResult {
  int status = 0;
  std::string body;
  std::string error;
};

// Who runs the CLI, for the daemon's audit log.
std::string cliActor() {
  std::string name;
  if (const passwd* entry = ::getpwuid(::getuid())) {
    name = entry->pw_name;
  } else {
    name = std::to_string(::getuid());
  }
  if (const char* sudo = std::getenv("SUDO_USER")) {
    name = std::string(sudo) + "(sudo:" + name + ")";
  }
  return "cli:" + name;
}

HttpResult request(const config::Config& config, const std::string& method, const std::string& path,
                   const std::string& token, const std::string& body = "") {
  HttpResult result;
  sockaddr_storage address{};
  if (!io::parseAddress(config.admin.address, config.admin.port, address)) {
    result.error = "admin.address is not a numeric address";
    return result;
  }
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{60, 0};
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
                    "\r\nX-Mxgate-Actor: " + cliActor() + "\r\nContent-Length: " + std::to_string(body.size()) +
                    (body.empty() ? "" : "\r\nContent-Type: application/json") + "\r\nConnection: close\r\n\r\n" + body;
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
    const std::string send_at = message.value("send_at", "");
    if (message.value("active", false)) {
      state = "active";
    } else if (state == "queued" && !send_at.empty() && message.value("attempts", 0ULL) == 0) {
      state = "sched";  // a scheduled send not yet due
    }
    std::printf("%-20s %-6s %-6s %9llu %8llu  <%s>\n", message.value("id", "").c_str(), state.c_str(),
                age(message.value("received_at", "")).c_str(),
                static_cast<unsigned long long>(message.value("size", 0ULL)),
                static_cast<unsigned long long>(message.value("attempts", 0ULL)),
                message.value("mail_from", "").c_str());
    if (!send_at.empty()) {
      std::printf("%48s    send at %s\n", "", send_at.c_str());
    }
    for (const auto& recipient : message["recipients"]) {
      std::printf("%48s -> %s [%s]%s%s\n", "", recipient.value("address", "").c_str(),
                  recipient.value("state", "").c_str(), recipient.value("last_reply", "").empty() ? "" : " ",
                  recipient.value("last_reply", "").c_str());
    }
  }
  std::printf("%zu message(s)\n", messages.size());
}

void printQuarantine(const json& entries) {
  std::printf("%-20s %-12s %-11s %-6s %-11s %-4s  %s\n", "QUEUE ID", "TENANT", "REASON", "AGE", "EXPIRES", "HOLD",
              "FROM -> TO  (DETAIL)");
  for (const auto& entry : entries) {
    std::string recipients;
    for (const auto& recipient : entry["recipients"]) {
      recipients += (recipients.empty() ? "" : ", ") + recipient.get<std::string>();
    }
    std::printf("%-20s %-12s %-11s %-6s %-11s %-4s  <%s> -> %s  (%s)\n", entry.value("id", "").c_str(),
                entry.value("tenant", "").c_str(), entry.value("reason", "").c_str(),
                age(entry.value("quarantined_at", "")).c_str(), entry.value("expires_at", "").substr(0, 10).c_str(),
                entry.value("legal_hold", false) ? "yes" : "no", entry.value("mail_from", "").c_str(),
                recipients.c_str(), entry.value("detail", "").c_str());
  }
  std::printf("%zu entr%s\n", entries.size(), entries.size() == 1 ? "y" : "ies");
}

void printAudit(const json& records) {
  for (const auto& record : records) {
    std::printf("%s  %-24s %-15s %-12s %-20s %s\n", record.value("at", "").c_str(), record.value("actor", "").c_str(),
                record.value("action", "").c_str(), record.value("tenant", "").c_str(),
                record.value("id", "").c_str(), record.value("detail", "").c_str());
  }
}

void printQuarantineDetail(const json& body) {
  printQuarantine(json::array({body}));
  const json& message = body["message"];
  if (message.is_object()) {
    const json& verdicts = message["verdicts"];
    std::printf("\nverdicts: spf=%s dmarc=%s (p=%s, From %s) virus=%s %s\n", verdicts.value("spf", "-").c_str(),
                verdicts.value("dmarc", "-").c_str(), verdicts.value("dmarc_policy", "-").c_str(),
                verdicts.value("from_domain", "-").c_str(), verdicts.value("virus", "-").c_str(),
                verdicts.value("virus_name", "").c_str());
    for (const auto& signature : verdicts["dkim"]) {
      std::printf("          dkim=%s d=%s s=%s %s\n", signature.value("result", "").c_str(),
                  signature.value("domain", "").c_str(), signature.value("selector", "").c_str(),
                  signature.value("algorithm", "").c_str());
    }
    std::printf("\n");
    printTable(json::array({message}));
  } else {
    std::printf("\nthe message is no longer in the spool\n");
  }
  std::printf("\n%s\naudit:\n", body.value("headers", "").c_str());
  printAudit(body["audit"]);
}

// `credentials add` shows the secret (once), `ls` a table, `revoke` what it did.
void printCredentials(const std::string& verb, const json& body) {
  if (verb == "add") {
    std::printf("username: %s\nsecret: %s\n", body.value("username", "").c_str(), body.value("secret", "").c_str());
    std::fprintf(stderr, "mxgate: the secret is shown only this once; mxgate keeps only its hash\n");
    return;
  }
  if (verb == "revoke") {
    std::printf("%s revoked\n", body.value("username", "").c_str());
    return;
  }
  std::printf("%-40s %-16s %-5s %-20s %s\n", "USERNAME", "TENANT", "KIND", "CREATED", "REVOKED");
  for (const auto& entry : body["credentials"]) {
    std::printf("%-40s %-16s %-5s %-20s %s\n", entry.value("username", "").c_str(), entry.value("tenant", "").c_str(),
                entry.value("kind", "").c_str(), entry.value("created_at", "").c_str(),
                entry.value("revoked", false) ? entry.value("revoked_at", "").c_str() : "-");
  }
}

// Reads "--name VALUE" options into a query string; flags without values are kept in flags.
std::string optionsQuery(const std::vector<std::string>& args, size_t from,
                         std::initializer_list<std::string_view> names, std::vector<std::string>& positional,
                         bool& force) {
  std::string query;
  for (size_t i = from; i < args.size(); ++i) {
    if (args[i] == "--force") {
      force = true;
      continue;
    }
    bool matched = false;
    for (std::string_view name : names) {
      if (args[i] == "--" + std::string(name) && i + 1 < args.size()) {
        query += (query.empty() ? "?" : "&") + std::string(name) + "=" + args[++i];
        matched = true;
        break;
      }
    }
    if (!matched) {
      positional.push_back(args[i]);
    }
  }
  return query;
}

int usage() {
  std::cerr << "usage: mxgate queue ls [--limit N] | show ID | retry ID | delete ID\n"
               "       mxgate quarantine ls [--tenant T] [--reason R] [--limit N]\n"
               "       mxgate quarantine show|release|delete|hold|unhold ID [--tenant T] [--force]\n"
               "       mxgate audit [--limit N]\n"
               "       mxgate webhooks ls | replay ID | replay --all [--tenant T]\n"
               "       mxgate credentials add --tenant T --name N [--kind smtp|api] | ls [--tenant T] | revoke USERNAME\n"
               "       mxgate suppression ls|add ADDRESS...|remove ADDRESS...|import FILE --tenant T [--detail TEXT]\n"
               "       mxgate shaping ls | resume SITE\n"
               "       mxgate drain [--until-empty] [--timeout SECONDS] [--no-wait]\n"
               "       (each with [--json] [--config PATH])\n";
  return 2;
}

// The request for a command, or false on a usage error.
bool buildRequest(const std::string& group, const std::vector<std::string>& args, std::string& method,
                  std::string& path) {
  std::vector<std::string> positional;
  bool force = false;
  if (group == "audit") {
    path = "/v1/audit" + optionsQuery(args, 0, {"limit"}, positional, force);
    method = "GET";
    return positional.empty() && !force;
  }
  if (args.empty()) {
    return false;
  }
  const std::string& verb = args[0];
  if (group == "webhooks") {
    const std::string query = optionsQuery(args, 1, {"tenant"}, positional, force);
    if (verb == "ls" && positional.empty() && query.empty()) {
      method = "GET";
      path = "/v1/webhooks";
      return !force;
    }
    method = "POST";
    if (verb == "replay" && positional.size() == 1 && positional[0] == "--all") {
      path = "/v1/webhooks/replay" + query;
      return !force;
    }
    if (verb == "replay" && positional.size() == 1 && query.empty()) {
      path = "/v1/webhooks/" + positional[0] + "/replay";
      return !force;
    }
    return false;
  }
  if (group == "shaping") {
    if (verb == "ls" && args.size() == 1) {
      method = "GET";
      path = "/v1/shaping";
      return true;
    }
    // A site is exchanger names joined by ',' or "provider:<name>": nothing to escape in a query.
    if (verb == "resume" && args.size() == 2 &&
        std::all_of(args[1].begin(), args[1].end(), [](char c) {
          const auto byte = static_cast<unsigned char>(c);
          return ascii::isAlpha(byte) || ascii::isDigit(byte) || std::string_view(".-_,:").find(c) != std::string_view::npos;
        })) {
      method = "POST";
      path = "/v1/shaping/resume?site=" + args[1];
      return true;
    }
    return false;
  }
  if (group == "credentials") {
    const std::string query = optionsQuery(args, 1, {"tenant", "name", "kind"}, positional, force);
    if (force) {
      return false;
    }
    if (verb == "add" && positional.empty()) {
      method = "POST";
      path = "/v1/credentials" + query;
      return query.find("tenant=") != std::string::npos && query.find("name=") != std::string::npos;
    }
    if (verb == "ls" && positional.empty()) {
      method = "GET";
      path = "/v1/credentials" + query;
      return query.find("name=") == std::string::npos && query.find("kind=") == std::string::npos;
    }
    if (verb == "revoke" && positional.size() == 1 && query.empty()) {
      method = "POST";
      path = "/v1/credentials/" + positional[0] + "/revoke";
      return true;
    }
    return false;
  }
  if (group == "queue") {
    std::string query = optionsQuery(args, 1, {"limit"}, positional, force);
    if (verb == "ls" && positional.empty()) {
      method = "GET";
      path = "/v1/queue" + (query.empty() ? "?limit=1000" : query);
      return true;
    }
    if ((verb == "show" || verb == "retry" || verb == "delete") && positional.size() == 1 && query.empty()) {
      path = "/v1/queue/" + positional[0] + (verb == "retry" ? "/retry" : "");
      method = verb == "show" ? "GET" : verb == "delete" ? "DELETE" : "POST";
      return !force;
    }
    return false;
  }
  if (verb == "ls") {
    path = "/v1/quarantine" + optionsQuery(args, 1, {"tenant", "reason", "limit"}, positional, force);
    method = "GET";
    return positional.empty() && !force;
  }
  std::string query = optionsQuery(args, 1, {"tenant"}, positional, force);
  if (positional.size() != 1 || (force && verb != "release")) {
    return false;
  }
  if (force) {
    query += (query.empty() ? "?" : "&") + std::string("force=1");
  }
  const std::string base = "/v1/quarantine/" + positional[0];
  if (verb == "show" || verb == "delete") {
    method = verb == "show" ? "GET" : "DELETE";
    path = base + query;
  } else if (verb == "release" || verb == "hold" || verb == "unhold") {
    method = "POST";
    path = base + "/" + verb + query;
  } else {
    return false;
  }
  return true;
}

// The admin token of the daemon on this configuration's spool; false when there is none.
bool readToken(const config::Config& config, std::string& token) {
  std::ifstream in(tokenPath(config));
  return in && std::getline(in, token) && !token.empty();
}

}  // namespace

void compareWithRunning(const config::Config& config, std::ostream& out) {
  std::string token;
  if (!readToken(config, token)) {
    return;
  }
  const HttpResult result = request(config, "GET", "/v1/config", token);
  const json body = json::parse(result.body, nullptr, false);
  if (!result.error.empty() || result.status != 200 || !body.is_object() || !body["settings"].is_object()) {
    out << "running daemon: not compared (" << (result.error.empty() ? "the admin API answered " +
                                                                           std::to_string(result.status)
                                                                     : result.error)
        << ")\n";
    return;
  }
  std::map<std::string, std::string> running;
  for (const auto& [key, value] : body["settings"].items()) {
    if (value.is_string()) {
      running[key] = value.get<std::string>();
    }
  }
  const std::vector<config::SettingChange> changes = config::changedSettings(running, config.settings);
  out << "running daemon: " << changes.size() << " setting(s) differ from this file\n";
  for (const config::SettingChange& change : changes) {
    out << "  " << change.key << ": " << change.running.value_or("(none)") << " -> " << change.next.value_or("(none)")
        << (change.needs_restart ? " (needs a restart)" : " (a reload applies it: kill -HUP)") << "\n";
  }
}

namespace {

// Addresses per request of `suppression add|remove|import` (the admin API takes bodies up to 64 KiB).
constexpr size_t kSuppressionChunk = 200;

struct ImportLines {
  std::vector<std::string> addresses;
  json bad = json::array();  // {"line", "text", "error"}
};

// The addresses of an import file: one per line, '#' starts a comment, blank lines skipped.
bool readImportFile(const std::string& path, ImportLines& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string_view text = ascii::trim(std::string_view(line).substr(0, line.find('#')));
    if (text.empty()) {
      continue;
    }
    mail::Address address;
    if (mail::parseMailbox(text, true, address) != mail::AddressError::None) {
      out.bad.push_back({{"line", number}, {"text", std::string(text)}, {"error", "not an address (local@domain)"}});
      continue;
    }
    out.addresses.push_back(address.str());
  }
  return true;
}

// `mxgate suppression ...`: ls in one request; add, remove and import in requests of
// kSuppressionChunk addresses, their answers summed.
int runSuppressionCommand(const config::Config& config, const std::vector<std::string>& args, bool as_json,
                          const std::string& token) {
  if (args.empty()) {
    return usage();
  }
  const std::string& verb = args[0];
  std::vector<std::string> positional;
  bool force = false;
  optionsQuery(args, 1, {"tenant", "limit", "detail"}, positional, force);
  std::string tenant;
  std::string limit = "100000";
  std::string detail;
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--tenant") {
      tenant = args[i + 1];
    } else if (args[i] == "--limit") {
      limit = args[i + 1];
    } else if (args[i] == "--detail") {
      detail = args[i + 1];
    }
  }
  const bool listing = verb == "ls" && positional.empty();
  const bool changing = (verb == "add" || verb == "remove") && !positional.empty();
  const bool importing = verb == "import" && positional.size() == 1;
  if (tenant.empty() || force || !(listing || changing || importing)) {
    return usage();
  }
  if (listing) {
    const HttpResult result = request(config, "GET", "/v1/suppressions?tenant=" + tenant + "&limit=" + limit, token);
    if (!result.error.empty()) {
      std::cerr << "mxgate: " << result.error << "\n";
      return 3;
    }
    const json body = json::parse(result.body, nullptr, false);
    const bool ok = result.status == 200 && body.is_object();
    if (as_json || !ok) {
      std::cout << (ok || body.is_discarded() ? result.body : body.value("error", result.body) + "\n");
      return ok ? 0 : 1;
    }
    std::printf("%-40s %-12s %-20s %-24s %s\n", "ADDRESS", "REASON", "CREATED", "QUEUE ID", "DETAIL");
    for (const auto& entry : body["suppressions"]) {
      std::printf("%-40s %-12s %-20s %-24s %s\n", entry.value("address", "").c_str(), entry.value("reason", "").c_str(),
                  entry.value("created_at", "").c_str(), entry.value("queue_id", "").c_str(),
                  entry.value("detail", "").c_str());
    }
    if (!body.value("next", "").empty()) {
      std::printf("(more entries follow; raise --limit)\n");
    }
    return 0;
  }
  ImportLines lines;
  if (importing) {
    if (!readImportFile(positional[0], lines)) {
      std::cerr << "mxgate: cannot read " << positional[0] << "\n";
      return 1;
    }
  } else {
    lines.addresses = positional;
  }
  const bool removing = verb == "remove";
  const std::string path = std::string(removing ? "/v1/suppressions/remove" : "/v1/suppressions") + "?tenant=" + tenant;
  json changed = json::array();
  json unchanged = json::array();
  json invalid = json::array();
  for (size_t from = 0; from < lines.addresses.size(); from += kSuppressionChunk) {
    json body = {{"addresses", json::array()}};
    for (size_t i = from; i < std::min(lines.addresses.size(), from + kSuppressionChunk); ++i) {
      body["addresses"].push_back(lines.addresses[i]);
    }
    if (!removing) {
      body["import"] = importing;
      body["detail"] = detail;
    }
    const HttpResult result = request(config, "POST", path, token, body.dump());
    if (!result.error.empty()) {
      std::cerr << "mxgate: " << result.error << "\n";
      return 3;
    }
    const json answer = json::parse(result.body, nullptr, false);
    if (result.status != 200 || !answer.is_object()) {
      std::cerr << "mxgate: " << (answer.is_object() ? answer.value("error", result.body) : result.body) << "\n";
      return 1;
    }
    for (const auto& entry : answer[removing ? "removed" : "added"]) {
      changed.push_back(entry);
    }
    for (const auto& entry : answer[removing ? "not_listed" : "already"]) {
      unchanged.push_back(entry);
    }
    for (const auto& entry : answer["invalid"]) {
      invalid.push_back(entry);
    }
  }
  const std::string changed_key = removing ? "removed" : "added";
  const std::string unchanged_key = removing ? "not_listed" : "already";
  if (as_json) {
    json out = {{changed_key, changed}, {unchanged_key, unchanged}, {"invalid", invalid}};
    if (importing) {
      out["bad_lines"] = lines.bad;
    }
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& bad : lines.bad) {
      std::fprintf(stderr, "%s:%llu: %s: %s\n", positional[0].c_str(),
                   static_cast<unsigned long long>(bad.value("line", 0ULL)), bad.value("text", "").c_str(),
                   bad.value("error", "").c_str());
    }
    for (const auto& entry : invalid) {
      std::fprintf(stderr, "%s: %s\n", entry.value("address", "").c_str(), entry.value("error", "").c_str());
    }
    std::printf("%zu %s, %zu %s, %zu bad\n", changed.size(), removing ? "removed" : "added", unchanged.size(),
                removing ? "not listed" : "already listed", lines.bad.size() + invalid.size());
  }
  return lines.bad.empty() && invalid.empty() ? 0 : 1;
}

// `mxgate drain [--until-empty] [--timeout SECONDS] [--no-wait]`: asks the daemon to drain,
// then (unless --no-wait) prints its progress once a second until it has exited.
int runDrainCommand(const config::Config& config, const std::vector<std::string>& args, bool as_json,
                    const std::string& token) {
  std::string query;
  bool wait = true;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--until-empty") {
      query += (query.empty() ? "?" : "&") + std::string("until_empty=1");
    } else if (args[i] == "--timeout" && i + 1 < args.size() && !args[i + 1].empty() &&
               std::all_of(args[i + 1].begin(), args[i + 1].end(), [](char c) { return ascii::isDigit(c); })) {
      query += (query.empty() ? "?" : "&") + std::string("timeout=") + args[++i];
    } else if (args[i] == "--no-wait") {
      wait = false;
    } else {
      return usage();
    }
  }
  HttpResult result = request(config, "POST", "/v1/drain" + query, token);
  if (!result.error.empty()) {
    std::cerr << "mxgate: " << result.error << "\n";
    return 3;
  }
  if (result.status != 202) {
    const json body = json::parse(result.body, nullptr, false);
    std::cerr << "mxgate: " << (body.is_object() ? body.value("error", result.body) : result.body) << "\n";
    return 1;
  }
  std::string last;
  for (;;) {
    const json body = json::parse(result.body, nullptr, false);
    if (body.is_object()) {
      std::string line;
      if (as_json) {
        line = body.dump();
      } else {
        line = "draining" + std::string(body.value("until_empty", false) ? " until empty" : "") + ": " +
               std::to_string(body.value("sessions", 0ULL)) + " session(s), " +
               std::to_string(body.value("active", 0ULL)) + " delivery(ies) under way, " +
               std::to_string(body.value("queued", 0ULL)) + " queued";
        if (body["remaining_ms"].is_number()) {
          line += ", " + std::to_string(body.value("remaining_ms", 0ULL) / 1000) + " s left";
        }
      }
      if (line != last) {
        std::cout << line << std::endl;
        last = line;
      }
    }
    if (!wait) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    result = request(config, "GET", "/v1/drain", token);
    if (!result.error.empty()) {
      if (!as_json) {
        std::cout << "mxgate has stopped" << std::endl;
      }
      return 0;
    }
  }
}

}  // namespace

int runAdminCommand(const config::Config& config, const std::string& group, const std::vector<std::string>& args,
                    bool as_json) {
  std::string method;
  std::string path;
  const bool own_requests = group == "drain" || group == "suppression";
  if (!own_requests && !buildRequest(group, args, method, path)) {
    return usage();
  }
  std::string token;
  if (!readToken(config, token)) {
    std::cerr << "mxgate: cannot read the admin token from " << tokenPath(config) << "\n";
    return 3;
  }
  if (group == "drain") {
    return runDrainCommand(config, args, as_json, token);
  }
  if (group == "suppression") {
    return runSuppressionCommand(config, args, as_json, token);
  }
  HttpResult result = request(config, method, path, token);
  if (!result.error.empty()) {
    std::cerr << "mxgate: " << result.error << "\n";
    return 3;
  }
  json body = json::parse(result.body, nullptr, false);
  const bool ok = result.status >= 200 && result.status < 300;
  const std::string verb = group == "audit" ? "ls" : args[0];
  if (as_json || body.is_discarded()) {
    std::cout << result.body;
  } else if (ok && group == "queue" && verb == "ls") {
    printTable(body["messages"]);
  } else if (ok && group == "queue" && verb == "show") {
    printTable(json::array({body}));
  } else if (ok && group == "quarantine" && verb == "ls") {
    printQuarantine(body["entries"]);
  } else if (ok && group == "quarantine" && verb == "show") {
    printQuarantineDetail(body);
  } else if (ok && group == "audit") {
    printAudit(body["audit"]);
  } else if (ok && group == "webhooks" && verb == "ls") {
    for (const auto& endpoint : body["endpoints"]) {
      std::printf("%-16s %-9s %s\n", endpoint.value("tenant", "").c_str(),
                  endpoint.value("disabled", false) ? "disabled" : "enabled", endpoint.value("url", "").c_str());
    }
    for (const auto& endpoint : body["events"]) {
      std::printf("%-16s %-9s %s (events: %llu pending, %llu dead%s%s)\n", endpoint.value("tenant", "").c_str(),
                  endpoint.value("disabled", false) ? "disabled" : "enabled", endpoint.value("url", "").c_str(),
                  static_cast<unsigned long long>(endpoint.value("pending", 0ULL)),
                  static_cast<unsigned long long>(endpoint.value("dead", 0ULL)),
                  endpoint.value("last_error", "").empty() ? "" : "; last error: ",
                  endpoint.value("last_error", "").c_str());
    }
    std::printf("\ndead-lettered webhook deliveries:\n");
    printTable(body["dead"]);
  } else if (ok && group == "shaping" && verb == "ls") {
    for (const auto& site : body["sites"]) {
      const json backoff = site.value("backoff", json::object());
      std::printf("%-40s %3llu connection(s)%s%s%s%s%s\n", site.value("site", "").c_str(),
                  static_cast<unsigned long long>(site.value("connections", 0ULL)), backoff.empty() ? "" : "  ",
                  backoff.value("action", "").c_str(), backoff.empty() ? "" : " until ",
                  backoff.value("until", "").c_str(),
                  backoff.empty() ? "" : (" (" + backoff.value("rule", "") + ")").c_str());
    }
  } else if (ok && group == "credentials") {
    printCredentials(verb, body);
  } else if (ok && group == "webhooks" && body.contains("replayed")) {
    std::printf("%zu message(s) requeued\n", body["replayed"].size());
  } else {
    std::cout << body.value("detail", body.value("error", result.body)) << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace mxgate::admin
