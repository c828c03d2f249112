// Unit tests for tls::Session: a server and a client session exchange bytes in memory
// (TLS 1.3 and 1.2, EC and RSA certificates), payloads split at random and byte by byte,
// refusal of old protocols and CBC-only clients, close_notify, garbage and tampered input,
// SNI and host name verification, and isolation from stale OpenSSL errors.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/test/unit_test.hpp>
#include <optional>
#include <random>

#include "tls_test_support.h"

using namespace mxgate::tls;
using namespace mxgate::tls::test;
using Status = Session::Status;

namespace {

std::string randomBytes(size_t size, std::mt19937& rng) {
  std::string bytes(size, '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  for (char& c : bytes) {
    c = static_cast<char>(byte(rng));
  }
  return bytes;
}

// Feeds `bytes` to `to` in pieces of 1..17000 bytes (a little over one TLS record) and
// returns the plaintext that came out.
std::string feedInRandomPieces(Session& to, std::string_view bytes, std::mt19937& rng) {
  std::uniform_int_distribution<size_t> piece(1, 17000);
  std::string got;
  while (!bytes.empty()) {
    const size_t size = std::min(piece(rng), bytes.size());
    BOOST_REQUIRE_MESSAGE(to.feed(bytes.substr(0, size), got) == Status::Ok, to.lastError());
    bytes.remove_prefix(size);
  }
  return got;
}

// Sends `text` from one established session to the other, all at once.
std::string deliver(Session& from, Session& to, std::string_view text) {
  BOOST_REQUIRE(from.write(text));
  std::string got;
  BOOST_REQUIRE_MESSAGE(to.feed(from.takeOutgoing(), got) == Status::Ok, to.lastError());
  return got;
}

std::shared_ptr<Context> tls12Client() {
  auto context = opportunisticClient();
  BOOST_REQUIRE(SSL_CTX_set_max_proto_version(context->raw(), TLS1_2_VERSION) == 1);
  return context;
}

bool isAeadSuite(const std::shared_ptr<Context>& server, const std::string& name) {
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(server->raw());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    if (name == SSL_CIPHER_get_name(cipher)) {
      return SSL_CIPHER_is_aead(cipher) == 1 && SSL_CIPHER_get_kx_nid(cipher) == NID_kx_ecdhe;
    }
  }
  return false;
}

// Runs the handshake expecting a failure; returns the statuses seen by server and client.
std::pair<Status, Status> failedHandshake(Session& client, Session& server) {
  std::string ignored;
  client.startHandshake();
  Status at_server = Status::Ok;
  Status at_client = Status::Ok;
  for (int round = 0; round < 10 && at_server == Status::Ok && at_client == Status::Ok; ++round) {
    at_server = server.feed(client.takeOutgoing(), ignored);
    if (at_server == Status::Ok) {
      at_client = client.feed(server.takeOutgoing(), ignored);
    }
  }
  return {at_server, at_client};
}

