// SMTP client connections and their per-loop pool (see src/delivery/smtp_client.h).
// RFC 5321 §3, §4.1, §4.5.2; RFC 2920; RFC 3207; RFC 1870; RFC 6152; RFC 6531.
// Runs on one worker loop.
#include "smtp_client.h"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"

namespace mxgate::delivery {
namespace {

constexpr size_t kBodySlice = 256 * 1024;
constexpr size_t kMaxPendingBody = 1024 * 1024;

std::string replyText(const smtp::Reply& reply) { return std::to_string(reply.code) + " " + reply.text(); }

}  // namespace

// ---- ClientConnection -------------------------------------------------------------------

ClientConnection::ClientConnection(ClientPool& pool, PendingDelivery first, bool plaintext_only)
    : pool_(pool),
      tls_(pool.tls()),
      plaintext_only_(plaintext_only),
      stream_(pool.loop(), *this),
      current_(std::move(first)) {
  uv_timer_init(pool_.loop().uv(), &timer_);
  timer_.data = this;
  handles_open_ = 2;
}

ClientConnection::~ClientConnection() = default;

void ClientConnection::armTimer(std::chrono::milliseconds timeout) {
  uv_timer_start(&timer_, &ClientConnection::onTimer, static_cast<uint64_t>(timeout.count()), 0);
}

void ClientConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ClientConnection*>(timer->data);
  if (self->state_ == State::Idle) {
    self->quit();
    return;
  }
  if (self->state_ == State::Handshake) {
    self->tlsFailed("timeout");
    return;
  }
  self->fail("timeout waiting for " + self->pool_.remote(), self->state_ == State::Connecting);
}

void ClientConnection::connect() {
  const config::DeliveryTarget& target = pool_.target();
  sockaddr_storage address{};
  if (!io::parseAddress(target.host, target.port, address)) {
    auto* request = new uv_getaddrinfo_t;
    request->data = this;
    resolving_ = request;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    std::string port = std::to_string(target.port);
    armTimer(pool_.settings().connect_timeout);
    int rc = uv_getaddrinfo(
        pool_.loop().uv(), request,
        [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
          auto* self = static_cast<ClientConnection*>(req->data);
          delete req;
          if (self != nullptr) {
            self->resolving_ = nullptr;
          }
          if (self == nullptr || self->state_ != State::Connecting) {
            uv_freeaddrinfo(result);
            return;
          }
          if (status != 0 || result == nullptr) {
            uv_freeaddrinfo(result);
            self->fail(std::string("cannot resolve next hop: ") + uv_strerror(status), true);
            return;
          }
          int connect_rc = self->stream_.connect(result->ai_addr);
          uv_freeaddrinfo(result);
          if (connect_rc != 0) {
            self->fail(std::string("connect failed: ") + uv_strerror(connect_rc), true);
          }
        },
        target.host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
      resolving_ = nullptr;
      delete request;
      fail(std::string("cannot resolve next hop: ") + uv_strerror(rc), true);
    }
    return;
  }
  armTimer(pool_.settings().connect_timeout);
  int rc = stream_.connect(reinterpret_cast<sockaddr*>(&address));
  if (rc != 0) {
    fail(std::string("connect failed: ") + uv_strerror(rc), true);
  }
}

void ClientConnection::onStreamConnected(int status) {
  if (status != 0) {
    fail(std::string("connect to ") + pool_.remote() + " failed: " + uv_strerror(status), true);
    return;
  }
  state_ = State::Greeting;
  armTimer(pool_.settings().command_timeout);
  stream_.startReading();
}

void ClientConnection::send(const std::string& line) { stream_.write(line); }

void ClientConnection::onStreamData(std::string_view data) {
  in_.append(data);
  size_t offset = 0;
  while (offset < in_.size() && state_ != State::Closing) {
    size_t consumed = 0;
    smtp::Reply reply;
    auto status = parser_.feed(std::string_view(in_).substr(offset), consumed, reply);
    offset += consumed;
    if (status == smtp::ReplyParser::Status::NeedMore) {
      break;
    }
    if (status == smtp::ReplyParser::Status::Error) {
      fail("malformed reply from " + pool_.remote() + ": " + parser_.error(), false);
      return;
    }
    if (state_ == State::StartTls && reply.code == 220 && offset < in_.size()) {
      // Plaintext after "220 ready" must never be read as a TLS-protected reply (CVE-2011-0411).
      fail("STARTTLS response injection from " + pool_.remote(), false);
      return;
    }
    handleReply(reply);
    if (state_ == State::Handshake) {
      in_.clear();  // any further bytes are TLS records, read by the stream
      return;
    }
  }
  in_.erase(0, offset);
}

