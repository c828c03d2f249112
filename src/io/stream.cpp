// TCP stream with optional TLS over memory BIOs (see include/mxgate/io/stream.h).
// Runs on the owning loop's thread only.
#include "mxgate/io/stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace mxgate::io {

struct Stream::WriteRequest {
  uv_write_t request{};
  Stream* stream = nullptr;
  std::string bytes;
};

namespace {

// Reads are processed synchronously inside the read callback, so one buffer per thread
// serves every stream on that loop.
thread_local char t_read_buffer[65536];

}  // namespace

std::string formatAddress(const struct sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(address), text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      uv_ip6_name(v6, text, sizeof text);
    }
  }
  return text;
}

bool parseAddress(const std::string& host, uint16_t port, struct sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) {
    return true;
  }
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

Stream::Stream(Loop& loop, Handler& handler) : loop_(loop), handler_(handler) {
  uv_tcp_init(loop_.uv(), &tcp_);
  tcp_.data = this;
}

Stream::~Stream() = default;

int Stream::accept(uv_stream_t* listener) {
  int rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc == 0) {
    uv_tcp_nodelay(&tcp_, 1);
    readAddresses();
  }
  return rc;
}

int Stream::connect(const struct sockaddr* address) {
  connect_request_.data = this;
  return uv_tcp_connect(&connect_request_, &tcp_, address, &Stream::onConnect);
}

void Stream::onConnect(uv_connect_t* request, int status) {
  auto* self = static_cast<Stream*>(request->data);
  if (self->closing_) {
    return;
  }
  if (status == 0) {
    uv_tcp_nodelay(&self->tcp_, 1);
    self->readAddresses();
  }
  self->handler_.onStreamConnected(status);
}

void Stream::readAddresses() {
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    peer_address_ = formatAddress(reinterpret_cast<sockaddr*>(&address));
    peer_port_ = ntohs(address.ss_family == AF_INET
                           ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                           : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  length = sizeof address;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    local_address_ = formatAddress(reinterpret_cast<sockaddr*>(&address));
  }
}

void Stream::startReading() {
  if (!reading_ && !closing_ && !ended_) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Stream::onAlloc, &Stream::onRead) == 0;
  }
}

void Stream::stopReading() {
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Stream::onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = t_read_buffer;
  buf->len = sizeof t_read_buffer;
}

void Stream::onRead(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Stream*>(handle->data);
  if (self->closing_) {
    return;
  }
  if (nread < 0) {
    self->fail(nread == UV_EOF ? "eof" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  if (nread == 0) {
    return;
  }
  std::string_view data(buf->base, static_cast<size_t>(nread));
  if (self->tls_) {
    self->handleCiphertext(data);
  } else {
    self->handler_.onStreamData(data);
  }
}

void Stream::handleCiphertext(std::string_view data) {
  plaintext_.clear();
  tls::Session::Status status = tls_->feed(data, plaintext_);
  flushTls();
  if (status == tls::Session::Status::Error) {
    fail("tls: " + tls_->lastError());
    return;
  }
  if (!tls_ready_reported_ && tls_->handshakeDone()) {
    tls_ready_reported_ = true;
    handler_.onStreamTlsReady();
    if (closing_) {
      return;
    }
  }
  if (!plaintext_.empty()) {
    std::string chunk;
    chunk.swap(plaintext_);
    handler_.onStreamData(chunk);
    if (plaintext_.empty()) {
      chunk.clear();
      plaintext_.swap(chunk);  // keep the capacity for the next read
    }
  }
  if (status == tls::Session::Status::Closed && !closing_) {
    fail("tls close_notify");
  }
}

void Stream::fail(std::string_view reason) {
  if (ended_) {
    return;
  }
  ended_ = true;
  stopReading();
  handler_.onStreamEnd(reason);
}

void Stream::write(std::string_view data) {
  if (closing_ || data.empty()) {
    return;
  }
  if (tls_) {
    if (!tls_->write(data)) {
      fail("tls write before handshake");
      return;
    }
    flushTls();
    return;
  }
  writeRaw(data);
}

void Stream::flushTls() {
  if (tls_ && tls_->hasOutgoing()) {
    std::string out = tls_->takeOutgoing();
    writeRaw(out);
  }
}

void Stream::writeRaw(std::string_view bytes) {
  if (closing_) {
    return;
  }
  size_t offset = 0;
  if (pending_output_ == 0) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
    if (written == static_cast<int>(bytes.size())) {
      return;
    }
    if (written > 0) {
      offset = static_cast<size_t>(written);
    } else if (written != UV_EAGAIN) {
      fail(uv_strerror(written));
      return;
    }
  }
  auto* request = new WriteRequest;
  request->stream = this;
  request->bytes.assign(bytes.substr(offset));
  request->request.data = request;
  pending_output_ += request->bytes.size();
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  int rc = uv_write(&request->request, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &Stream::onWritten);
  if (rc != 0) {
    pending_output_ -= request->bytes.size();
    delete request;
    fail(uv_strerror(rc));
  }
}

void Stream::onWritten(uv_write_t* raw, int status) {
  auto* request = static_cast<WriteRequest*>(raw->data);
  Stream* self = request->stream;
  self->pending_output_ -= request->bytes.size();
  delete request;
  if (self->closing_) {
    return;
  }
  if (status < 0) {
    self->fail(uv_strerror(status));
    return;
  }
  if (self->pending_output_ == 0) {
    if (self->close_when_drained_) {
      self->close();
      return;
    }
    self->handler_.onStreamDrained();
  }
}

void Stream::startTls(std::shared_ptr<tls::Context> context, tls::Session::Role role, std::string_view sni,
                      const tls::ClientOptions& options) {
  tls_ = std::make_unique<tls::Session>(std::move(context), role, sni, options);
  if (role == tls::Session::Role::Client) {
    tls_->startHandshake();
    flushTls();
  }
}

void Stream::sendCloseNotify() {
  if (tls_ && tls_->handshakeDone() && !close_notify_sent_) {
    close_notify_sent_ = true;
    tls_->shutdown();
    flushTls();
  }
}

void Stream::close() {
  if (closing_) {
    return;
  }
  sendCloseNotify();
  closing_ = true;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Stream::onClose);
}

void Stream::closeGracefully() {
  stopReading();
  sendCloseNotify();
  if (pending_output_ == 0) {
    close();
  } else {
    close_when_drained_ = true;
  }
}

void Stream::onClose(uv_handle_t* handle) {
  auto* self = static_cast<Stream*>(handle->data);
  self->handler_.onStreamClosed();
}

}  // namespace mxgate::io