bool isFatalAlert(const std::string& record, int description) {
  return record.size() == 7 && record[0] == 0x15 && record[3] == 0 && record[4] == 2 &&
         record[5] == 2 && static_cast<unsigned char>(record[6]) == description;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(tls13_handshake_and_data_both_ways) {
  TempDir dir;
  auto server_context = ecServer(dir, "mx.test");
  Session server(server_context, Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");

  BOOST_TEST(!server.handshakeDone());
  BOOST_TEST(server.version().empty());
  BOOST_TEST(server.cipher().empty());
  server.startHandshake();
  BOOST_TEST(!server.hasOutgoing());  // a server waits for the ClientHello

  handshake(client, server);
  BOOST_TEST(server.version() == "TLSv1.3");
  BOOST_TEST(client.version() == "TLSv1.3");
  BOOST_TEST(server.cipher() == "TLS_AES_256_GCM_SHA384");
  BOOST_TEST(client.cipher() == server.cipher());
  BOOST_TEST(server.lastError().empty());
  BOOST_TEST(client.lastError().empty());

  BOOST_TEST(deliver(client, server, "EHLO client.test\r\n") == "EHLO client.test\r\n");
  BOOST_TEST(deliver(server, client, "250 mx.test\r\n") == "250 mx.test\r\n");
  BOOST_TEST(!client.hasOutgoing());
  BOOST_TEST(client.takeOutgoing().empty());
  BOOST_TEST(client.write(""));
  BOOST_TEST(!client.hasOutgoing());
}

BOOST_AUTO_TEST_CASE(write_before_handshake_is_rejected) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  BOOST_TEST(!server.write("220 too early\r\n"));
  BOOST_TEST(!client.write("too early"));
  client.startHandshake();
  BOOST_TEST(client.hasOutgoing());
  BOOST_TEST(!client.write("still too early"));
  std::string got;
  BOOST_TEST(server.feed(client.takeOutgoing(), got) == Status::Ok);
  BOOST_TEST(!server.write("server finished is not yet confirmed"));
  // The rejected writes left nothing behind and the handshake still completes.
  std::string server_got;
  BOOST_TEST(pump(client, server, got, server_got));
  BOOST_TEST(client.handshakeDone());
  BOOST_TEST(server.handshakeDone());
  BOOST_TEST(got.empty());
  BOOST_TEST(server_got.empty());
}

BOOST_AUTO_TEST_CASE(one_mebibyte_in_random_pieces_both_ways) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  handshake(client, server);
  std::mt19937 rng(20240611);
  const std::string upload = randomBytes(1 << 20, rng);
  const std::string download = randomBytes((1 << 20) + 12345, rng);

  BOOST_REQUIRE(client.write(upload));
  const std::string up_wire = client.takeOutgoing();
  BOOST_TEST(up_wire.size() > upload.size());
  BOOST_TEST(!client.hasOutgoing());
  BOOST_TEST((feedInRandomPieces(server, up_wire, rng) == upload));

  BOOST_REQUIRE(server.write(download));
  BOOST_TEST((feedInRandomPieces(client, server.takeOutgoing(), rng) == download));
}

BOOST_AUTO_TEST_CASE(everything_byte_by_byte) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  handshake(client, server, 1);
  const std::string message = "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n";
  BOOST_REQUIRE(client.write(message));
  BOOST_REQUIRE(server.write("250 ok\r\n"));
  std::string client_got;
  std::string server_got;
  BOOST_REQUIRE(pump(client, server, client_got, server_got, 1));
  BOOST_TEST(server_got == message);
  BOOST_TEST(client_got == "250 ok\r\n");
}

