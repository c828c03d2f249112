// A TCP connection on one loop, with optional TLS (STARTTLS or implicit) layered through
// tls::Session's memory BIOs. Used by the SMTP server sessions and the SMTP delivery client.
//
// The owner implements Handler. Callbacks arrive on the loop thread. The owner may call
// close() from any callback; onStreamClosed() is always the last callback and the only place
// where the owner may destroy the Stream. Each write() becomes at most one socket write
// (uv_try_write, then one queued uv_write for the rest), so an SMTP reply is one segment.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>

#include "mxgate/io/loop.h"
#include "mxgate/tls/tls.h"

namespace mxgate::io {

class Stream {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // Application bytes (decrypted when TLS is active).
    virtual void onStreamData(std::string_view data) = 0;
    // connect() finished: status 0 or a libuv error code.
    virtual void onStreamConnected(int status) {}
    // The TLS handshake completed.
    virtual void onStreamTlsReady() {}
    // End of input: the peer closed, a read error, or a fatal TLS error. Close the stream.
    virtual void onStreamEnd(std::string_view reason) = 0;
    // Everything written so far has been handed to the kernel.
    virtual void onStreamDrained() {}
    // Last callback: the handle is closed; the owner may now destroy the Stream.
    virtual void onStreamClosed() = 0;
  };

  Stream(Loop& loop, Handler& handler);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Loop& loop() { return loop_; }

  // Server side: accepts a pending connection from listener; sets TCP_NODELAY.
  int accept(uv_stream_t* listener);
  // Client side: starts connecting; the result arrives in onStreamConnected.
  int connect(const struct sockaddr* address);

  void startReading();
  void stopReading();
  bool reading() const { return reading_; }

  // Sends application bytes (encrypted when TLS is active).
  void write(std::string_view data);
  size_t pendingOutput() const { return pending_output_; }

  // Switches the connection to TLS. Bytes written before this call went out in plaintext;
  // everything read after it is ciphertext. A client sends its ClientHello immediately
  // (with the options of tls::Session: DANE records, a session to resume).
  void startTls(std::shared_ptr<tls::Context> context, tls::Session::Role role, std::string_view sni = {},
                const tls::ClientOptions& options = {});
  bool tlsActive() const { return tls_ != nullptr; }
  const tls::Session* tlsSession() const { return tls_.get(); }

  // Closes the handle (idempotent); onStreamClosed follows. Unsent output is discarded.
  void close();
  // Stops reading and closes once everything written so far has been sent (a final reply
  // such as "221" or "421" must reach the peer before the close).
  void closeGracefully();
  bool closing() const { return closing_; }

  // Numeric address and port of the peer, from getpeername at accept/connect time.
  const std::string& peerAddress() const { return peer_address_; }
  uint16_t peerPort() const { return peer_port_; }
  // Numeric local address, e.g. the listener address the peer connected to.
  const std::string& localAddress() const { return local_address_; }

 private:
  struct WriteRequest;
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf);
  static void onWritten(uv_write_t* request, int status);
  static void onConnect(uv_connect_t* request, int status);
  static void onClose(uv_handle_t* handle);
  void handleCiphertext(std::string_view data);
  void writeRaw(std::string_view bytes);
  void flushTls();
  void fail(std::string_view reason);
  void sendCloseNotify();
  void readAddresses();

  Loop& loop_;
  Handler& handler_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_request_{};
  std::unique_ptr<tls::Session> tls_;
  std::string plaintext_;  // scratch buffer for decrypted bytes
  size_t pending_output_ = 0;
  bool reading_ = false;
  bool closing_ = false;
  bool close_when_drained_ = false;
  bool close_notify_sent_ = false;
  bool ended_ = false;
  bool tls_ready_reported_ = false;
  std::string peer_address_;
  uint16_t peer_port_ = 0;
  std::string local_address_;
};

// "192.0.2.1" / "2001:db8::1" for an IPv4/IPv6 socket address (port ignored).
std::string formatAddress(const struct sockaddr* address);
// Parses a numeric IPv4/IPv6 address and port into storage; false if not numeric.
bool parseAddress(const std::string& host, uint16_t port, struct sockaddr_storage& out);

}  // namespace mxgate::io