void ClientConnection::handleReply(const smtp::Reply& reply) {
  armTimer(pool_.settings().command_timeout);
  if (reply.code == 421 && state_ != State::Quit) {
    // RFC 5321 §3.8: the server is closing the channel. Before the first transaction the
    // destination is unavailable (the waiting jobs are deferred too); later only this job.
    const bool before_ready =
        state_ == State::Greeting || state_ == State::Ehlo || state_ == State::Helo || state_ == State::StartTls;
    fail(replyText(reply), before_ready);
    return;
  }
  switch (state_) {
    case State::Greeting:
      if (reply.code != 220) {
        fail("greeting from " + pool_.remote() + ": " + replyText(reply), true);
        return;
      }
      greeted_ = true;
      state_ = State::Ehlo;
      send("EHLO " + pool_.heloName() + "\r\n");
      return;
    case State::Ehlo:
      if (reply.code / 100 == 2) {
        onCapabilities(reply);
        return;
      }
      if (reply.code / 100 != 5) {
        fail("EHLO refused by " + pool_.remote() + ": " + replyText(reply), true);
        return;
      }
      state_ = State::Helo;  // EHLO not supported (RFC 5321 §3.2)
      send("HELO " + pool_.heloName() + "\r\n");
      return;
    case State::Helo:
      if (reply.code / 100 != 2) {
        fail("HELO rejected by " + pool_.remote() + ": " + replyText(reply), true);
        return;
      }
      capabilities_ = smtp::EhloCapabilities();
      afterHello();
      return;
    case State::StartTls: handleStartTlsReply(reply); return;
    case State::Transaction:
    case State::FinalReply: handleTransactionReply(reply); return;
    case State::Rset:
      if (reply.code / 100 != 2) {
        fail("RSET answered by " + pool_.remote() + " with " + replyText(reply), false);
        return;
      }
      complete();
      return;
    case State::Quit: close(); return;
    default:
      fail("unexpected reply from " + pool_.remote() + ": " + replyText(reply), false);
      return;
  }
}

void ClientConnection::handleStartTlsReply(const smtp::Reply& reply) {
  if (reply.code == 220) {
    state_ = State::Handshake;
    armTimer(pool_.settings().command_timeout);
    stream_.startTls(tls_.context, tls::Session::Role::Client, tls_.peer_name,
                     tls::ClientOptions{tls_.dane.get(), pool_.savedTlsSession()});
    if (const std::string& error = stream_.tlsSession()->lastError(); !error.empty()) {
      tlsFailed(error);
    }
    return;
  }
  if (reply.code / 100 != 4 && reply.code / 100 != 5) {
    desync(reply, "STARTTLS", "220, 4xx or 5xx");
    return;
  }
  if (tls_.requiresTls()) {
    tls_.countFailure(TlsFailure::StartTlsNotSupported);
    fail("4.7.4 STARTTLS refused by " + pool_.remote() + " and TLS is required (tls = \"" + tls_.levelName() +
             "\"): " + replyText(reply),
         true);
    return;
  }
  afterHello();
}

void ClientConnection::onCapabilities(const smtp::Reply& reply) {
  capabilities_ = smtp::parseEhloCapabilities(reply);
  if (stream_.tlsActive()) {
    // The server's session tickets come right after the handshake, before this reply.
    pool_.saveTlsSession(stream_.tlsSession()->saved());
  }
  if (!stream_.tlsActive() && !tls_tried_ && !plaintext_only_ && tls_.usesStartTls() && capabilities_.starttls) {
    tls_tried_ = true;
    state_ = State::StartTls;
    send("STARTTLS\r\n");
    return;
  }
  afterHello();
}

