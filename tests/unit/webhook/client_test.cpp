// The libcurl-on-libuv client against a real HTTP server on 127.0.0.1 (mxgate's own
// http::Server on a second loop): status codes, redirects not followed, the address policy,
// timeouts, connection reuse and many requests at once, shutdown with requests under way,
// proxies named by the environment never used, and GETs (MTA-STS policies) with a capped whole
// body, a content type and an address given in advance.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <initializer_list>
#include <map>
#include <mutex>
#include <thread>

#include "mxgate/http/server.h"
#include "mxgate/io/loop.h"
#include "mxgate/webhook/client.h"

using namespace mxgate;

namespace {

constexpr size_t kBodyCap = 65536;

// An HTTP server on its own loop whose answers depend on the path.
struct TestServer {
  io::Loop loop{"server"};
  std::mutex mutex;
  std::vector<http::Request> seen;
  std::vector<http::Respond> parked;  // /hang requests, never answered
  http::Server server{loop,
                      [this](const http::Request& request, http::Respond respond) {
                        {
                          std::lock_guard<std::mutex> lock(mutex);
                          seen.push_back(request);
                        }
                        http::Response response;
                        if (request.path == "/gone") {
                          response.status = 410;
                        } else if (request.path == "/redirect") {
                          response.status = 302;
                          response.headers.emplace_back("Location", "/ok");
                        } else if (request.path == "/busy") {
                          response.status = 503;
                          response.headers.emplace_back("Retry-After", "7");
                          response.body = "try later";
                        } else if (request.path == "/policy") {
                          response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
                          response.body = std::string(kBodyCap, 'p');
                        } else if (request.path == "/large") {
                          response.body = std::string(kBodyCap + 1, 'l');
                        } else if (request.path == "/hang") {
                          std::lock_guard<std::mutex> lock(mutex);
                          parked.push_back(std::move(respond));
                          return;
                        }
                        respond(std::move(response));
                      },
                      http::ServerLimits{http::RequestParser::Limits{8192, 1 << 20}}};
  uint16_t port = 0;