BOOST_AUTO_TEST_CASE(tls12_with_ec_and_rsa_certificates) {
  TempDir dir;
  auto ec_server = ecServer(dir, "mx.test");
  makeRsaCertificate(dir.file("rsa.crt"), dir.file("rsa.key"));
  std::string error;
  auto rsa_server = Context::server(dir.file("rsa.crt"), dir.file("rsa.key"), 12, error);
  BOOST_REQUIRE_MESSAGE(rsa_server != nullptr, error);

  const std::pair<std::shared_ptr<Context>, std::string> cases[] = {
      {ec_server, "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {rsa_server, "ECDHE-RSA-AES256-GCM-SHA384"},
  };
  for (const auto& [server_context, expected] : cases) {
    Session server(server_context, Session::Role::Server);
    Session client(tls12Client(), Session::Role::Client, "mx.test");
    handshake(client, server);
    BOOST_TEST(server.version() == "TLSv1.2");
    BOOST_TEST(client.version() == "TLSv1.2");
    BOOST_TEST(server.cipher() == expected);
    BOOST_TEST(client.cipher() == expected);
    BOOST_TEST(isAeadSuite(server_context, server.cipher()));
    BOOST_TEST(deliver(client, server, "DATA\r\n") == "DATA\r\n");
    BOOST_TEST(deliver(server, client, "354 go ahead\r\n") == "354 go ahead\r\n");
  }
}

BOOST_AUTO_TEST_CASE(tls12_chacha20_is_offered) {
  TempDir dir;
  auto server_context = ecServer(dir, "mx.test");
  auto client_context = tls12Client();
  BOOST_REQUIRE(SSL_CTX_set_cipher_list(client_context->raw(), "ECDHE-ECDSA-CHACHA20-POLY1305") ==
                1);
  Session server(server_context, Session::Role::Server);
  Session client(client_context, Session::Role::Client, "mx.test");
  handshake(client, server);
  BOOST_TEST(server.cipher() == "ECDHE-ECDSA-CHACHA20-POLY1305");
  BOOST_TEST(isAeadSuite(server_context, server.cipher()));
}

BOOST_AUTO_TEST_CASE(tls12_client_offering_only_cbc_is_refused) {
  TempDir dir;
  auto client_context = tls12Client();
  BOOST_REQUIRE(SSL_CTX_set_cipher_list(client_context->raw(),
                                        "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:"
                                        "ECDHE-RSA-AES128-SHA:AES256-SHA") == 1);
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(client_context, Session::Role::Client, "mx.test");
  client.startHandshake();
  std::string got;
  BOOST_TEST(server.feed(client.takeOutgoing(), got) == Status::Error);
  BOOST_TEST(server.lastError().find("no shared cipher") != std::string::npos, server.lastError());
  BOOST_TEST(isFatalAlert(server.takeOutgoing(), 40));  // handshake_failure
}

BOOST_AUTO_TEST_CASE(tls11_client_is_refused_with_an_alert) {
  TempDir dir;
  auto client_context = opportunisticClient();
  SSL_CTX* raw = client_context->raw();
  BOOST_REQUIRE(SSL_CTX_set_min_proto_version(raw, TLS1_VERSION) == 1);
  BOOST_REQUIRE(SSL_CTX_set_max_proto_version(raw, TLS1_1_VERSION) == 1);
  BOOST_REQUIRE(SSL_CTX_set_cipher_list(raw, "DEFAULT:@SECLEVEL=0") == 1);
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(client_context, Session::Role::Client, "mx.test");
  client.startHandshake();
  BOOST_REQUIRE_MESSAGE(client.hasOutgoing(), client.lastError());

  std::string got;
  BOOST_TEST(server.feed(client.takeOutgoing(), got) == Status::Error);
  BOOST_TEST(server.lastError().find("unsupported protocol") != std::string::npos,
             server.lastError());
  BOOST_TEST(!server.handshakeDone());
  const std::string alert = server.takeOutgoing();
  BOOST_TEST(isFatalAlert(alert, 70));  // protocol_version

  BOOST_TEST(client.feed(alert, got) == Status::Error);
  BOOST_TEST(client.lastError().find("protocol version") != std::string::npos, client.lastError());
  BOOST_TEST(got.empty());
  // After a fatal error the sessions stay failed.
  BOOST_TEST(server.feed("", got) == Status::Error);
  BOOST_TEST(!server.write("x"));
}

BOOST_AUTO_TEST_CASE(tls13_only_server_refuses_tls12_client) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test", 13), Session::Role::Server);
  Session client(tls12Client(), Session::Role::Client, "mx.test");
  const auto [at_server, at_client] = failedHandshake(client, server);
  BOOST_TEST((at_server == Status::Error));
  BOOST_TEST(isFatalAlert(server.takeOutgoing(), 70));
  BOOST_TEST((at_client == Status::Ok));
}