void ClientConnection::onStreamTlsReady() {
  if (tls_.counters != nullptr) {
    const tls::Session* session = stream_.tlsSession();
    const std::string_view by = tls_.verifiedBy(session != nullptr && session->verified());
    (by == "dane" ? tls_.counters->dane : by == "pkix" ? tls_.counters->verified : tls_.counters->unverified)
        .fetch_add(1, std::memory_order_relaxed);
    if (tls_.sts_testing && tls_.dane == nullptr && by == "none" && session != nullptr) {
      tls_.countFailure(tlsFailureOfVerifyCode(session->verifyCode()));  // enforce would have refused it
    }
    if (session != nullptr && session->resumed()) {
      tls_.counters->resumed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  state_ = State::Ehlo;
  armTimer(pool_.settings().command_timeout);
  send("EHLO " + pool_.heloName() + "\r\n");
}

void ClientConnection::tlsFailed(const std::string& why) {
  pool_.saveTlsSession(nullptr);  // a saved session is never offered again after a failure
  const tls::Session* session = stream_.tlsSession();
  const std::string verify = session != nullptr ? session->verifyError() : "";
  // RFC 3463: X.7.5 cryptographic failure (as Postfix says it).
  std::string error = "4.7.5 TLS handshake with " + pool_.remote() + " failed: ";
  if (verify.empty()) {
    // The session's own error (OpenSSL's reasons) when it has one, else the stream's (eof, timeout).
    const std::string& reason = session != nullptr && !session->lastError().empty() ? session->lastError() : why;
    error += reason.starts_with("tls: ") ? reason.substr(5) : reason;
    tls_.countFailure(TlsFailure::ValidationFailure);
  } else {
    error += "certificate verify failed: " + verify +
             (tls_.dane ? " (DANE: TLSA records of _25._tcp." + tls_.peer_name + ")"
                        : " (name checked: " + tls_.peer_name + ")");
    tls_.countFailure(tlsFailureOfVerifyCode(session->verifyCode()));
  }
  if (tls_.plaintextFallback() && current_.done) {
    log::warn(current_.job->id.str(), "smtp_client_tls_fallback").kv("remote", pool_.remote()).kv("error", error);
    retry_in_plaintext_ = true;
    close();
    return;
  }
  fail(error, true);
}

void ClientConnection::afterHello() {
  if (tls_.sts_testing && !stream_.tlsActive()) {
    tls_.countFailure(TlsFailure::StartTlsNotSupported);  // an MTA-STS enforce policy would have refused it
  }
  if (tls_.requiresTls() && !stream_.tlsActive()) {
    tls_.countFailure(TlsFailure::StartTlsNotSupported);
    fail("4.7.4 TLS is required (tls = \"" + std::string(tls_.levelName()) + "\") but " + pool_.remote() +
             (tls_.context ? " does not offer STARTTLS" : " has no TLS client context"),
         true);
    return;
  }
  state_ = State::Ready;
  startTransaction();
}

void ClientConnection::run(PendingDelivery delivery) {
  current_ = std::move(delivery);
  startTransaction();
}

void ClientConnection::startTransaction() {
  const Job& job = *current_.job;
  const size_t count = job.recipients.size();
  result_ = Result();
  result_.remote = pool_.remote();
  result_.recipients.assign(count, RecipientResult{Outcome::TempFail, ""});
  final_.assign(count, false);
  accepted_.clear();
  mail_failed_ = false;
  reply_index_ = 0;

  auto refuse = [&](const std::string& text) {
    for (size_t i = 0; i < count; ++i) {
      result_.recipients[i] = RecipientResult{Outcome::PermFail, text};
      final_[i] = true;
    }
    complete();
  };
  if (!job.probe && capabilities_.size && *capabilities_.size > 0 && job.size() > *capabilities_.size) {
    refuse("552 5.3.4 message size exceeds the fixed limit of " + pool_.remote());
    return;
  }
  if (job.smtputf8 && !capabilities_.smtputf8) {
    refuse("553 5.6.7 " + pool_.remote() + " does not support SMTPUTF8 (RFC 6531 §3.2)");
    return;
  }
  if (!job.probe && job.eightbit && !capabilities_.eightbitmime) {
    refuse("554 5.6.3 " + pool_.remote() + " does not support 8BITMIME and conversion is not supported");
    return;
  }

  state_ = State::Transaction;
  std::string mail = "MAIL FROM:<" + job.mail_from + ">";
  if (capabilities_.size && !job.probe) {
    mail += " SIZE=" + std::to_string(job.size());
  }
  if (job.eightbit) {
    mail += " BODY=8BITMIME";
  }
  if (job.smtputf8) {
    mail += " SMTPUTF8";
  }
  mail += "\r\n";
  if (capabilities_.pipelining) {
    std::string group = mail;
    for (const auto& recipient : job.recipients) {
      group += "RCPT TO:<" + recipient + ">\r\n";
    }
    if (!job.probe) {
      group += "DATA\r\n";
    }
    send(group);
  } else {
    send(mail);
  }
}

void ClientConnection::handleTransactionReply(const smtp::Reply& reply) {
  const Job& job = *current_.job;
  const size_t count = job.recipients.size();
  if (state_ == State::FinalReply) {
    if (reply.code / 100 == 3) {
      desync(reply, "the end of the data", "2xx, 4xx or 5xx");
      return;
    }
    Outcome outcome = outcomeForCode(reply.code);
    for (size_t i : accepted_) {
      result_.recipients[i] = RecipientResult{outcome, replyText(reply)};
      final_[i] = outcome != Outcome::TempFail;
    }
    ++transactions_;
    finishTransaction(false);
    return;
  }
  const size_t index = reply_index_++;
  if (index <= count && reply.code / 100 == 3) {
    desync(reply, index == 0 ? "MAIL" : "RCPT", "2xx, 4xx or 5xx");
    return;
  }
  if (index == 0) {  // MAIL
    if (reply.code / 100 != 2) {
      mail_failed_ = true;
      result_.sender_refused = true;
      Outcome outcome = outcomeForCode(reply.code);
      for (size_t i = 0; i < count; ++i) {
        result_.recipients[i] = RecipientResult{outcome, replyText(reply)};
        final_[i] = outcome != Outcome::TempFail;
      }
      if (!capabilities_.pipelining) {
        finishTransaction(true);
        return;
      }
    } else if (!capabilities_.pipelining) {
      send("RCPT TO:<" + job.recipients[0] + ">\r\n");
    }
    return;
  }
  if (index <= count) {  // RCPT number index-1
    size_t i = index - 1;
    if (!mail_failed_) {
      if (reply.code / 100 == 2) {
        accepted_.push_back(i);
        if (job.probe) {
          result_.recipients[i] = RecipientResult{Outcome::Delivered, replyText(reply)};
          final_[i] = true;
        }
      } else {
        Outcome outcome = outcomeForCode(reply.code);
        result_.recipients[i] = RecipientResult{outcome, replyText(reply)};
        final_[i] = outcome != Outcome::TempFail;
      }
    }
    const bool last = i + 1 == count;
    if (job.probe && last) {
      ++transactions_;
      finishTransaction(true);  // a probe ends with its RCPT answers
    } else if (!capabilities_.pipelining) {
      if (!last) {
        send("RCPT TO:<" + job.recipients[i + 1] + ">\r\n");
      } else if (accepted_.empty()) {
        finishTransaction(true);
      } else {
        send("DATA\r\n");
      }
    }
    return;
  }
  // DATA
  if (reply.code == 354) {
    if (mail_failed_ || accepted_.empty()) {
      // The peer should have refused DATA (RFC 2920 §3.1); never send it an empty message.
      fail("354 after a failed MAIL or without accepted recipients from " + pool_.remote(), false);
      return;
    }
    state_ = State::Body;
    stuffer_ = smtp::DotStuffer();
    body_offset_ = 0;
    armTimer(pool_.settings().data_timeout);
    if (!current_.job->headers.empty()) {
      std::string out;
      stuffer_.feed(current_.job->headers, out);
      stream_.write(out);
    }
    sendBody();
    return;
  }
  if (reply.code / 100 != 4 && reply.code / 100 != 5) {
    // A 2xx (or another 3xx) to DATA: no body was sent, so nothing was delivered, and the
    // server's idea of the transaction is not ours (RFC 5321 §4.2.5, §3.3).
    desync(reply, "DATA", "354, 4xx or 5xx");
    return;
  }
  if (!mail_failed_) {
    Outcome outcome = outcomeForCode(reply.code);
    for (size_t i : accepted_) {
      result_.recipients[i] = RecipientResult{outcome, replyText(reply)};
      final_[i] = outcome != Outcome::TempFail;
    }
  }
  finishTransaction(true);
}

void ClientConnection::desync(const smtp::Reply& reply, const char* command, const char* expected) {
  fail(std::string("protocol error: ") + pool_.remote() + " answered " + command + " with " + replyText(reply) +
           " (expected " + expected + ")",
       false);
}

void ClientConnection::sendBody() {
  const std::string& body = *current_.job->body;
  std::string out;
  while (body_offset_ < body.size()) {
    size_t take = std::min(kBodySlice, body.size() - body_offset_);
    out.clear();
    stuffer_.feed(std::string_view(body).substr(body_offset_, take), out);
    body_offset_ += take;
    stream_.write(out);
    if (stream_.pendingOutput() > kMaxPendingBody) {
      return;  // continue in onStreamDrained
    }
  }
  out.clear();
  stuffer_.finish(out);
  stream_.write(out);
  state_ = State::FinalReply;
  armTimer(pool_.settings().data_timeout);
}

void ClientConnection::onStreamDrained() {
  if (state_ == State::Body) {
    sendBody();
  }
}

void ClientConnection::finishTransaction(bool needs_rset) {
  if (needs_rset) {
    state_ = State::Rset;
    send("RSET\r\n");
    return;
  }
  complete();
}

void ClientConnection::notePeer(RecipientResult& result) const {
  result.remote_host = tls_.peer_name.empty() ? pool_.target().host : tls_.peer_name;
  result.remote_ip = stream_.peerAddress();
  if (const tls::Session* session = stream_.tlsActive() ? stream_.tlsSession() : nullptr) {
    result.tls_version = session->version();
    result.tls_cipher = session->cipher();
    result.tls_verified_by = tls_.verifiedBy(session->verified());
  }
}

void ClientConnection::complete() {
  if (current_.done) {
    for (RecipientResult& recipient : result_.recipients) {
      notePeer(recipient);  // every outcome of a completed transaction is the peer's answer
    }
    auto done = std::move(current_.done);
    current_ = PendingDelivery();
    done(std::move(result_));
  }
  if (state_ == State::Closing) {
    return;
  }
  if (transactions_ >= pool_.messagesPerConnection()) {
    quit();
    return;
  }
  PendingDelivery next;
  if (pool_.takeNext(next)) {
    run(std::move(next));
    return;
  }
  state_ = State::Idle;
  if (pool_.settings().idle_timeout.count() == 0) {
    quit();
    return;
  }
  armTimer(pool_.settings().idle_timeout);
  pool_.onIdle(this);
}

void ClientConnection::quit() {
  if (state_ == State::Closing || state_ == State::Quit) {
    return;
  }
  if (!greeted_ || stream_.closing()) {
    close();
    return;
  }
  state_ = State::Quit;
  send("QUIT\r\n");
  armTimer(pool_.settings().command_timeout);
}

void ClientConnection::fail(const std::string& reply, bool whole_destination) {
  if (state_ == State::Closing) {
    return;
  }
  log::warn(current_.job ? current_.job->id.str() : "-", "smtp_client_failed")
      .kv("remote", pool_.remote())
      .kv("error", reply);
  if (current_.done) {
    result_.unreached = state_ <= State::Handshake;  // no transaction was started at this peer
    for (size_t i = 0; i < result_.recipients.size(); ++i) {
      if (!final_[i]) {
        result_.recipients[i] = RecipientResult{Outcome::TempFail, reply};
      } else {
        notePeer(result_.recipients[i]);  // answered by the peer before the failure
      }
    }
    if (result_.recipients.empty()) {
      const bool unreached = result_.unreached;
      result_ = uniformResult(*current_.job, Outcome::TempFail, reply, pool_.remote());
      result_.unreached = unreached;
    }
    auto done = std::move(current_.done);
    current_ = PendingDelivery();
    done(std::move(result_));
  }
  if (whole_destination) {
    pool_.failWaiting(reply);
  }
  close();
}

bool ClientConnection::takePlaintextRetry(PendingDelivery& out) {
  if (!retry_in_plaintext_) {
    return false;
  }
  retry_in_plaintext_ = false;
  out = std::move(current_);
  current_ = PendingDelivery();
  return true;
}

void ClientConnection::onStreamEnd(std::string_view reason) {
  if (state_ == State::Idle || state_ == State::Quit) {
    close();
    return;
  }
  if (state_ == State::Handshake) {
    tlsFailed(std::string(reason));
    return;
  }
  fail("connection to " + pool_.remote() + " lost: " + std::string(reason), !greeted_);
}

void ClientConnection::close() {
  if (state_ == State::Closing) {
    return;
  }
  state_ = State::Closing;
  if (resolving_ != nullptr) {
    resolving_->data = nullptr;  // the lookup finishes on its own; its callback sees no owner
    uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
    resolving_ = nullptr;
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
    auto* self = static_cast<ClientConnection*>(handle->data);
    if (--self->handles_open_ == 0) {
      self->pool_.onClosed(self);
    }
  });
  stream_.close();
}

void ClientConnection::onStreamClosed() {
  if (--handles_open_ == 0) {
    pool_.onClosed(this);
  }
}

// ---- ClientPool ---------------------------------------------------------------------------

ClientPool::ClientPool(io::Loop& loop, const config::DeliveryTarget& target, const config::SmtpClientSettings& settings,
                       std::string helo_name, ClientTlsPolicy tls, uint32_t max_connections)
    : loop_(loop),
      target_(target),
      settings_(settings),
      helo_name_(std::move(helo_name)),
      tls_(std::move(tls)),
      max_connections_(std::max<uint32_t>(max_connections, 1)),
      remote_(target.host + ":" + std::to_string(target.port)) {}

ClientPool::~ClientPool() = default;

void ClientPool::submit(PendingDelivery delivery) {
  if (shutting_down_) {
    delivery.done(uniformResult(*delivery.job, Outcome::TempFail, "shutting down", remote_));
    return;
  }
  waiting_.push_back(std::move(delivery));
  pump();
}

void ClientPool::pump() {
  while (!waiting_.empty()) {
    if (!idle_.empty()) {
      ClientConnection* connection = idle_.back();
      idle_.pop_back();
      PendingDelivery next = std::move(waiting_.front());
      waiting_.pop_front();
      connection->run(std::move(next));
      continue;
    }
    if (all_.size() >= max_connections_) {
      return;
    }
    if (site_ != nullptr) {
      if (const shaping::Hold hold = site_->openConnection(nowMicros()); hold.held) {
        if (all_.empty()) {
          holdWaiting(hold);  // nothing of this pool's will free up
        }
        return;
      }
    }
    PendingDelivery next = std::move(waiting_.front());
    waiting_.pop_front();
    openConnection(std::move(next), false);
  }
}

void ClientPool::openConnection(PendingDelivery first, bool plaintext_only) {
  auto* connection = new ClientConnection(*this, std::move(first), plaintext_only);
  all_.push_back(connection);
  connection->connect();
}

bool ClientPool::takeNext(PendingDelivery& out) {
  if (waiting_.empty() || shutting_down_) {
    return false;
  }
  out = std::move(waiting_.front());
  waiting_.pop_front();
  return true;
}

void ClientPool::onIdle(ClientConnection* connection) {
  if (shutting_down_) {
    connection->quit();
    return;
  }
  idle_.push_back(connection);
}

void ClientPool::onClosed(ClientConnection* connection) {
  PendingDelivery retry;
  const bool plaintext_retry = connection->takePlaintextRetry(retry);
  idle_.erase(std::remove(idle_.begin(), idle_.end(), connection), idle_.end());
  all_.erase(std::remove(all_.begin(), all_.end(), connection), all_.end());
  delete connection;
  if (site_ != nullptr && !(plaintext_retry && !shutting_down_)) {
    site_->closeConnection();  // a plaintext retry keeps the place of the connection it replaces
  }
  if (shutting_down_) {
    if (plaintext_retry) {
      retry.done(uniformResult(*retry.job, Outcome::TempFail, "shutting down", remote_));
    }
    return;
  }
  if (plaintext_retry) {
    openConnection(std::move(retry), true);
  }
  pump();
}

uint32_t ClientPool::messagesPerConnection() const {
  const uint32_t own = settings_.max_messages_per_connection;
  const uint32_t site = site_ != nullptr ? site_->deliveriesPerConnection(nowMicros()) : 0;
  return site != 0 ? std::min(own, site) : own;
}

void ClientPool::holdWaiting(const shaping::Hold& hold) {
  std::deque<PendingDelivery> waiting;
  waiting.swap(waiting_);
  for (auto& delivery : waiting) {
    delivery.done(heldResult(*delivery.job, hold.limit, hold.until_us));
  }
}

void ClientPool::failWaiting(const std::string& reply) {
  std::deque<PendingDelivery> waiting;
  waiting.swap(waiting_);
  for (auto& delivery : waiting) {
    Result result = uniformResult(*delivery.job, Outcome::TempFail, reply, remote_);
    result.unreached = true;
    delivery.done(std::move(result));
  }
}

void ClientPool::shutdown() {
  shutting_down_ = true;
  failWaiting("shutting down");
  std::vector<ClientConnection*> idle;
  idle.swap(idle_);
  for (ClientConnection* connection : idle) {
    connection->quit();
  }
}

}  // namespace mxgate::delivery
