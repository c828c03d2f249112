// SMTP client connections and the per-loop pool behind SmtpTarget (private to delivery).
//
// ClientConnection speaks RFC 5321 as a client: greeting, EHLO (HELO fallback after a 5xx),
// STARTTLS as the next hop's TLS security level says (RFC 3207, client_tls.h; plaintext that
// follows the 220 is treated as an injection attempt and the connection is dropped; at level
// may a failed handshake is retried on a new plaintext connection; the pool's last resumable
// TLS session is offered by its next connections), then transactions
// MAIL/RCPT/DATA, pipelined when the peer offers PIPELINING (RFC 2920), the body dot-stuffed
// with no bare CR or LF (RFC 5321 §4.5.2), RSET after a failed transaction, QUIT when idle.
// Every reply wait has a deadline. A reply that does not fit its command (a 3xx where 2xx, 4xx
// or 5xx is due, anything but 354 or a refusal to DATA) is a protocol desync: the recipients
// without a final outcome fail temporarily and the connection is closed unused. So is a 421
// at any point (RFC 5321 §3.8): nothing more is sent or read on that connection; before the
// first transaction (greeting, EHLO, STARTTLS) it also defers the jobs waiting in the pool,
// as Postfix defers a destination, otherwise they go to another connection.
// Everything here runs on the pool's loop thread.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/delivery/client_tls.h"
#include "mxgate/delivery/target.h"
#include "mxgate/io/stream.h"
#include "mxgate/shaping/destination_limits.h"
#include "mxgate/smtp/message_reader.h"
#include "mxgate/smtp/reply_parser.h"

namespace mxgate::delivery {

class ClientPool;

struct PendingDelivery {
  std::shared_ptr<const Job> job;
  std::function<void(Result)> done;
};

class ClientConnection : public io::Stream::Handler {
 public:
  // plaintext_only: never STARTTLS (the retry after a failed handshake at level may).
  ClientConnection(ClientPool& pool, PendingDelivery first, bool plaintext_only = false);
  ~ClientConnection() override;

  void connect();
  // Runs another transaction on this (idle) connection.
  void run(PendingDelivery delivery);
  // Says QUIT (when idle) and closes.
  void quit();
  // After the close: the delivery to retry on a plaintext connection, if the TLS handshake
  // failed at level may. True (and out set) at most once.
  bool takePlaintextRetry(PendingDelivery& out);

  void onStreamData(std::string_view data) override;
  void onStreamConnected(int status) override;
  void onStreamTlsReady() override;
  void onStreamEnd(std::string_view reason) override;
  void onStreamDrained() override;
  void onStreamClosed() override;

 private:
  // In order: the states up to Handshake come before the first transaction.
  enum class State {
    Connecting, Greeting, Ehlo, Helo, StartTls, Handshake, Ready, Transaction, Body, FinalReply, Rset, Idle,
    Quit, Closing,
  };

  void handleReply(const smtp::Reply& reply);
  void handleStartTlsReply(const smtp::Reply& reply);
  void onCapabilities(const smtp::Reply& reply);
  void tlsFailed(const std::string& why);
  // A reply that does not fit the command it answers: fails the connection.
  void desync(const smtp::Reply& reply, const char* command, const char* expected);
  void afterHello();
  void startTransaction();
  void handleTransactionReply(const smtp::Reply& reply);
  void sendBody();
  void finishTransaction(bool needs_rset);
  void send(const std::string& line);
  // Fails the connection: the current delivery gets `reply` (temporary) for every recipient
  // without a final outcome; with `whole_destination` the pool's waiting deliveries too.
  void fail(const std::string& reply, bool whole_destination);
  void complete();
  // Records who answered recipient i: the peer's host name and address and the TLS facts.
  void notePeer(RecipientResult& result) const;
  void armTimer(std::chrono::milliseconds timeout);
  static void onTimer(uv_timer_t* timer);
  void close();