  TestServer() {
    std::string error;
    BOOST_REQUIRE_MESSAGE(server.bind("127.0.0.1", 0, error), error);
    port = server.port();
    loop.post([this] { server.start(); });
    loop.start();
  }
  ~TestServer() {
    loop.post([this] {
      parked.clear();
      server.stop();
    });
    loop.stop();
    loop.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

// A client on its own loop; post() waits for the response.
struct TestClient {
  io::Loop loop{"client"};
  webhook::Client client{loop, 8};
  TestClient() { loop.start(); }
  ~TestClient() {
    loop.post([this] { client.shutdown(); });
    loop.stop();
    loop.join();
  }
  webhook::Response post(webhook::Request request) { return run(std::move(request), &webhook::Client::post); }
  webhook::Response get(webhook::Request request) { return run(std::move(request), &webhook::Client::get); }
  webhook::Response run(webhook::Request request,
                        void (webhook::Client::*method)(webhook::Request, std::function<void(webhook::Response)>)) {
    std::promise<webhook::Response> result;
    loop.post([&] {
      (client.*method)(std::move(request), [&](webhook::Response r) { result.set_value(std::move(r)); });
    });
    return result.get_future().get();
  }
};

webhook::Request request(const std::string& url, std::string body = R"({"a":1})") {
  webhook::Request r;
  r.url = url;
  r.body = std::make_shared<const std::string>(std::move(body));
  r.headers = {"Content-Type: application/json", "webhook-id: msg_1"};
  r.allow_private = true;
  r.timeout = std::chrono::milliseconds(3000);
  return r;
}

// A TCP listener on 127.0.0.1 that only counts the connections made to it: it stands in for a
// proxy that a *_proxy environment variable names.
struct ConnectionCounter {
  int fd = -1;
  uint16_t port = 0;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::thread thread;

  ConnectionCounter() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(address.sin_port);
    thread = std::thread([this] {
      while (!stopping) {
        pollfd ready{fd, POLLIN, 0};
        if (::poll(&ready, 1, 20) > 0) {
          const int connection = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (connection >= 0) {
            ++connections;
            ::close(connection);
          }
        }
      }
    });
  }
  ~ConnectionCounter() {
    stopping = true;
    thread.join();
    ::close(fd);
  }
};

constexpr const char* kProxyVariables[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                           "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};

// Sets the given proxy variables (and clears every other one, and no_proxy) for its lifetime.
struct ProxyEnvironment {
  ProxyEnvironment(std::initializer_list<const char*> names, const std::string& proxy) {
    clear();
    for (const char* name : names) {
      ::setenv(name, proxy.c_str(), 1);
    }
  }
  ~ProxyEnvironment() { clear(); }
  static void clear() {
    for (const char* name : kProxyVariables) {
      ::unsetenv(name);
    }
    ::unsetenv("no_proxy");
    ::unsetenv("NO_PROXY");
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_client)

BOOST_AUTO_TEST_CASE(posts_body_and_headers_and_reads_status) {
  TestServer server;
  TestClient client;
  webhook::Response response = client.post(request(server.url("/ok"), std::string(100000, 'x')));
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.error.empty());
  BOOST_TEST(response.remote == "127.0.0.1:" + std::to_string(server.port));
  std::lock_guard<std::mutex> lock(server.mutex);
  BOOST_REQUIRE(server.seen.size() == 1u);
  BOOST_TEST(server.seen[0].method == "POST");
  BOOST_TEST(server.seen[0].body == std::string(100000, 'x'));
  BOOST_TEST(server.seen[0].header("webhook-id") == "msg_1");
  BOOST_TEST(server.seen[0].header("content-type") == "application/json");
  BOOST_TEST(server.seen[0].header("expect").empty());
}

BOOST_AUTO_TEST_CASE(error_statuses_retry_after_and_redirects_are_reported_not_followed) {
  TestServer server;
  TestClient client;
  BOOST_TEST(client.post(request(server.url("/gone"))).status == 410);
  webhook::Response busy = client.post(request(server.url("/busy")));
  BOOST_TEST(busy.status == 503);
  BOOST_TEST(busy.retry_after_s == 7u);
  BOOST_TEST(busy.body_start == "try later");
  BOOST_TEST(client.post(request(server.url("/redirect"))).status == 302);
  std::lock_guard<std::mutex> lock(server.mutex);
  BOOST_TEST(server.seen.size() == 3u);  // the redirect's target was never requested
}

BOOST_AUTO_TEST_CASE(get_keeps_a_capped_whole_body_at_an_address_given_in_advance) {
  TestServer server;
  TestClient client;
  const std::string port = std::to_string(server.port);
  webhook::Request policy = request("http://policy.invalid:" + port + "/policy");
  policy.resolve = {"policy.invalid:" + port + ":127.0.0.1"};
  policy.max_body = kBodyCap;
  const webhook::Response fetched = client.get(policy);
  BOOST_TEST(fetched.status == 200);
  BOOST_TEST(fetched.body == std::string(kBodyCap, 'p'));
  BOOST_TEST(fetched.content_type == "text/plain; charset=utf-8");
  webhook::Request large = request(server.url("/large"));
  large.max_body = kBodyCap;
  const webhook::Response refused = client.get(large);
  BOOST_TEST(refused.error == "response body over 65536 bytes");
  BOOST_TEST(refused.body.empty());
  webhook::Request plain = request(server.url("/policy"));
  plain.https_only = true;
  BOOST_TEST(!client.get(plain).error.empty());
  std::lock_guard<std::mutex> lock(server.mutex);
  BOOST_REQUIRE(server.seen.size() == 2u);  // https_only: the http URL was never requested
  BOOST_TEST(server.seen[0].method == "GET");
}

BOOST_AUTO_TEST_CASE(address_policy_refuses_loopback_unless_allowed) {
  TestServer server;
  TestClient client;
  webhook::Request r = request(server.url("/ok"));
  r.allow_private = false;
  webhook::Response refused = client.post(r);
  BOOST_TEST(refused.status == 0);
  BOOST_TEST(refused.refused_address);
  BOOST_TEST(refused.error.find("address policy") != std::string::npos);
  webhook::Request by_name = request("http://localhost:" + std::to_string(server.port) + "/ok");
  by_name.allow_private = false;
  BOOST_TEST(client.post(by_name).refused_address);
  std::lock_guard<std::mutex> lock(server.mutex);
  BOOST_TEST(server.seen.empty());
}

BOOST_AUTO_TEST_CASE(other_schemes_refused_and_timeouts_reported) {
  TestServer server;
  TestClient client;
  webhook::Response file = client.post(request("file:///etc/passwd"));
  BOOST_TEST(file.status == 0);
  BOOST_TEST(!file.error.empty());
  webhook::Request slow = request(server.url("/hang"));
  slow.timeout = std::chrono::milliseconds(200);
  webhook::Response timed_out = client.post(slow);
  BOOST_TEST(timed_out.status == 0);
  BOOST_TEST(timed_out.error.find("timed out") != std::string::npos, timed_out.error);
}

BOOST_AUTO_TEST_CASE(many_requests_at_once_all_complete) {
  TestServer server;
  TestClient client;
  constexpr int kRequests = 500;
  std::atomic<int> ok{0};
  std::promise<void> all_done;
  std::atomic<int> remaining{kRequests};
  client.loop.post([&] {
    for (int i = 0; i < kRequests; ++i) {
      client.client.post(request(server.url("/ok")), [&](webhook::Response response) {
        if (response.status == 200) {
          ok++;
        }
        if (--remaining == 0) {
          all_done.set_value();
        }
      });
    }
  });
  all_done.get_future().wait();
  BOOST_TEST(ok.load() == kRequests);
}

BOOST_AUTO_TEST_CASE(shutdown_fails_requests_under_way) {
  TestServer server;
  io::Loop loop("client");
  webhook::Client client(loop, 8);
  loop.start();
  std::promise<webhook::Response> result;
  loop.post([&] { client.post(request(server.url("/hang")), [&](webhook::Response r) { result.set_value(r); }); });
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard<std::mutex> lock(server.mutex);
    if (!server.parked.empty()) {
      break;
    }
  }
  loop.post([&] { client.shutdown(); });
  webhook::Response response = result.get_future().get();
  BOOST_TEST(response.error == "shutting down");
  std::promise<webhook::Response> after;
  loop.post([&] { client.post(request(server.url("/ok")), [&](webhook::Response r) { after.set_value(r); }); });
  BOOST_TEST(after.get_future().get().error == "shutting down");
  loop.stop();
  loop.join();
}

BOOST_AUTO_TEST_CASE(proxies_from_the_environment_are_never_used) {
  TestServer server;
  ConnectionCounter proxy;
  const std::string at = "127.0.0.1:" + std::to_string(proxy.port);
  {
    ProxyEnvironment environment({"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"},
                                 "http://" + at);
    TestClient client;
    webhook::Response response = client.post(request(server.url("/ok")));
    BOOST_TEST(response.status == 200, response.error);
  }
  {
    ProxyEnvironment environment({"ALL_PROXY"}, "socks5h://" + at);
    TestClient client;
    webhook::Response response = client.post(request(server.url("/ok")));
    BOOST_TEST(response.status == 200, response.error);
  }
  BOOST_TEST(proxy.connections.load() == 0);
  std::lock_guard<std::mutex> lock(server.mutex);
  BOOST_TEST(server.seen.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
