// A counting SMTP sink with STARTTLS for bench/tls_policy_bench.py (compiled by that script:
// g++ -std=c++20 -O2 tls_sink.cpp -lssl -lcrypto -lpthread). Postfix's smtp-sink has no TLS.
//
//   tls_sink --listen ADDRESS:PORT --cert CHAIN.pem --key KEY.pem [--report-at N1,N2,...]
//
// One thread per connection, blocking sockets. Speaks enough SMTP for a relay client: EHLO (with
// PIPELINING, 8BITMIME and, before TLS, STARTTLS), HELO, STARTTLS, MAIL, RCPT, DATA (ends at a
// line holding only "."), RSET, NOOP, QUIT; anything else is 502. Replies are buffered and
// written when the input buffer is empty, so pipelined commands get their replies together.
// Every message is acknowledged with 250 and counted; the data is thrown away.
//
// TLS: OpenSSL's server defaults, i.e. the session cache on and TLS 1.3 session tickets on (two
// per full handshake), so clients can resume; resumed handshakes are counted.
//
// Standard output (line buffered): "READY" once listening, then for each N in --report-at, when
// the N-th message has been received (its final "." read, before its 250 is written):
//   REACHED <n> <CLOCK_MONOTONIC ns> <connections> <tls handshakes> <resumed handshakes>
// It runs until SIGTERM/SIGINT, then prints "FINAL <messages> <connections> <handshakes> <resumed>".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<long> g_messages{0};
std::atomic<long> g_connections{0};
std::atomic<long> g_handshakes{0};
std::atomic<long> g_resumed{0};
std::vector<long> g_report_at;
std::mutex g_out;
SSL_CTX* g_ctx = nullptr;

long long monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void counted() {
  const long n = ++g_messages;
  if (std::find(g_report_at.begin(), g_report_at.end(), n) != g_report_at.end()) {
    const long long now = monotonicNs();
    std::lock_guard<std::mutex> lock(g_out);
    std::printf("REACHED %ld %lld %ld %ld %ld\n", n, now, g_connections.load(), g_handshakes.load(), g_resumed.load());
    std::fflush(stdout);
  }
}

