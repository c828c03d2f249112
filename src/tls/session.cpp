// One TLS connection over a pair of OpenSSL memory BIOs, independent of the transport:
// ciphertext goes in through feed(), ciphertext to send comes out of takeOutgoing().
// Used for STARTTLS (RFC 3207) and implicit TLS (RFC 8314) on both sides; the client sends
// SNI (RFC 6066 §3, host names only, never IP literals) and checks the host name (RFC 6125), or
// authenticates the server by TLSA records (DANE, RFC 7672 §3), and offers a saved session for
// resumption.
// A Session runs on its connection's loop thread only; every call first clears the thread's
// OpenSSL error queue so that stale errors from other sessions cannot leak in.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "mxgate/tls/tls.h"
#include "openssl_util.h"

namespace mxgate::tls {
namespace {

// Largest piece handed to one BIO_write/SSL_read call (their lengths are int).
constexpr size_t kMaxChunk = 1U << 30;
static_assert(kMaxChunk <= static_cast<size_t>(INT_MAX));
// Plaintext is decrypted one TLS record (at most 16 KiB, RFC 8446 §5.1) at a time.
constexpr size_t kReadStep = 16 * 1024;

bool isIpLiteral(const std::string& host) {
  in6_addr address;
  return inet_pton(AF_INET, host.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

}  // namespace

Session::Session(std::shared_ptr<Context> context, Role role, std::string_view sni, const ClientOptions& options)
    : context_(std::move(context)) {
  ERR_clear_error();
  ssl_ = SSL_new(context_->raw());
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    drainErrors();
    return;
  }
  SSL_set_bio(ssl_, rbio, wbio);
  if (role == Role::Server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  // A DNS name is presented and compared without its root dot (RFC 6066 §3).
  std::string host(sni);
  if (!host.empty() && host.back() == '.') {
    host.pop_back();
  }
  if (host.find('\0') != std::string::npos) {
    error_ = "tls: server name contains a NUL byte";
    return;
  }
  const bool verify = (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0;
  if (verify && host.empty()) {
    error_ = "tls: a verifying client session needs the server's host name";
    return;
  }
  if (!host.empty() && !isIpLiteral(host) && SSL_set_tlsext_host_name(ssl_, host.c_str()) != 1) {
    drainErrors();
    return;
  }
  if (verify) {
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl_, host.c_str()) != 1) {
      drainErrors();
    }
  }
  if (options.dane != nullptr) {
    enableDane(*options.dane);
  }
  if (options.resume && SSL_set_session(ssl_, options.resume.get()) != 1) {
    drainErrors();
  }
}

// OpenSSL's DANE verification (SSL_CTX_dane_enable(3)): the base domain and the names a
// DANE-TA chain may carry, no name checks for DANE-EE (as RFC 7672 §3.1.1 wants for SMTP),
// and the records; only with at least one usable record does the handshake verify the peer.
void Session::enableDane(const DaneAuthentication& dane) {
  if (dane.names.empty() || SSL_dane_enable(ssl_, dane.names.front().c_str()) <= 0) {
    drainErrors();
    return;
  }
  SSL_dane_set_flags(ssl_, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (size_t i = 1; i < dane.names.size(); ++i) {
    if (SSL_add1_host(ssl_, dane.names[i].c_str()) != 1) {
      drainErrors();
      return;
    }
  }
  int usable = 0;
  for (const TlsaRecord& record : dane.records) {
    if (record.usage < 2) {
      continue;  // PKIX-TA(0) and PKIX-EE(1) are not for SMTP (RFC 7672 §3.1.3)
    }
    const int added = SSL_dane_tlsa_add(ssl_, record.usage, record.selector, record.matching_type,
                                        reinterpret_cast<const unsigned char*>(record.data.data()), record.data.size());
    if (added < 0) {
      drainErrors();
      return;
    }
    usable += added > 0 ? 1 : 0;
  }
  if (usable == 0) {
    error_ = "tls: none of the TLSA records is usable";
    return;
  }
  SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
}

Session::~Session() { SSL_free(ssl_); }

void Session::drainErrors() {
  std::string reasons = detail::takeErrors("TLS failure without an OpenSSL reason");
  // With SSL_VERIFY_PEER a failed chain or name check aborts the handshake, so a recorded
  // verification failure is the reason; without it the result is informational only.
  if (const std::string verify = verifyError(); !verify.empty()) {
    reasons += " (certificate: " + verify + ")";
  }
  error_ = "tls: " + reasons;
}

void Session::startHandshake() {
  if (!error_.empty() || SSL_is_server(ssl_) == 1) {
    return;
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result != 1 && SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ) {
    drainErrors();
  }
}

Session::Status Session::feed(std::string_view ciphertext, std::string& plaintext) {
  if (!error_.empty()) {
    return Status::Error;
  }
  ERR_clear_error();
  while (!ciphertext.empty()) {
    const size_t chunk = std::min(ciphertext.size(), kMaxChunk);
    if (BIO_write(SSL_get_rbio(ssl_), ciphertext.data(), static_cast<int>(chunk)) !=
        static_cast<int>(chunk)) {
      drainErrors();
      return Status::Error;
    }
    ciphertext.remove_prefix(chunk);
  }
  if (SSL_is_init_finished(ssl_) != 1) {
    const int result = SSL_do_handshake(ssl_);
    if (result != 1) {
      if (SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ) {
        return Status::Ok;
      }
      drainErrors();
      return Status::Error;
    }
  }
  char buffer[kReadStep];
  for (;;) {
    size_t got = 0;
    ERR_clear_error();
    const int result = SSL_read_ex(ssl_, buffer, sizeof(buffer), &got);
    if (result == 1) {
      plaintext.append(buffer, got);
      continue;
    }
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ: return Status::Ok;
      case SSL_ERROR_ZERO_RETURN: return Status::Closed;
      default: drainErrors(); return Status::Error;
    }
  }
}

bool Session::write(std::string_view plaintext) {
  if (!error_.empty() || SSL_is_init_finished(ssl_) != 1) {
    return false;
  }
  while (!plaintext.empty()) {
    size_t written = 0;
    ERR_clear_error();
    const int result =
        SSL_write_ex(ssl_, plaintext.data(), std::min(plaintext.size(), kMaxChunk), &written);
    if (result != 1) {
      drainErrors();
      return false;
    }
    plaintext.remove_prefix(written);
  }
  return true;
}

void Session::shutdown() {
  if (!error_.empty() || SSL_is_init_finished(ssl_) != 1) {
    return;
  }
  ERR_clear_error();
  // Returns 0 (close_notify queued, the peer's not seen yet) or 1; neither is an error here,
  // and the session needs nothing more from the peer.
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

bool Session::handshakeDone() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1; }

bool Session::hasOutgoing() const {
  return ssl_ != nullptr && BIO_ctrl_pending(SSL_get_wbio(ssl_)) > 0;
}

std::string Session::takeOutgoing() {
  std::string out;
  if (ssl_ == nullptr) {
    return out;
  }
  BIO* wbio = SSL_get_wbio(ssl_);
  // The whole pending ciphertext in one allocation, read straight from the BIO.
  out.resize(BIO_ctrl_pending(wbio));
  size_t done = 0;
  while (done < out.size()) {
    const int got =
        BIO_read(wbio, out.data() + done, static_cast<int>(std::min(out.size() - done, kMaxChunk)));
    if (got <= 0) {
      break;
    }
    done += static_cast<size_t>(got);
  }
  out.resize(done);
  return out;
}

std::string Session::verifyError() const {
  const long verify = verifyCode();
  return verify == X509_V_OK ? "" : X509_verify_cert_error_string(verify);
}

long Session::verifyCode() const {
  if (ssl_ == nullptr || (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) == 0) {
    return X509_V_OK;
  }
  return SSL_get_verify_result(ssl_);
}

bool Session::verified() const {
  return handshakeDone() && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0 && verifyCode() == X509_V_OK;
}

bool Session::resumed() const {
  return handshakeDone() && SSL_session_reused(ssl_) == 1;
}

SavedSession Session::saved() const {
  SSL_SESSION* session = ssl_ != nullptr ? SSL_get1_session(ssl_) : nullptr;
  if (session == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return SavedSession(session, SSL_SESSION_free);
}

std::string Session::version() const {
  return handshakeDone() ? SSL_get_version(ssl_) : std::string();
}

std::string Session::cipher() const {
  return handshakeDone() ? SSL_get_cipher_name(ssl_) : std::string();
}

}  // namespace mxgate::tls
