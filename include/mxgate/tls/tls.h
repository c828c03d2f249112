// TLS for SMTP over libuv: OpenSSL contexts and a transport-agnostic session that runs
// over memory BIOs (RFC 3207 STARTTLS and RFC 8314 implicit TLS, server and client side).
//
// Contexts are immutable once built and shared by all threads. A Session belongs to one
// connection and is used only on that connection's loop thread. Nothing here does I/O:
// the caller feeds received ciphertext in and sends takeOutgoing() on the wire after
// every call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace mxgate::tls {

class Context {
 public:
  // Server context: TLS >= min_version (12 or 13), AEAD-only TLS 1.2 suites with forward
  // secrecy, no renegotiation, no compression. Returns null and sets error on failure
  // (unreadable file, key not matching the certificate, ...).
  static std::shared_ptr<Context> server(const std::string& cert_file, const std::string& key_file,
                                         int min_version, std::string& error);
  // Client context for delivery that accepts any certificate: opportunistic or unauthenticated
  // encrypted TLS (RFC 7435).
  static std::shared_ptr<Context> client(int min_version, std::string& error);
  // Client context that verifies the server's certificate chain against the PEM file ca_file
  // ("" = the system's CA store); each Session also checks the server name it was given
  // (RFC 6125). Null and error set when the CA certificates cannot be loaded.
  static std::shared_ptr<Context> verifyingClient(int min_version, const std::string& ca_file, std::string& error);
  // Client context for DANE (RFC 7672): no trust store; sessions given TLSA records verify the
  // server by them, sessions without are unauthenticated like client().
  static std::shared_ptr<Context> daneClient(int min_version, std::string& error);

  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SSL_CTX* raw() const { return ctx_; }

 private:
  explicit Context(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// Creates a self-signed certificate and key (key file mode 0600, parent directories made)
// unless both files already exist. Returns false and sets error on failure.
bool ensureSelfSigned(const std::string& cert_file, const std::string& key_file,
                      const std::string& hostname, std::string& error);

// One TLSA record (RFC 6698 §2.1) as DANE matches it: usage, selector, matching type, binary data.
struct TlsaRecord {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::string data;
};

// DANE authentication of a client session (RFC 7672 §3): the server is authenticated by its
// usable TLSA records, DANE-TA(2) and DANE-EE(3) (usages 0 and 1 are ignored). A DANE-EE match
// needs no name or expiry check (§3.1.1); a chain to a DANE-TA anchor must name one of names
// (§3.2.3: the TLSA base domain, i.e. the MX host, first, then e.g. the next-hop domain).
struct DaneAuthentication {
  std::vector<TlsaRecord> records;
  std::vector<std::string> names;
};

// A client session kept for resumption (RFC 8446 §2.2 tickets, RFC 5077): shared by the
// connections of one pool, freed with the last of them.
using SavedSession = std::shared_ptr<SSL_SESSION>;

// What a client session brings beyond the server name.
struct ClientOptions {
  const DaneAuthentication* dane = nullptr;  // on a Context::daneClient(): authenticate by these TLSA records
  SavedSession resume;                       // offered for resumption (same server, same policy only)
};

class Session {
 public:
  enum class Role { Server, Client };
  enum class Status { Ok, Closed, Error };

  // sni: the server name a client sends (ignored for servers); options: a client's DANE
  // records and the session it offers for resumption.
  Session(std::shared_ptr<Context> context, Role role, std::string_view sni = {}, const ClientOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Client: produces the ClientHello into the outgoing buffer. Servers wait for feed().
  void startHandshake();
  // Feeds ciphertext from the network; appends decrypted application data to plaintext.
  // Closed: the peer sent close_notify. Error: fatal (the alert is in the outgoing buffer).
  Status feed(std::string_view ciphertext, std::string& plaintext);
  // Encrypts application data into the outgoing buffer; false after a fatal error.
  bool write(std::string_view plaintext);
  // Queues close_notify.
  void shutdown();

  bool handshakeDone() const;
  bool hasOutgoing() const;
  std::string takeOutgoing();

  std::string version() const;  // e.g. "TLSv1.3"; "" before the handshake
  std::string cipher() const;
  const std::string& lastError() const { return error_; }
  // Why a verifying client rejected the server's certificate, e.g. "hostname mismatch" or
  // "certificate has expired"; "" when the certificate passed or is not verified.
  std::string verifyError() const;
  // The same as OpenSSL's X509_V_* code; X509_V_OK (0) when it passed or is not verified.
  long verifyCode() const;
  // A verifying client whose handshake completed: the server's certificate chain and name
  // passed (PKIX), or a TLSA record matched (DANE); for a resumed session, when they did in the
  // handshake that made it.
  bool verified() const;
  // Client: the handshake resumed the offered session.
  bool resumed() const;
  // Client: the session to offer next time, or null when the server gave none resumable.
  SavedSession saved() const;

 private:
  void drainErrors();
  void enableDane(const DaneAuthentication& dane);
  std::shared_ptr<Context> context_;
  SSL* ssl_ = nullptr;
  std::string error_;
};

}  // namespace mxgate::tls