BOOST_AUTO_TEST_CASE(close_notify_reports_closed) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  handshake(client, server);

  BOOST_REQUIRE(client.write("QUIT\r\n"));
  client.shutdown();
  std::string got;
  BOOST_TEST(server.feed(client.takeOutgoing(), got) == Status::Closed);
  BOOST_TEST(got == "QUIT\r\n");  // data before the close_notify is still delivered
  BOOST_TEST(server.lastError().empty());
  BOOST_TEST(server.feed("", got) == Status::Closed);

  server.shutdown();
  std::string client_got;
  BOOST_TEST(client.feed(server.takeOutgoing(), client_got) == Status::Closed);
  BOOST_TEST(client_got.empty());
}

BOOST_AUTO_TEST_CASE(shutdown_before_handshake_queues_nothing) {
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  client.shutdown();
  BOOST_TEST(!client.hasOutgoing());
  BOOST_TEST(client.lastError().empty());
}

BOOST_AUTO_TEST_CASE(garbage_is_a_fatal_error) {
  TempDir dir;
  auto server_context = ecServer(dir, "mx.test");
  std::mt19937 rng(7);
  const std::string inputs[] = {
      "EHLO client.test\r\n",
      "GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n",
      std::string("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10),       // truncated ClientHello
      std::string("\x16\x03\x01\xff\xff", 5) + std::string(70000, 'A'),  // oversized record
      randomBytes(4096, rng),
  };
  for (const std::string& input : inputs) {
    Session server(server_context, Session::Role::Server);
    std::string got;
    BOOST_TEST(server.feed(input, got) == Status::Error);
    BOOST_TEST(!server.lastError().empty());
    BOOST_TEST(got.empty());
    BOOST_TEST(!server.handshakeDone());
    BOOST_TEST(!server.write("250 ok\r\n"));
    BOOST_TEST(server.feed("more", got) == Status::Error);
  }
}

BOOST_AUTO_TEST_CASE(tampered_record_is_a_fatal_error_with_an_alert) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  handshake(client, server);
  BOOST_REQUIRE(client.write("RCPT TO:<b@example.test>\r\n"));
  std::string wire = client.takeOutgoing();
  wire[wire.size() / 2] ^= 0x01;
  std::string got;
  BOOST_TEST(server.feed(wire, got) == Status::Error);
  BOOST_TEST(server.lastError().find("bad record mac") != std::string::npos, server.lastError());
  BOOST_TEST(got.empty());
  // TLS 1.3 encrypts the alert: one application_data record of 2 + 1 + 16 bytes.
  const std::string alert = server.takeOutgoing();
  BOOST_TEST(alert.size() == 24U);
  BOOST_TEST(alert.substr(0, 5) == std::string("\x17\x03\x03\x00\x13", 5));
  BOOST_TEST(client.feed(alert, got) == Status::Error);
  BOOST_TEST(client.lastError().find("alert bad record mac") != std::string::npos,
             client.lastError());
}

