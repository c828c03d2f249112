// Load generator for bench/outbound_bench.py: what a tenant's application does when it sends.
// Two modes, each with S sessions (one thread each, blocking sockets on loopback):
//   smtp  STARTTLS (RFC 3207) or implicit TLS, AUTH PLAIN (RFC 4954), then messages back to
//         back on the connection (MAIL, RCPT and DATA pipelined, RFC 2920), a new connection
//         every --per-connection messages, like an application's connection pool;
//   http  POST of a JSON message to the send API over HTTP/1.1 keep-alive, Bearer token.
// A message counts as sent only on its 250 (smtp) or 202 (http): both mean "synced to the
// spool" for the servers measured. Prints one JSON object: counts, elapsed seconds, and the
// end-of-data -> reply latency percentiles in milliseconds.
//
// Built by the benchmark itself (g++ -O2 ... -lssl -lcrypto); not part of the product.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string mode = "smtp";
  std::string host = "127.0.0.1";
  int port = 0;
  bool implicit_tls = false;
  bool tls = true;
  std::string user;
  std::string secret;
  std::string from;
  std::string to;
  std::string path = "/v1/messages";
  long count = 1000;
  int sessions = 20;
  size_t size = 4096;
  long per_connection = 100;
};

std::atomic<long> next_message{0};
std::atomic<long> sent{0};
std::atomic<long> refused{0};
std::atomic<long> broken{0};
std::mutex samples_mutex;
std::vector<double> samples_ms;
std::string first_error;

void noteError(const std::string& what) {
  std::lock_guard<std::mutex> lock(samples_mutex);
  if (first_error.empty()) {
    first_error = what;
  }
}