  ClientPool& pool_;
  const ClientTlsPolicy tls_;  // the pool's policy when the connection was made
  const bool plaintext_only_;
  bool retry_in_plaintext_ = false;
  io::Stream stream_;
  uv_timer_t timer_{};
  State state_ = State::Connecting;
  std::string in_;
  smtp::ReplyParser parser_;
  smtp::EhloCapabilities capabilities_;
  bool tls_tried_ = false;
  bool greeted_ = false;
  uint32_t transactions_ = 0;

  PendingDelivery current_;
  Result result_;
  std::vector<bool> final_;      // recipient has a final outcome for this attempt
  std::vector<size_t> accepted_;  // recipients whose RCPT got 2xx
  size_t reply_index_ = 0;        // replies read in this transaction: MAIL, RCPTs, then DATA
  bool mail_failed_ = false;
  smtp::DotStuffer stuffer_;
  size_t body_offset_ = 0;
  int handles_open_ = 0;
  uv_getaddrinfo_t* resolving_ = nullptr;  // a name lookup of the next hop under way
};

class ClientPool {
 public:
  ClientPool(io::Loop& loop, const config::DeliveryTarget& target, const config::SmtpClientSettings& settings,
             std::string helo_name, ClientTlsPolicy tls, uint32_t max_connections);
  ~ClientPool();

  // Loop thread only.
  void submit(PendingDelivery delivery);
  void shutdown();
  // New connections use this policy (a reload rebuilt the TLS contexts); a saved session of
  // the old one is not offered.
  void setTls(ClientTlsPolicy tls) {
    tls_ = std::move(tls);
    saved_tls_session_ = nullptr;
  }
  // The TLS session new connections offer for resumption (the latest resumable one a
  // connection of this pool, i.e. this address under this policy, got; null: none).
  const tls::SavedSession& savedTlsSession() const { return saved_tls_session_; }
  void saveTlsSession(tls::SavedSession session) { saved_tls_session_ = std::move(session); }
  // Connections of this pool also count against a destination site's limits (MX delivery):
  // one that the site's connection limit or rate does not allow now is not opened; deliveries
  // wait for this pool's own connections, or, with none open, go back held.
  void shapeBy(std::shared_ptr<shaping::Site> site) { site_ = std::move(site); }
  // Transactions on one connection before QUIT: the settings' limit, or the site's when lower.
  uint32_t messagesPerConnection() const;

  io::Loop& loop() { return loop_; }
  const config::DeliveryTarget& target() const { return target_; }
  const config::SmtpClientSettings& settings() const { return settings_; }
  const std::string& heloName() const { return helo_name_; }
  const ClientTlsPolicy& tls() const { return tls_; }
  const std::string& remote() const { return remote_; }
  // No connection open and no delivery waiting: the pool may be dropped.
  bool unused() const { return waiting_.empty() && all_.empty(); }

  // Called by connections.
  void onIdle(ClientConnection* connection);
  void onClosed(ClientConnection* connection);
  void failWaiting(const std::string& reply);
  bool takeNext(PendingDelivery& out);

 private:
  void pump();
  void openConnection(PendingDelivery first, bool plaintext_only);
  // Hands every waiting delivery back held by traffic shaping (hold says why and until when).
  void holdWaiting(const shaping::Hold& hold);

  io::Loop& loop_;
  config::DeliveryTarget target_;
  config::SmtpClientSettings settings_;
  std::string helo_name_;
  ClientTlsPolicy tls_;
  tls::SavedSession saved_tls_session_;
  std::shared_ptr<shaping::Site> site_;  // null: no traffic shaping (smtp targets)
  uint32_t max_connections_;
  std::string remote_;
  std::deque<PendingDelivery> waiting_;
  std::vector<ClientConnection*> idle_;
  std::vector<ClientConnection*> all_;
  bool shutting_down_ = false;
};

}  // namespace mxgate::delivery