BOOST_AUTO_TEST_CASE(stale_errors_on_the_thread_do_not_leak_in) {
  TempDir dir;
  Session server(ecServer(dir, "mx.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "mx.test");
  // Another session on this thread left an error behind before every call.
  auto leaveStaleError = [] { ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH); };
  leaveStaleError();
  client.startHandshake();
  std::string client_got;
  std::string server_got;
  for (int round = 0; round < 10 && (client.hasOutgoing() || server.hasOutgoing()); ++round) {
    leaveStaleError();
    BOOST_REQUIRE_MESSAGE(server.feed(client.takeOutgoing(), server_got) == Status::Ok,
                          server.lastError());
    leaveStaleError();
    BOOST_REQUIRE_MESSAGE(client.feed(server.takeOutgoing(), client_got) == Status::Ok,
                          client.lastError());
  }
  BOOST_REQUIRE(client.handshakeDone());
  BOOST_REQUIRE(server.handshakeDone());
  leaveStaleError();
  BOOST_REQUIRE(client.write("NOOP\r\n"));
  leaveStaleError();
  BOOST_TEST(server.feed(client.takeOutgoing(), server_got) == Status::Ok);
  BOOST_TEST(server_got == "NOOP\r\n");
  leaveStaleError();
  server.shutdown();
  leaveStaleError();
  BOOST_TEST(client.feed(server.takeOutgoing(), client_got) == Status::Closed);
  ERR_clear_error();
}

BOOST_AUTO_TEST_CASE(verifying_client_checks_chain_and_host_name) {
  TempDir dir;
  auto server_context = ecServer(dir, "mx.example.test");
  std::string error;
  auto trusting = Context::verifyingClient(12, dir.file("cert.pem"), error);
  BOOST_REQUIRE_MESSAGE(trusting != nullptr, error);

  for (const char* name : {"mx.example.test", "MX.Example.Test", "mx.example.test."}) {
    Session server(server_context, Session::Role::Server);
    Session client(trusting, Session::Role::Client, name);
    handshake(client, server);
    BOOST_TEST(client.lastError().empty());
  }

  // Right chain, wrong name.
  {
    Session server(server_context, Session::Role::Server);
    Session client(trusting, Session::Role::Client, "other.example.test");
    const auto [at_server, at_client] = failedHandshake(client, server);
    BOOST_TEST((at_client == Status::Error));
    BOOST_TEST(client.lastError().find("certificate verify failed") != std::string::npos,
               client.lastError());
    BOOST_TEST(client.lastError().find("hostname mismatch") != std::string::npos,
               client.lastError());
    BOOST_TEST(!client.handshakeDone());
    // The client's alert reaches the server, which fails too.
    std::string got;
    BOOST_TEST(server.feed(client.takeOutgoing(), got) == Status::Error);
    BOOST_TEST(server.lastError().find("alert bad certificate") != std::string::npos,
               server.lastError());
  }

  // Right name, untrusted chain (only the system CAs).
  {
    auto system_only = Context::verifyingClient(12, "", error);
    BOOST_REQUIRE(system_only != nullptr);
    Session server(server_context, Session::Role::Server);
    Session client(system_only, Session::Role::Client, "mx.example.test");
    const auto [at_server, at_client] = failedHandshake(client, server);
    BOOST_TEST((at_client == Status::Error));
    BOOST_TEST(client.lastError().find("self-signed certificate") != std::string::npos,
               client.lastError());
  }

  // A name with a NUL byte is refused rather than checked in its truncated form.
  {
    Session client(trusting, Session::Role::Client, std::string_view("mx.example.test\0.evil", 22));
    BOOST_TEST(client.lastError().find("NUL") != std::string::npos, client.lastError());
    std::string got;
    BOOST_TEST(client.feed("", got) == Status::Error);
  }

  // A verifying session without a name to check refuses to start.
  {
    Session client(trusting, Session::Role::Client);
    BOOST_TEST(!client.lastError().empty());
    client.startHandshake();
    BOOST_TEST(!client.hasOutgoing());
    std::string got;
    BOOST_TEST(client.feed("", got) == Status::Error);
  }
}

// The certificates of the `verify` security level's cases, from a test CA: a verifying
// client trusts exactly the configured CA file and says why it refused a certificate.
BOOST_AUTO_TEST_CASE(verifying_client_against_a_test_ca) {
  TempDir dir;
  TestCa ca(dir);
  std::string error;
  auto client_context = Context::verifyingClient(12, ca.certFile(), error);
  BOOST_REQUIRE_MESSAGE(client_context != nullptr, error);

  const auto good = ca.issue("good", "mx.verify.test");
  {
    Session server(good, Session::Role::Server);
    Session client(client_context, Session::Role::Client, "mx.verify.test");
    handshake(client, server);
    BOOST_TEST(client.verifyError().empty());
    BOOST_TEST(client.lastError().empty());
  }
  const std::pair<std::shared_ptr<Context>, const char*> refused[] = {
      {good, "hostname mismatch"},  // checked against another name
      {ca.issue("wrong", "other.verify.test"), "hostname mismatch"},
      {ca.selfSigned("self", "mx.verify.test"), "self-signed certificate"},
      {ca.issue("expired", "mx.verify.test", -7 * 86400, -86400), "certificate has expired"},
      {ca.issue("future", "mx.verify.test", 86400, 7 * 86400), "certificate is not yet valid"},
      {ca.issue("partial", "mx*.verify.test"), "hostname mismatch"},  // no partial wildcards
  };
  for (size_t i = 0; i < std::size(refused); ++i) {
    const auto& [server_context, reason] = refused[i];
    Session server(server_context, Session::Role::Server);
    Session client(client_context, Session::Role::Client, i == 0 ? "mx2.verify.test" : "mx.verify.test");
    const auto [at_server, at_client] = failedHandshake(client, server);
    BOOST_TEST((at_client == Status::Error), reason);
    BOOST_TEST(!client.handshakeDone());
    BOOST_TEST(client.verifyError() == reason);
    BOOST_TEST(client.lastError().find("certificate verify failed") != std::string::npos, client.lastError());
  }

  // A whole-label wildcard matches one label; the system store alone does not know the CA.
  const auto wildcard = ca.issue("wildcard", "*.verify.test");
  {
    Session server(wildcard, Session::Role::Server);
    Session client(client_context, Session::Role::Client, "mx.verify.test");
    handshake(client, server);
    BOOST_TEST(client.verifyError().empty());
  }
  {
    auto system_only = Context::verifyingClient(12, "", error);
    BOOST_REQUIRE_MESSAGE(system_only != nullptr, error);
    Session server(good, Session::Role::Server);
    Session client(system_only, Session::Role::Client, "mx.verify.test");
    failedHandshake(client, server);
    BOOST_TEST(client.verifyError() == "unable to get local issuer certificate");
  }

  // Without verification the same certificates are accepted and nothing is reported.
  for (const auto& server_context : {good, refused[3].first}) {
    Session server(server_context, Session::Role::Server);
    Session client(opportunisticClient(), Session::Role::Client, "elsewhere.test");
    handshake(client, server);
    BOOST_TEST(client.verifyError().empty());
  }
}

BOOST_AUTO_TEST_CASE(opportunistic_client_accepts_any_certificate) {
  TempDir dir;
  Session server(ecServer(dir, "mx.example.test"), Session::Role::Server);
  Session client(opportunisticClient(), Session::Role::Client, "unrelated.test");
  handshake(client, server);
  BOOST_TEST(client.lastError().empty());
}

BOOST_AUTO_TEST_CASE(sni_is_sent_for_host_names_only) {
  TempDir dir;
  auto server_context = ecServer(dir, "mx.test");
  std::optional<std::string> seen;
  SSL_CTX_set_tlsext_servername_arg(server_context->raw(), &seen);
  SSL_CTX_set_tlsext_servername_callback(
      server_context->raw(), +[](SSL* ssl, int*, void* arg) {
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        *static_cast<std::optional<std::string>*>(arg) = name == nullptr ? "" : name;
        return SSL_TLSEXT_ERR_OK;
      });
  const std::pair<const char*, const char*> cases[] = {
      {"mx.test", "mx.test"}, {"mx.test.", "mx.test"},  {"192.0.2.1", ""},
      {"2001:db8::25", ""},   {"::ffff:192.0.2.1", ""}, {"", ""},
  };
  for (const auto& [sni, expected] : cases) {
    seen.reset();
    Session server(server_context, Session::Role::Server);
    Session client(opportunisticClient(), Session::Role::Client, sni);
    handshake(client, server);
    BOOST_REQUIRE(seen.has_value());
    BOOST_TEST(*seen == expected, "sni " << sni);
  }
}

BOOST_AUTO_TEST_SUITE_END()