class Session {
 public:
  explicit Session(int fd) : fd_(fd) {}
  ~Session() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    close(fd_);
  }

  void run() {
    reply("220 sink.bench.test ESMTP tls_sink\r\n");
    std::string line;
    while (readLine(line)) {
      if (!command(line)) break;
    }
    flush();
  }

 private:
  // Reads more input; false on EOF or error. Pending replies are written first (PIPELINING:
  // the client waits for them only once it has sent everything it may send in one go).
  bool fill() {
    if (!flush()) return false;
    char buf[16384];
    int n;
    if (ssl_ != nullptr) {
      n = SSL_read(ssl_, buf, sizeof buf);
    } else {
      do n = static_cast<int>(recv(fd_, buf, sizeof buf, 0));
      while (n < 0 && errno == EINTR);
    }
    if (n <= 0) return false;
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }

  bool readLine(std::string& line) {
    for (;;) {
      const size_t eol = in_.find('\n', pos_);
      if (eol != std::string::npos) {
        line.assign(in_, pos_, eol + 1 - pos_);
        pos_ = eol + 1;
        return true;
      }
      if (in_.size() - pos_ > 4096) return false;  // a command line that long: give up
      compact();
      if (!fill()) return false;
    }
  }

  void compact() {
    if (pos_ > 0) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
  }

  // Message data up to and including the line ".": true when it was found.
  bool readData() {
    bool at_line_start = true;
    for (;;) {
      while (pos_ < in_.size()) {
        const size_t eol = in_.find('\n', pos_);
        if (eol == std::string::npos) {
          const size_t rest = in_.size() - pos_;
          if (at_line_start && rest < 3 && in_[pos_] == '.') break;  // maybe ".\r" of ".\r\n"
          pos_ = in_.size();
          at_line_start = false;
          break;
        }
        const size_t length = eol + 1 - pos_;
        if (at_line_start && length == 3 && in_.compare(pos_, 3, ".\r\n") == 0) {
          pos_ = eol + 1;
          return true;
        }
        pos_ = eol + 1;
        at_line_start = true;
      }
      compact();
      if (!fill()) return false;
    }
  }

  void reply(const char* text) { out_ += text; }

  bool flush() {
    size_t done = 0;
    while (done < out_.size()) {
      int n;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, out_.data() + done, static_cast<int>(out_.size() - done));
      } else {
        n = static_cast<int>(send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL));
        if (n < 0 && errno == EINTR) continue;
      }
      if (n <= 0) {
        out_.clear();
        return false;
      }
      done += static_cast<size_t>(n);
    }
    out_.clear();
    return true;
  }

  bool startTls() {
    reply("220 2.0.0 Ready to start TLS\r\n");
    if (!flush()) return false;
    in_.clear();  // RFC 3207: nothing sent before the handshake counts
    pos_ = 0;
    ssl_ = SSL_new(g_ctx);
    if (ssl_ == nullptr) return false;
    SSL_set_fd(ssl_, fd_);
    if (SSL_accept(ssl_) != 1) {
      ERR_clear_error();
      return false;
    }
    ++g_handshakes;
    if (SSL_session_reused(ssl_)) ++g_resumed;
    return true;
  }

  // Handles one command line; false to close the connection.
  bool command(const std::string& line) {
    std::string verb;
    for (char c : line) {
      if (c == ' ' || c == '\r' || c == '\n') break;
      verb += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (verb == "EHLO") {
      reply(ssl_ == nullptr ? "250-sink.bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
                            : "250-sink.bench.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    } else if (verb == "HELO") {
      reply("250 sink.bench.test\r\n");
    } else if (verb == "STARTTLS") {
      if (ssl_ != nullptr) {
        reply("503 5.5.1 TLS already active\r\n");
      } else {
        return startTls();
      }
    } else if (verb == "MAIL") {
      reply("250 2.1.0 Ok\r\n");
    } else if (verb == "RCPT") {
      reply("250 2.1.5 Ok\r\n");
    } else if (verb == "DATA") {
      reply("354 End data with <CR><LF>.<CR><LF>\r\n");
      if (!readData()) return false;
      counted();
      reply("250 2.0.0 Ok: queued\r\n");
    } else if (verb == "RSET" || verb == "NOOP") {
      reply("250 2.0.0 Ok\r\n");
    } else if (verb == "QUIT") {
      reply("221 2.0.0 Bye\r\n");
      return false;
    } else {
      reply("502 5.5.2 Command not recognized\r\n");
    }
    return true;
  }

  int fd_;
  SSL* ssl_ = nullptr;
  std::string in_;
  size_t pos_ = 0;
  std::string out_;
};

void stopHandler(int) {
  char line[160];
  const int n = std::snprintf(line, sizeof line, "FINAL %ld %ld %ld %ld\n", g_messages.load(), g_connections.load(),
                              g_handshakes.load(), g_resumed.load());
  if (n > 0) (void)!write(STDOUT_FILENO, line, static_cast<size_t>(n));
  _exit(0);
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: tls_sink --listen ADDRESS:PORT --cert CHAIN.pem --key KEY.pem [--report-at N1,N2]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen, cert, key;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    const std::string value = argv[i + 1];
    if (option == "--listen") listen = value;
    else if (option == "--cert") cert = value;
    else if (option == "--key") key = value;
    else if (option == "--report-at") {
      size_t start = 0;
      while (start <= value.size()) {
        const size_t comma = value.find(',', start);
        const std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) g_report_at.push_back(std::atol(item.c_str()));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else usage();
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || cert.empty() || key.empty()) usage();
  const std::string address = listen.substr(0, colon);
  const int port = std::atoi(listen.c_str() + colon + 1);

  g_ctx = SSL_CTX_new(TLS_server_method());
  if (g_ctx == nullptr || SSL_CTX_use_certificate_chain_file(g_ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(g_ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(g_ctx) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  static const unsigned char kContext[] = "tls_sink";
  SSL_CTX_set_session_id_context(g_ctx, kContext, sizeof kContext - 1);

  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1) usage();
  if (bind(listener, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(listener, 512) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, stopHandler);
  signal(SIGINT, stopHandler);
  {
    std::lock_guard<std::mutex> lock(g_out);
    std::printf("READY\n");
    std::fflush(stdout);
  }
  for (;;) {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      std::perror("accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++g_connections;
    std::thread([fd] {
      Session session(fd);
      session.run();
    }).detach();
  }
}
