// libcurl multi driven by a libuv loop (see include/mxgate/webhook/client.h). Everything here
// runs on the client's loop thread, including every curl callback.
#include "mxgate/webhook/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <sys/socket.h>

#include <cstdlib>
#include <mutex>

#include "mxgate/base/ip_network.h"

namespace mxgate::webhook {

struct Client::Transfer {
  Client* client = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Request request;
  std::function<void(Response)> done;
  Response response;
  bool body_over_cap = false;
  curl_slist* resolve = nullptr;
  char error[CURL_ERROR_SIZE] = {};
};

struct Client::Socket {
  uv_poll_t poll{};
  curl_socket_t fd = CURL_SOCKET_BAD;
  Client* client = nullptr;
};

namespace {

constexpr size_t kBodyStartBytes = 512;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Client::Transfer*>(user);
  const size_t bytes = size * count;
  if (const size_t cap = transfer->request.max_body; cap != 0) {
    if (transfer->response.body.size() + bytes > cap) {
      transfer->body_over_cap = true;
      return CURL_WRITEFUNC_ERROR;
    }
    transfer->response.body.append(data, bytes);
  }
  std::string& start = transfer->response.body_start;
  if (start.size() < kBodyStartBytes) {
    start.append(data, std::min(bytes, kBodyStartBytes - start.size()));
  }
  return bytes;
}

// The address policy, at every connect: refuses non-public addresses unless allowed.
curl_socket_t onOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* transfer = static_cast<Client::Transfer*>(user);
  if (!transfer->request.allow_private) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    if (address->family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr;
    } else if (address->family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr;
    }
    if (raw == nullptr || inet_ntop(address->family, raw, text, sizeof text) == nullptr ||
        isNonPublicAddress(text)) {
      transfer->response.refused_address = true;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void closeSocketHandle(uv_handle_t* handle) { delete static_cast<Client::Socket*>(handle->data); }

}  // namespace

Client::Client(io::Loop& loop, uint32_t max_connections) : loop_(loop), max_connections_(max_connections) {
  globalInit();
}

Client::~Client() = default;

void Client::ensureStarted() {
  if (multi_ != nullptr) {
    return;
  }
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Client::onSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Client::onTimerChange);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  // Without an explicit size the connection cache follows the number of transfers under way
  // and closes connections as transfers finish: every POST would open a new one.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections_));
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_connections_));
  multi_ = multi;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_.uv(), timer_);
  timer_->data = this;
}

void Client::post(Request request, std::function<void(Response)> done) {
  start(std::move(request), true, std::move(done));
}

void Client::get(Request request, std::function<void(Response)> done) {
  start(std::move(request), false, std::move(done));
}

void Client::start(Request request, bool post, std::function<void(Response)> done) {
  if (stopped_) {
    Response response;
    response.error = "shutting down";
    done(std::move(response));
    return;
  }
  ensureStarted();
  auto* transfer = new Transfer;
  transfer->client = this;
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  CURL* easy = curl_easy_init();
  transfer->easy = easy;
  const Request& r = transfer->request;
  for (const std::string& header : r.headers) {
    transfer->headers = curl_slist_append(transfer->headers, header.c_str());
  }
  transfer->headers = curl_slist_append(transfer->headers, "Expect:");
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, r.https_only ? "https" : "http,https");
  for (const std::string& entry : r.resolve) {
    transfer->resolve = curl_slist_append(transfer->resolve, entry.c_str());
  }
  if (transfer->resolve != nullptr) {
    curl_easy_setopt(easy, CURLOPT_RESOLVE, transfer->resolve);
  }
  if (!r.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, r.ca_file.c_str());
  }
  if (r.max_body != 0) {
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_body));
  }
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  // A proxy named by the environment (http_proxy, HTTPS_PROXY, ALL_PROXY) would carry the POST
  // past the address policy: "" turns proxies off whatever the environment says, and "*"
  // exempts every host from one (CURLOPT_PROXY(3), CURLOPT_NOPROXY(3)).
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  if (post) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body->data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body->size()));
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "mxgate-webhook/1");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &onOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, transfer);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error);
  ++in_flight_;
  transfers_.insert(transfer);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
}