std::string base64(const std::string& in) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += digits[v >> 18];
    out += digits[(v >> 12) & 63];
    out += digits[(v >> 6) & 63];
    out += digits[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += digits[v >> 18];
    out += digits[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += digits[v >> 18];
    out += digits[(v >> 12) & 63];
    out += digits[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// One connection: a socket, then optionally TLS on it, with a small read buffer.
class Connection {
 public:
  Connection(const Options& options) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(options.port));
    inet_pton(AF_INET, options.host.c_str(), &address.sin_addr);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error(std::string("connect: ") + strerror(errno));
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void startTls(SSL_CTX* context) {
    ssl_ = SSL_new(context);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      throw std::runtime_error("TLS handshake failed");
    }
  }

  void write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const int n = ssl_ ? SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done))
                         : static_cast<int>(::write(fd_, bytes.data() + done, bytes.size() - done));
      if (n <= 0) {
        throw std::runtime_error("write failed");
      }
      done += static_cast<size_t>(n);
    }
  }

  // One line without its CRLF.
  std::string line() {
    for (;;) {
      const size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string out = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return out;
      }
      fill();
    }
  }

  // Exactly n bytes.
  std::string bytes(size_t n) {
    while (buffer_.size() < n) {
      fill();
    }
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

  // A (possibly multi-line) SMTP reply: its code and last line.
  int reply(std::string* text = nullptr) {
    for (;;) {
      const std::string got = line();
      if (got.size() < 3) {
        throw std::runtime_error("short reply: " + got);
      }
      if (got.size() == 3 || got[3] == ' ') {
        if (text != nullptr) {
          *text = got;
        }
        return std::atoi(got.substr(0, 3).c_str());
      }
    }
  }

 private:
  void fill() {
    char chunk[16384];
    const int n = ssl_ ? SSL_read(ssl_, chunk, sizeof chunk) : static_cast<int>(::read(fd_, chunk, sizeof chunk));
    if (n <= 0) {
      throw std::runtime_error("connection closed");
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

std::string filler(size_t size) {
  const std::string line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn\r\n";
  std::string out;
  while (out.size() + line.size() <= size) {
    out += line;
  }
  return out;
}

std::string smtpMessage(const Options& options, long number) {
  return "From: <" + options.from + ">\r\nTo: <" + options.to + ">\r\nSubject: outbound bench " +
         std::to_string(number) + "\r\nDate: Mon, 07 Dec 2026 00:00:00 +0000\r\nMessage-ID: <bench-" +
         std::to_string(number) + "-" + std::to_string(getpid()) + "@" +
         options.from.substr(options.from.find('@') + 1) + ">\r\nMIME-Version: 1.0\r\n" +
         "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + filler(options.size) + ".\r\n";
}

std::string jsonMessage(const Options& options, long number) {
  std::string text = filler(options.size);
  std::string escaped;
  for (char c : text) {
    escaped += c == '\r' ? std::string("\\r") : c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return "{\"from\":\"" + options.from + "\",\"to\":[\"" + options.to + "\"],\"subject\":\"outbound bench " +
         std::to_string(number) + "\",\"text\":\"" + escaped + "\"}";
}

double millisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Takes the next message number, or -1 when all are taken.
long take(const Options& options) {
  const long number = next_message.fetch_add(1);
  return number < options.count ? number : -1;
}

void record(std::vector<double>& local, double ms, bool ok, const std::string& reply) {
  if (ok) {
    ++sent;
    local.push_back(ms);
  } else {
    ++refused;
    noteError(reply);
  }
}

// One SMTP connection: greeting, EHLO, TLS, AUTH, then up to per_connection messages.
// Returns false when no message is left.
bool smtpConnection(const Options& options, SSL_CTX* context, std::vector<double>& local) {
  Connection connection(options);
  std::string text;
  if (options.implicit_tls) {
    connection.startTls(context);
  }
  if (connection.reply(&text) != 220) {
    throw std::runtime_error("greeting: " + text);
  }
  connection.write("EHLO bench.client.test\r\n");
  connection.reply(&text);
  if (options.tls && !options.implicit_tls) {
    connection.write("STARTTLS\r\n");
    if (connection.reply(&text) != 220) {
      throw std::runtime_error("STARTTLS: " + text);
    }
    connection.startTls(context);
    connection.write("EHLO bench.client.test\r\n");
    connection.reply(&text);
  }
  connection.write("AUTH PLAIN " + base64(std::string(1, '\0') + options.user + '\0' + options.secret) + "\r\n");
  if (connection.reply(&text) != 235) {
    throw std::runtime_error("AUTH: " + text);
  }
  for (long i = 0; i < options.per_connection; ++i) {
    const long number = take(options);
    if (number < 0) {
      connection.write("QUIT\r\n");
      return false;
    }
    connection.write("MAIL FROM:<" + options.from + ">\r\nRCPT TO:<" + options.to + ">\r\nDATA\r\n");
    const int mail = connection.reply(&text);
    const int rcpt = connection.reply(&text);
    const int data = connection.reply(&text);
    if (data != 354) {
      record(local, 0, false, text);
      if (mail == 250 && rcpt == 250) {
        throw std::runtime_error("DATA: " + text);
      }
      connection.write("RSET\r\n");
      connection.reply();
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    connection.write(smtpMessage(options, number));
    const int code = connection.reply(&text);
    record(local, millisSince(start), code == 250, text);
  }
  connection.write("QUIT\r\n");
  return true;
}

// One HTTP/1.1 keep-alive connection: up to per_connection POSTs.
bool httpConnection(const Options& options, SSL_CTX* context, std::vector<double>& local) {
  Connection connection(options);
  if (options.tls) {
    connection.startTls(context);
  }
  for (long i = 0; i < options.per_connection; ++i) {
    const long number = take(options);
    if (number < 0) {
      return false;
    }
    const std::string body = jsonMessage(options, number);
    const auto start = std::chrono::steady_clock::now();
    connection.write("POST " + options.path + " HTTP/1.1\r\nHost: " + options.host +
                     "\r\nAuthorization: Bearer " + options.user + "." + options.secret +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body);
    const std::string status = connection.line();
    size_t length = 0;
    bool close_after = false;
    for (std::string header = connection.line(); !header.empty(); header = connection.line()) {
      std::string lower = header;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower.rfind("content-length:", 0) == 0) {
        length = std::strtoul(lower.c_str() + 15, nullptr, 10);
      } else if (lower.rfind("connection:", 0) == 0 && lower.find("close") != std::string::npos) {
        close_after = true;
      }
    }
    const std::string answer = connection.bytes(length);
    record(local, millisSince(start), status.find(" 202 ") != std::string::npos, status + " " + answer);
    if (close_after) {
      return true;
    }
  }
  return true;
}

void session(const Options& options, SSL_CTX* context) {
  std::vector<double> local;
  bool more = true;
  while (more) {
    try {
      more = options.mode == "http" ? httpConnection(options, context, local)
                                    : smtpConnection(options, context, local);
    } catch (const std::exception& error) {
      ++broken;
      noteError(error.what());
      if (broken.load() > options.count / 10 + 100) {
        break;  // the server is gone: stop rather than spin
      }
    }
  }
  std::lock_guard<std::mutex> lock(samples_mutex);
  samples_ms.insert(samples_ms.end(), local.begin(), local.end());
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) {
    return 0;
  }
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--mode") options.mode = value;
    else if (key == "--host") options.host = value;
    else if (key == "--port") options.port = std::atoi(value.c_str());
    else if (key == "--tls") {
      options.tls = value != "none";
      options.implicit_tls = value == "implicit";
    } else if (key == "--user") options.user = value;
    else if (key == "--secret") options.secret = value;
    else if (key == "--from") options.from = value;
    else if (key == "--to") options.to = value;
    else if (key == "--path") options.path = value;
    else if (key == "--count") options.count = std::atol(value.c_str());
    else if (key == "--sessions") options.sessions = std::atoi(value.c_str());
    else if (key == "--size") options.size = std::strtoul(value.c_str(), nullptr, 10);
    else if (key == "--per-connection") options.per_connection = std::atol(value.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  if (options.port <= 0 || options.user.empty() || options.from.empty() || options.to.empty()) {
    std::fprintf(stderr,
                 "usage: submit_source --mode smtp|http --port P --tls starttls|implicit|none --user U --secret S "
                 "--from A --to B [--count N --sessions S --size BYTES --per-connection M --path P]\n");
    std::exit(2);
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);  // loopback peers with test certificates
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.sessions; ++i) {
    threads.emplace_back(session, std::cref(options), context);
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  const double seconds = millisSince(start) / 1000.0;
  std::printf("{\"sent\": %ld, \"refused\": %ld, \"broken_connections\": %ld, \"seconds\": %.3f, "
              "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"first_error\": %s}\n",
              sent.load(), refused.load(), broken.load(), seconds, percentile(samples_ms, 0.5),
              percentile(samples_ms, 0.99), jsonString(first_error).c_str());
  SSL_CTX_free(context);
  return sent.load() == options.count ? 0 : 1;
}