void Client::checkDone() {
  int pending = 0;
  while (CURLMsg* message = curl_multi_info_read(static_cast<CURLM*>(multi_), &pending)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    CURL* easy = message->easy_handle;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &transfer);
    Response& response = transfer->response;
    if (message->data.result == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      response.status = static_cast<int>(status);
      curl_off_t retry_after = 0;
      if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
        response.retry_after_s = static_cast<uint64_t>(retry_after);
      }
      char* content_type = nullptr;
      if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
        response.content_type = content_type;
      }
    } else if (transfer->body_over_cap || message->data.result == CURLE_FILESIZE_EXCEEDED) {
      response.error = "response body over " + std::to_string(transfer->request.max_body) + " bytes";
      response.body.clear();
    } else {
      response.error = transfer->error[0] != '\0' ? transfer->error : curl_easy_strerror(message->data.result);
      response.peer_unverified = message->data.result == CURLE_PEER_FAILED_VERIFICATION;
      if (response.refused_address) {
        response.error = "address not allowed by the webhook address policy (allow_private = false)";
      }
    }
    char* ip = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr && *ip != '\0') {
      long port = 0;
      curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port);
      response.remote = std::string(ip) + ":" + std::to_string(port);
    }
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(transfer->headers);
    curl_slist_free_all(transfer->resolve);
    --in_flight_;
    transfers_.erase(transfer);
    auto done = std::move(transfer->done);
    Response result = std::move(transfer->response);
    delete transfer;
    done(std::move(result));
  }
}

int Client::onSocket(void* easy, int fd, int what, void* user, void* socket_data) {
  auto* client = static_cast<Client*>(user);
  auto* socket = static_cast<Socket*>(socket_data);
  if (what == CURL_POLL_REMOVE) {
    if (socket != nullptr) {
      uv_poll_stop(&socket->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll), closeSocketHandle);
      if (client->multi_ != nullptr) {
        curl_multi_assign(static_cast<CURLM*>(client->multi_), fd, nullptr);
      }
    }
    return 0;
  }
  if (socket == nullptr) {
    socket = new Socket;
    socket->fd = fd;
    socket->client = client;
    uv_poll_init_socket(client->loop_.uv(), &socket->poll, fd);
    socket->poll.data = socket;
    curl_multi_assign(static_cast<CURLM*>(client->multi_), fd, socket);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
    events |= UV_READABLE;
  }
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
    events |= UV_WRITABLE;
  }
  uv_poll_start(&socket->poll, events, &Client::onPoll);
  return 0;
}

void Client::onPoll(uv_poll_t* poll, int status, int events) {
  auto* socket = static_cast<Socket*>(poll->data);
  Client* client = socket->client;
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if ((events & UV_READABLE) != 0) {
      flags |= CURL_CSELECT_IN;
    }
    if ((events & UV_WRITABLE) != 0) {
      flags |= CURL_CSELECT_OUT;
    }
  }
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(client->multi_), socket->fd, flags, &running);
  client->checkDone();
}

int Client::onTimerChange(void* multi, long timeout_ms, void* user) {
  auto* client = static_cast<Client*>(user);
  if (client->timer_ == nullptr) {
    return 0;
  }
  if (timeout_ms < 0) {
    uv_timer_stop(client->timer_);
  } else {
    uv_timer_start(client->timer_, &Client::onTimer, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void Client::onTimer(uv_timer_t* timer) {
  auto* client = static_cast<Client*>(timer->data);
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(client->multi_), CURL_SOCKET_TIMEOUT, 0, &running);
  client->checkDone();
}

void Client::shutdown() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (multi_ == nullptr) {
    return;
  }
  auto* multi = static_cast<CURLM*>(multi_);
  std::unordered_set<Transfer*> transfers;
  transfers.swap(transfers_);
  for (Transfer* transfer : transfers) {
    curl_multi_remove_handle(multi, transfer->easy);
    curl_easy_cleanup(transfer->easy);
    curl_slist_free_all(transfer->headers);
    curl_slist_free_all(transfer->resolve);
    --in_flight_;
    auto done = std::move(transfer->done);
    Response response = std::move(transfer->response);
    response.error = "shutting down";
    delete transfer;
    done(std::move(response));
  }
  multi_ = nullptr;
  curl_multi_cleanup(multi);
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  timer_ = nullptr;
}

}  // namespace mxgate::webhook
