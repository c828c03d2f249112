// The inbound SMTP session (see include/mxgate/server/session.h). RFC 5321 §3, §4.1, §4.5;
// RFC 2920, 1870, 6152, 6531, 2034, 3207, 3030. Runs on one worker loop.
#include "mxgate/server/session.h"

#include <chrono>
#include <ctime>

#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/pipeline/outbound_stages.h"
#include "mxgate/server/commit.h"
#include "mxgate/server/smtp_server.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/store.h"

namespace mxgate::server {
namespace {

constexpr uint32_t kMaxChunkWritesInFlight = 2;

smtp::ReplyId replyForMailError(smtp::ParseError error, bool sender) {
  switch (error) {
    case smtp::ParseError::Syntax: return sender ? smtp::ReplyId::MailSyntax : smtp::ReplyId::RcptSyntax;
    case smtp::ParseError::LocalPartTooLong: return smtp::ReplyId::LocalPartTooLong;
    case smtp::ParseError::DomainTooLong: return smtp::ReplyId::DomainTooLong;
    case smtp::ParseError::PathTooLong: return smtp::ReplyId::PathTooLong;
    case smtp::ParseError::Utf8NotAllowed: return smtp::ReplyId::Utf8NotAllowed;
    case smtp::ParseError::UnknownParameter: return smtp::ReplyId::UnsupportedParameter;
    case smtp::ParseError::BadParameterValue:
    case smtp::ParseError::DuplicateParameter: return smtp::ReplyId::BadParameterValue;
    case smtp::ParseError::None:
    case smtp::ParseError::PathSyntax:
    case smtp::ParseError::InvalidUtf8: break;
  }
  return sender ? smtp::ReplyId::BadSenderSyntax : smtp::ReplyId::BadRecipientSyntax;
}

smtp::ReplyId replyForViolation(smtp::ContentViolation violation) {
  switch (violation) {
    case smtp::ContentViolation::BareLf: return smtp::ReplyId::BareLfInData;
    case smtp::ContentViolation::BareCr: return smtp::ReplyId::BareCrInData;
    case smtp::ContentViolation::Nul: return smtp::ReplyId::NulInData;
    case smtp::ContentViolation::HeaderTooLarge: return smtp::ReplyId::HeaderTooBig;
    case smtp::ContentViolation::TooManyReceived: return smtp::ReplyId::MailLoop;
    case smtp::ContentViolation::None: break;
  }
  return smtp::ReplyId::QueueWriteError;
}

std::string_view violationName(smtp::ContentViolation violation) {
  switch (violation) {
    case smtp::ContentViolation::BareLf: return "bare_lf";
    case smtp::ContentViolation::BareCr: return "bare_cr";
    case smtp::ContentViolation::Nul: return "nul";
    case smtp::ContentViolation::HeaderTooLarge: return "header_too_large";
    case smtp::ContentViolation::TooManyReceived: return "mail_loop";
    case smtp::ContentViolation::None: break;
  }
  return "none";
}

}  // namespace

Session::Session(LoopServer& owner, uint64_t id, Snapshot snapshot, const config::Listener& listener)
    : owner_(owner),
      id_(id),
      snapshot_(std::move(snapshot)),
      config_(*snapshot_.config),
      listener_(listener),
      stream_(owner.loop(), *this) {}

Session::~Session() = default;

// "s<loop>.<n>": the loop index lives in the top 16 bits of the id (see LoopServer).
std::string Session::sessionTag() const {
  return "s" + std::to_string(id_ >> 48) + "." + std::to_string(id_ & 0xFFFFFFFFFFFFu);
}

void Session::start(uv_stream_t* listener_handle) {
  if (stream_.accept(listener_handle) != 0) {
    phase_ = Phase::Closing;
    stream_.close();
    return;
  }
  peer_ip_ = stream_.peerAddress();
  client_ip_ = peer_ip_;
  owner_.counters().connections.fetch_add(1, std::memory_order_relaxed);
  limit_key_ = ConnectionLimits::clientKey(peer_ip_, config_.smtp.ipv6_prefix_length);
  auto verdict = owner_.limits().acquire(limit_key_, config_.smtp.max_connections,
                                         config_.smtp.max_connections_per_ip);
  if (verdict != ConnectionLimits::Verdict::Accept) {
    owner_.counters().refused_connections.fetch_add(1, std::memory_order_relaxed);
    log::warn(sessionTag(), "connection_refused")
        .kv("client", client_ip_)
        .kv("reason", verdict == ConnectionLimits::Verdict::NodeFull ? "node_limit" : "ip_limit");
    if (verdict == ConnectionLimits::Verdict::NodeFull) {
      closeAfterReply(smtp::ReplyId::TooManyConnections, config_.node.hostname);
    } else {
      closeAfterReply(smtp::ReplyId::TooManyConnectionsFromIp, client_ip_);
    }
    return;
  }
  counted_ = true;
  if (owner_.runtime().admission().check() == spool::Admission::Verdict::WriteError) {
    owner_.counters().refused_connections.fetch_add(1, std::memory_order_relaxed);
    log::warn(sessionTag(), "connection_refused").kv("client", client_ip_).kv("reason", "spool_not_writable");
    closeAfterReply(smtp::ReplyId::SpoolUnavailable, config_.node.hostname);
    return;
  }
  log::debug(sessionTag(), "connect").kv("client", client_ip_).kv("listener", listener_.name);
  if (listener_.tls == config::ListenerTls::Implicit) {
    if (!snapshot_.tls) {
      phase_ = Phase::Closing;
      stream_.close();
      return;
    }
    phase_ = Phase::Handshake;
    stream_.startTls(snapshot_.tls, tls::Session::Role::Server);
    setDeadline();
    updateReading();
    return;
  }
  greet();
  updateReading();
}

void Session::greet() {
  phase_ = Phase::Command;
  reply(smtp::ReplyId::Greeting, config_.node.hostname);
  flushOutput();
  setDeadline();
}

void Session::setDeadline() {
  std::chrono::milliseconds timeout = config_.smtp.command_timeout;
  if (phase_ == Phase::Data || phase_ == Phase::Bdat) {
    timeout = config_.smtp.data_timeout;
  } else if (phase_ == Phase::Handshake) {
    timeout = config_.smtp.tls_handshake_timeout;
  }
  deadline_ms_ = owner_.loop().now() + static_cast<uint64_t>(timeout.count());
}

void Session::checkTimeout(uint64_t now_ms) {
  if (phase_ == Phase::Authenticating && auth_reply_at_ms_ != 0 && now_ms >= auth_reply_at_ms_) {
    replyToAuth(smtp::ReplyId::AuthFailed);
    setDeadline();
    processInput();
    return;
  }
  // Verifying ends by itself within the tenant's delivery.verify_wait; Authenticating when the
  // credential lane answers (bounded by its queue) or its failure delay has passed.
  if (phase_ == Phase::Closing || phase_ == Phase::Committing || phase_ == Phase::Verifying ||
      phase_ == Phase::Authenticating || now_ms < deadline_ms_) {
    return;
  }
  log::info(sessionTag(), "timeout").kv("client", client_ip_);
  if (phase_ == Phase::Data || phase_ == Phase::Bdat) {
    abortContent();
  }
  closeAfterReply(smtp::ReplyId::Timeout, config_.node.hostname);
}

void Session::drain() {
  if (phase_ == Phase::Closing) {
    return;
  }
  draining_ = true;
  const bool receiving = phase_ == Phase::Data || phase_ == Phase::Bdat || phase_ == Phase::Committing || used_bdat_;
  if (!receiving) {
    closeAfterReply(smtp::ReplyId::ShuttingDown, config_.node.hostname);
  }
}

bool Session::closeIfDrained() {
  if (!draining_ || phase_ != Phase::Command || used_bdat_) {
    return false;
  }
  closeAfterReply(smtp::ReplyId::ShuttingDown, config_.node.hostname);
  return true;
}

void Session::shutdown() {
  if (phase_ == Phase::Closing) {
    return;
  }
  if (phase_ == Phase::Data || phase_ == Phase::Bdat || (phase_ == Phase::Committing && !commit_submitted_)) {
    abortContent();
  }
  closeAfterReply(smtp::ReplyId::ShuttingDown, config_.node.hostname);
}

void Session::onStreamData(std::string_view data) {
  if (phase_ == Phase::Closing) {
    return;
  }
  in_.append(data);
  noteProgress(data);
  processInput();
}

// Per-request deadlines (Postfix's smtpd_per_request_deadline and smtpd_min_data_rate): a read
// that completes no command line does not move the command deadline, and message data moves
// the data deadline on only by what it is worth at smtp.min_data_rate, never past data_timeout
// from now; a client trickling a byte at a time is cut like an idle one.
void Session::noteProgress(std::string_view data) {
  if (phase_ == Phase::Data || phase_ == Phase::Bdat) {
    const uint64_t now = owner_.loop().now();
    const uint64_t credit = data.size() * 1000 / config_.smtp.min_data_rate;
    deadline_ms_ = std::min(deadline_ms_ + credit, now + static_cast<uint64_t>(config_.smtp.data_timeout.count()));
  } else if (data.find('\n') != std::string_view::npos) {
    setDeadline();
  }
}

void Session::processInput() {
  while (in_pos_ < in_.size() && !closeIfDrained()) {
    if (phase_ == Phase::Command) {
      if (!processCommandLine()) {
        break;
      }
    } else if (phase_ == Phase::AuthResponse) {
      if (!processAuthLine()) {
        break;
      }
    } else if (phase_ == Phase::Data) {
      consumeData();
    } else if (phase_ == Phase::Bdat) {
      consumeBdat();
    } else {
      break;  // Handshake, Committing, Closing: input waits
    }
  }
  closeIfDrained();
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 65536) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  flushOutput();
  updateReading();
}

bool Session::processCommandLine() {
  std::string_view buffer(in_.data() + in_pos_, in_.size() - in_pos_);
  if (discarding_line_) {
    size_t lf = buffer.find('\n');
    if (lf == std::string_view::npos) {
      in_pos_ = in_.size();
      return false;
    }
    in_pos_ += lf + 1;
    discarding_line_ = false;
    return true;
  }
  // An AUTH command with its initial response may be longer than other commands (RFC 4954 §4).
  const bool auth_line = listener_.role == config::ListenerRole::Submission && buffer.size() >= 5 &&
                         ascii::startsWithIgnoreCase(buffer, "AUTH ");
  const size_t limit = auth_line ? std::max(config_.smtp.max_line_length, smtp::sasl::kMaxLineLength)
                                 : config_.smtp.max_line_length;
  smtp::LineResult line =
      smtp::nextCommandLine(buffer, limit, config_.smtp.bare_newline == config::BareNewline::Normalize);
  switch (line.status) {
    case smtp::LineStatus::NeedMore: return false;
    case smtp::LineStatus::TooLong:
      in_pos_ += line.consumed;
      discarding_line_ = !line.line_end_found;
      owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::LineTooLong);
      countError();
      return true;
    case smtp::LineStatus::BareNewline:
      in_pos_ += line.consumed;
      owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::BareNewlineInCommand);
      countError();
      return true;
    case smtp::LineStatus::Complete: break;
  }
  in_pos_ += line.consumed;
  ++commands_;
  execute(smtp::parseCommand(line.line));
  return true;
}

// RFC 2920 §3.1: EHLO, HELO and DATA end a pipelined group; without PIPELINING (HELO) every
// command does. Input already buffered behind such a command means the client did not wait
// for our reply (e.g. message text sent before the 354): SMTP smuggling and early-talker
// territory, answered like Postfix's smtpd_forbid_unauth_pipelining.
bool Session::mustBeLastInGroup() const { return in_pos_ < in_.size(); }

void Session::execute(const smtp::Command& command) {
  if (!esmtp_ && !helo_.empty() && command.verb != smtp::Verb::Quit && mustBeLastInGroup()) {
    owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log::warn(sessionTag(), "pipelining_violation").kv("client", client_ip_);
    closeAfterReply(smtp::ReplyId::ProtocolSynchronization);
    return;
  }
  switch (command.verb) {
    case smtp::Verb::Helo: handleHelo(command, false); break;
    case smtp::Verb::Ehlo: handleHelo(command, true); break;
    case smtp::Verb::Mail: handleMail(command); break;
    case smtp::Verb::Rcpt: handleRcpt(command); break;
    case smtp::Verb::Data: handleData(); break;
    case smtp::Verb::Bdat: handleBdat(command); break;
    case smtp::Verb::StartTls: handleStartTls(); break;
    case smtp::Verb::Xclient: handleXclient(command); break;
    case smtp::Verb::Rset:
      if (countJunk()) {
        if (in_transaction_) {
          abortContent();
        }
        resetTransaction();
        reply(smtp::ReplyId::ResetOk);
      }
      break;
    case smtp::Verb::Noop:
      if (countJunk()) {
        reply(smtp::ReplyId::Ok);
      }
      break;
    case smtp::Verb::Help:
      if (countJunk()) {
        reply(smtp::ReplyId::Help);
      }
      break;
    case smtp::Verb::Vrfy:
      if (countJunk()) {
        reply(smtp::ReplyId::CannotVerify);
      }
      break;
    case smtp::Verb::Quit: closeAfterReply(smtp::ReplyId::Bye); break;
    case smtp::Verb::Expn:
      reply(smtp::ReplyId::NotImplemented);
      countError();
      break;
    case smtp::Verb::Auth: handleAuth(command); break;
    case smtp::Verb::Forbidden:
      owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
      log::warn(sessionTag(), "wrong_protocol").kv("client", client_ip_);
      closeAfterReply(smtp::ReplyId::WrongProtocol);
      break;
    case smtp::Verb::Invalid:
      reply(smtp::ReplyId::InvalidCharacters);
      countError();
      break;
    case smtp::Verb::Unknown:
      reply(smtp::ReplyId::CommandUnrecognized);
      countError();
      break;
  }
}

void Session::handleHelo(const smtp::Command& command, bool extended) {
  if (!smtp::isValidHeloArgument(command.argument)) {
    reply(smtp::ReplyId::HeloSyntax, extended ? "EHLO" : "HELO");
    countError();
    return;
  }
  if (mustBeLastInGroup()) {
    owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log::warn(sessionTag(), "pipelining_violation").kv("client", client_ip_).kv("after", "EHLO");
    closeAfterReply(smtp::ReplyId::ProtocolSynchronization);
    return;
  }
  if (in_transaction_) {
    abortContent();
  }
  resetTransaction();
  helo_.assign(command.argument);
  esmtp_ = extended;
  const std::string& host = config_.node.hostname;
  if (!extended) {
    out_ += "250 " + host + "\r\n";
    return;
  }
  std::vector<std::string> lines = {host, "PIPELINING", "SIZE " + std::to_string(config_.smtp.max_message_size),
                                    "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"};
  if (listener_.tls == config::ListenerTls::StartTls && snapshot_.tls && !stream_.tlsActive()) {
    lines.emplace_back("STARTTLS");
  }
  if (authAdvertised()) {
    lines.emplace_back("AUTH PLAIN LOGIN");
  }
  if (inAnyNetwork(snapshot_.xclient_networks, peer_ip_)) {
    lines.emplace_back("XCLIENT ADDR HELO NAME PROTO");
  }
  lines.emplace_back("CHUNKING");
  for (size_t i = 0; i < lines.size(); ++i) {
    out_ += i + 1 < lines.size() ? "250-" : "250 ";
    out_ += lines[i];
    out_ += "\r\n";
  }
}

void Session::handleMail(const smtp::Command& command) {
  if (helo_.empty()) {
    reply(smtp::ReplyId::NeedHelo);
    countError();
    return;
  }
  if (in_transaction_) {
    reply(smtp::ReplyId::NestedMail);
    countError();
    return;
  }
  if (listener_.role == config::ListenerRole::Submission && auth_tenant_.empty()) {
    reply(smtp::ReplyId::AuthRequired);
    countError();
    return;
  }
  if (messages_ >= config_.smtp.max_messages_per_connection) {
    closeAfterReply(smtp::ReplyId::TooManyMessages, config_.node.hostname);
    return;
  }
  switch (owner_.runtime().admission().check()) {
    case spool::Admission::Verdict::Accept: break;
    case spool::Admission::Verdict::NoStorage:
      owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::InsufficientStorage);
      return;
    case spool::Admission::Verdict::NoMemory:
      owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::ResourceShortage);
      return;
    case spool::Admission::Verdict::WriteError:
      owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::QueueWriteError);
      return;
  }
  smtp::MailFrom parsed;
  smtp::ParseError error = smtp::parseMailFrom(command.argument, true, parsed);
  if (error != smtp::ParseError::None) {
    reply(replyForMailError(error, true));
    countError();
    return;
  }
  if (parsed.size && *parsed.size > config_.smtp.max_message_size) {
    reply(smtp::ReplyId::MessageTooBig);
    countError();
    return;
  }
  if (!auth_tenant_.empty()) {
    // Sender binding first: a message the tenant may not send at all never uses its allowance.
    pipeline::Decision refusal = pipeline::bindEnvelopeSender(config_, auth_tenant_, parsed.sender);
    if (refusal.action == pipeline::Action::Continue) {
      refusal = pipeline::admitTenantMessage(owner_.runtime().inbound(), auth_tenant_);
    }
    if (refusal.action != pipeline::Action::Continue) {
      const bool temporary = refusal.action == pipeline::Action::TempFail;
      (temporary ? owner_.counters().tempfailed_messages : owner_.counters().rejected_messages)
          .fetch_add(1, std::memory_order_relaxed);
      log::info("-", "mail_rejected")
          .kv("from", parsed.sender.str())
          .kv("client", client_ip_)
          .kv("user", auth_user_)
          .kv("reason", refusal.reason)
          .kv("detail", refusal.detail);
      reply(refusal.reply, refusal.reply_argument);
      if (!temporary) {
        countError();
      }
      return;
    }
  }
  in_transaction_ = true;
  announceTransaction(true);
  mail_from_ = std::move(parsed);
  queue_id_ = mail::QueueId::generate();
  beginIntake();
  reply(smtp::ReplyId::SenderOk);
}

void Session::beginIntake() {
  LoopServer* owner = &owner_;
  const uint64_t session_id = id_;
  const uint64_t generation = ++intake_generation_;
  pipeline::Transaction transaction;
  transaction.id = queue_id_;
  transaction.client_ip = client_ip_;
  transaction.helo = helo_;
  transaction.mail_from = mail_from_.sender.str();
  transaction.mail_from_domain = mail_from_.sender.domain;
  if (!auth_tenant_.empty()) {
    transaction.origin = spool::Origin::Submission;
    transaction.tenant = auth_tenant_;
    transaction.auth_user = auth_user_;
  }
  intake_ = std::make_unique<pipeline::Intake>(
      pipeline::Context{owner_.runtime().inbound(), config_, listener_, authservId()}, owner_.runtime().store(),
      std::move(transaction), [owner, session_id, generation](std::function<void(pipeline::Intake&)> report) {
        owner->loop().post([owner, session_id, generation, report = std::move(report)] {
          Session* session = owner->find(session_id);
          if (session != nullptr && session->intake_ && session->intake_generation_ == generation) {
            report(*session->intake_);
          }
        });
      });
}

void Session::refuseRecipient(smtp::ReplyId id, const std::string& address, std::string_view reason,
                              std::string_view detail) {
  owner_.counters().rejected_recipients.fetch_add(1, std::memory_order_relaxed);
  log::Line line(log::Level::Info, queue_id_.str(), "rcpt_rejected");
  line.kv("to", address).kv("client", client_ip_).kv("reason", reason);
  if (!detail.empty()) {
    line.kv("detail", detail);
  }
  reply(id, address);
  if (smtp::replySpec(id).code >= 500) {
    countError();
  }
}

void Session::verifyRecipient(const config::Tenant& tenant, mail::Address address) {
  phase_ = Phase::Verifying;
  updateReading();
  LoopServer* owner = &owner_;
  const uint64_t session_id = id_;
  const std::string recipient = address.str();
  owner_.runtime().verifier().verify(
      tenant, recipient,
      [owner, session_id, address = std::move(address), tenant_id = tenant.id](VerificationResult result) mutable {
        owner->loop().post([owner, session_id, address = std::move(address), tenant_id = std::move(tenant_id),
                            result = std::move(result)]() mutable {
          if (Session* session = owner->find(session_id)) {
            session->onVerified(std::move(address), tenant_id, result);
          }
        });
      });
}

void Session::onVerified(mail::Address address, const std::string& tenant, const VerificationResult& result) {
  if (phase_ != Phase::Verifying) {
    return;  // closing
  }
  phase_ = Phase::Command;
  switch (result.verdict) {
    case Verification::Accepted: acceptRecipient(std::move(address), tenant); break;
    case Verification::Refused:
      refuseRecipient(smtp::ReplyId::UndeliverableRecipient, address.str(), "undeliverable", result.detail);
      break;
    case Verification::Unverified:
      refuseRecipient(smtp::ReplyId::UnverifiedRecipient, address.str(), "unverified", result.detail);
      break;
  }
  setDeadline();
  processInput();
}

void Session::acceptRecipient(mail::Address address, const std::string& tenant) {
  const std::string text = address.str();
  const pipeline::Decision refusal = intake_->addRecipient(pipeline::Recipient{std::move(address), tenant});
  if (refusal.action != pipeline::Action::Continue) {
    refuseRecipient(refusal.reply, text, refusal.reason, refusal.detail);
    return;
  }
  reply(smtp::ReplyId::RecipientOk);
}

void Session::handleRcpt(const smtp::Command& command) {
  if (!in_transaction_) {
    reply(smtp::ReplyId::NeedMail);
    countError();
    return;
  }
  smtp::RcptTo parsed;
  smtp::ParseError error = smtp::parseRcptTo(command.argument, mail_from_.smtputf8, parsed);
  if (error != smtp::ParseError::None) {
    reply(replyForMailError(error, false));
    countError();
    return;
  }
  if (parsed.postmaster) {
    if (config_.node.postmaster.empty() ||
        mail::parseMailbox(config_.node.postmaster, false, parsed.recipient) != mail::AddressError::None) {
      owner_.counters().rejected_recipients.fetch_add(1, std::memory_order_relaxed);
      reply(smtp::ReplyId::RelayDenied, "postmaster");
      countError();
      return;
    }
  }
  if (intake_->transaction().recipients.size() >= config_.smtp.max_recipients) {
    reply(smtp::ReplyId::TooManyRecipients);
    countError();
    return;
  }
  if (!auth_tenant_.empty()) {
    // An authenticated tenant's message may go to any domain (the authentication is the
    // permission); its recipients are the sending tenant's, routed to its [outbound] target.
    acceptRecipient(std::move(parsed.recipient), auth_tenant_);
    return;
  }
  const config::Tenant* tenant = config_.tenantForDomain(parsed.recipient.domain);
  if (tenant == nullptr) {
    refuseRecipient(smtp::ReplyId::RelayDenied, parsed.recipient.str(), "relay_denied");
    return;
  }
  // postmaster at every domain we accept mail for is never refused (RFC 5321 §4.5.1).
  const bool postmaster = parsed.postmaster || ascii::equalsIgnoreCase(parsed.recipient.local, "postmaster");
  if (tenant->delivery.recipients == config::RecipientCheck::List && !postmaster &&
      !tenant->delivery.listsRecipient(parsed.recipient.str())) {
    refuseRecipient(smtp::ReplyId::UnknownRecipient, parsed.recipient.str(), "unknown_recipient");
    return;
  }
  if (tenant->delivery.recipients == config::RecipientCheck::Verify && !postmaster) {
    verifyRecipient(*tenant, std::move(parsed.recipient));
    return;
  }
  acceptRecipient(std::move(parsed.recipient), tenant->id);
}

void Session::handleData() {
  if (!in_transaction_) {
    reply(smtp::ReplyId::NeedMail);
    countError();
    return;
  }
  if (intake_->transaction().recipients.empty()) {
    reply(smtp::ReplyId::NoValidRecipients);
    countError();
    return;
  }
  if (used_bdat_) {
    reply(smtp::ReplyId::BdatDataMixed);
    countError();
    return;
  }
  if (mustBeLastInGroup()) {
    owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log::warn(queue_id_.str(), "pipelining_violation").kv("client", client_ip_).kv("after", "DATA");
    closeAfterReply(smtp::ReplyId::ProtocolSynchronization);
    return;
  }
  used_data_ = true;
  beginContent();
  if (refuseIfUnstorable()) {
    return;
  }
  phase_ = Phase::Data;
  reply(smtp::ReplyId::StartData);
  setDeadline();
}

void Session::handleBdat(const smtp::Command& command) {
  uint64_t size = 0;
  bool last = false;
  if (!smtp::parseBdat(command.argument, size, last)) {
    // Without a valid size the chunk cannot be skipped: the stream is out of sync (RFC 3030 §3).
    owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    if (in_transaction_) {
      abortContent();
    }
    closeAfterReply(smtp::ReplyId::BdatSyntax);
    return;
  }
  bdat_remaining_ = size;
  bdat_chunk_size_ = size;
  bdat_last_ = last;
  bdat_discard_ = false;
  if (!in_transaction_) {
    bdat_discard_ = true;
    bdat_error_ = smtp::ReplyId::NeedMail;
  } else if (intake_->transaction().recipients.empty()) {
    bdat_discard_ = true;
    bdat_error_ = smtp::ReplyId::NoValidRecipients;
  } else if (used_data_) {
    bdat_discard_ = true;
    bdat_error_ = smtp::ReplyId::BdatDataMixed;
  } else if (!used_bdat_) {
    used_bdat_ = true;
    beginContent();
  }
  phase_ = Phase::Bdat;
  setDeadline();
  if (bdat_remaining_ == 0) {
    consumeBdat();
  }
}

void Session::handleStartTls() {
  if (listener_.tls != config::ListenerTls::StartTls || !snapshot_.tls) {
    reply(smtp::ReplyId::TlsNotAvailable);
    countError();
    return;
  }
  if (stream_.tlsActive()) {
    reply(smtp::ReplyId::TlsAlreadyActive);
    countError();
    return;
  }
  // RFC 3207 §4.2 and CVE-2011-0411: nothing the client sent in plaintext after STARTTLS may
  // be executed inside TLS. Drop it, and forget everything learned before the handshake.
  size_t injected = in_.size() - in_pos_;
  if (injected > 0) {
    owner_.counters().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log::warn(sessionTag(), "starttls_injection").kv("client", client_ip_).kv("bytes", injected);
  }
  in_.clear();
  in_pos_ = 0;
  if (in_transaction_) {
    abortContent();
  }
  resetTransaction();
  helo_.clear();
  esmtp_ = false;
  auth_tenant_.clear();
  auth_user_.clear();
  reply(smtp::ReplyId::StartTlsReady);
  flushOutput();
  stream_.startTls(snapshot_.tls, tls::Session::Role::Server);
  phase_ = Phase::Handshake;
  setDeadline();
}

bool Session::authAdvertised() const {
  return listener_.role == config::ListenerRole::Submission && (stream_.tlsActive() || listener_.auth_plaintext);
}

void Session::handleAuth(const smtp::Command& command) {
  smtp::ReplyId refusal = smtp::ReplyId::Ok;
  if (listener_.role != config::ListenerRole::Submission) {
    refusal = smtp::ReplyId::AuthNotEnabled;
  } else if (!esmtp_) {
    refusal = smtp::ReplyId::NeedHelo;  // AUTH is an ESMTP extension: EHLO first
  } else if (!authAdvertised()) {
    refusal = smtp::ReplyId::AuthNeedsEncryption;  // STARTTLS first
  } else if (!auth_tenant_.empty()) {
    refusal = smtp::ReplyId::AlreadyAuthenticated;
  } else if (in_transaction_) {
    refusal = smtp::ReplyId::TransactionInProgress;
  }
  if (refusal != smtp::ReplyId::Ok) {
    reply(refusal);
    countError();
    return;
  }
  onAuthStep(sasl_.start(command.argument));
}

bool Session::processAuthLine() {
  std::string_view buffer(in_.data() + in_pos_, in_.size() - in_pos_);
  smtp::LineResult line = smtp::nextCommandLine(buffer, smtp::sasl::kMaxLineLength, false);
  switch (line.status) {
    case smtp::LineStatus::NeedMore: return false;
    case smtp::LineStatus::TooLong:
    case smtp::LineStatus::BareNewline:
      // The exchange ends; a too long line's rest is read as commands and refused as such.
      in_pos_ += line.consumed;
      sasl_ = smtp::sasl::Exchange();
      phase_ = Phase::Command;
      reply(line.status == smtp::LineStatus::TooLong ? smtp::ReplyId::AuthLineTooLong : smtp::ReplyId::AuthBadResponse);
      countError();
      return true;
    case smtp::LineStatus::Complete: break;
  }
  in_pos_ += line.consumed;
  phase_ = Phase::Command;
  onAuthStep(sasl_.respond(line.line));
  return true;
}

void Session::onAuthStep(smtp::sasl::Step step) {
  switch (step.kind) {
    case smtp::sasl::Step::Kind::Challenge:
      reply(smtp::ReplyId::AuthChallenge, step.challenge);
      phase_ = Phase::AuthResponse;
      return;
    case smtp::sasl::Step::Kind::Fail:
      if (step.reply == smtp::ReplyId::AuthFailed) {
        // PLAIN naming another user as authorization identity: a failed authentication.
        applyAuthResult(step.credentials.username,
                        owner_.runtime().authenticator().refuse(sessionTag(), client_ip_, step.credentials.username));
        return;
      }
      reply(step.reply);
      countError();
      return;
    case smtp::sasl::Step::Kind::Verify: break;
  }
  phase_ = Phase::Authenticating;
  updateReading();
  LoopServer* owner = &owner_;
  const uint64_t session_id = id_;
  std::string username = step.credentials.username;
  owner_.runtime().authenticator().authenticate(
      owner_.loop(), sessionTag(), client_ip_, std::move(step.credentials.username),
      std::move(step.credentials.secret), auth::CredentialKind::Smtp,
      [owner, session_id, username = std::move(username)](auth::Authenticator::Result result) {
        Session* session = owner->find(session_id);
        if (session == nullptr || session->phase_ != Phase::Authenticating) {
          return;  // gone, or closing
        }
        session->applyAuthResult(username, result);
        session->setDeadline();
        session->processInput();
      });
}

void Session::applyAuthResult(const std::string& username, const auth::Authenticator::Result& result) {
  if (result.outcome == auth::Authenticator::Outcome::Failed && result.delay.count() > 0) {
    phase_ = Phase::Authenticating;
    updateReading();
    auth_reply_at_ms_ = owner_.loop().now() + static_cast<uint64_t>(result.delay.count());
    return;
  }
  if (result.outcome == auth::Authenticator::Outcome::Accepted) {  // logged by the authenticator
    auth_tenant_ = result.tenant;
    auth_user_ = username;
  }
  replyToAuth(result.reply);
}

void Session::replyToAuth(smtp::ReplyId id) {
  auth_reply_at_ms_ = 0;
  phase_ = Phase::Command;
  reply(id);
  if (id != smtp::ReplyId::AuthSucceeded) {
    countError();
  }
}

// Postfix's XCLIENT (www.postfix.org/XCLIENT_README.html): a trusted client (a proxy, a
// test harness) presents another client address and HELO name; the session starts over with
// a new greeting, so the client must say EHLO again.
void Session::handleXclient(const smtp::Command& command) {
  if (!inAnyNetwork(snapshot_.xclient_networks, peer_ip_)) {
    reply(smtp::ReplyId::XclientDenied);
    countError();
    return;
  }
  if (in_transaction_) {
    reply(smtp::ReplyId::TransactionInProgress);
    countError();
    return;
  }
  smtp::Xclient xclient;
  if (!smtp::parseXclient(command.argument, xclient)) {
    reply(smtp::ReplyId::XclientSyntax);
    countError();
    return;
  }
  resetTransaction();
  helo_ = xclient.helo.value_or("");
  esmtp_ = false;
  auth_tenant_.clear();
  auth_user_.clear();
  if (xclient.address) {
    client_ip_ = *xclient.address;
  }
  log::info(sessionTag(), "xclient").kv("peer", peer_ip_).kv("client", client_ip_).kv("helo", helo_);
  reply(smtp::ReplyId::Greeting, config_.node.hostname);
}

void Session::onStreamTlsReady() {
  const tls::Session* tls = stream_.tlsSession();
  log::debug(sessionTag(), "tls").kv("client", client_ip_).kv("version", tls->version()).kv("cipher", tls->cipher());
  if (listener_.tls == config::ListenerTls::Implicit && commands_ == 0 && helo_.empty()) {
    greet();
    return;
  }
  phase_ = Phase::Command;
  setDeadline();
}

void Session::beginContent() {
  dot_reader_ = smtp::DotReader();
  smtp::ContentPolicy policy;
  policy.bare_newline = config_.smtp.bare_newline;
  policy.reject_nul = config_.smtp.reject_nul;
  policy.max_header_size = config_.smtp.max_header_size;
  policy.max_received_headers = config_.smtp.max_received_headers;
  filter_ = std::make_unique<smtp::ContentFilter>(policy);
  stripper_ = std::make_unique<auth::ForgedFieldStripper>(snapshot_.authserv_ids);
  scan_memory_short_ = false;
  if (intake_->needsMessage()) {
    scan_copy_ = std::make_shared<spool::CountedBuffer>(owner_.runtime().admission());
    if (mail_from_.size && !scan_copy_->reserve(*mail_from_.size)) {
      scan_copy_.reset();  // the declared SIZE does not fit: 451 4.3.0 before any transfer
      scan_memory_short_ = true;
    }
  }
  chunk_ = receivedHeader();
  intake_->setReceived(chunk_);
  chunks_written_ = 0;
  body_bytes_ = 0;
  body_crc_ = 0;
  too_big_ = false;
  write_failed_ = false;
}

std::string Session::receivedHeader() const {
  // RFC 5321 §4.4 trace information; "with" keywords from RFC 3848 and RFC 6531.
  const tls::Session* tls = stream_.tlsSession();
  std::string protocol = mail_from_.smtputf8 ? "UTF8SMTP" : (esmtp_ || tls ? "ESMTP" : "SMTP");
  if (tls) {
    protocol += "S";
  }
  if (!auth_tenant_.empty()) {
    protocol += "A";  // ESMTPA, ESMTPSA, UTF8SMTPSA (RFC 3848, RFC 6531 §3.7.3)
  }
  std::string client_literal = client_ip_.find(':') != std::string::npos ? "IPv6:" + client_ip_ : client_ip_;
  std::string header = "Received: from " + helo_ + " ([" + client_literal + "])\r\n\tby " +
                       config_.node.hostname + " (mxgate) with " + protocol;
  if (tls) {
    header += " (" + tls->version() + " " + tls->cipher() + ")";
  }
  header += " id " + queue_id_.str();
  const std::vector<pipeline::Recipient>& recipients = intake_->transaction().recipients;
  if (recipients.size() == 1) {
    header += "\r\n\tfor <" + recipients.front().address.str() + ">";
  }
  header += "; " + formatRfc5322(nowMicros()) + "\r\n";
  return header;
}

void Session::consumeData() {
  std::string_view input(in_.data() + in_pos_, in_.size() - in_pos_);
  unstuffed_.clear();
  in_pos_ += dot_reader_.feed(input, unstuffed_);
  appendContent(unstuffed_);
  if (dot_reader_.done()) {
    endOfContent();
  }
}

void Session::consumeBdat() {
  size_t take = static_cast<size_t>(std::min<uint64_t>(bdat_remaining_, in_.size() - in_pos_));
  if (!bdat_discard_) {
    appendContent(std::string_view(in_.data() + in_pos_, take));
  }
  in_pos_ += take;
  bdat_remaining_ -= take;
  if (bdat_remaining_ > 0) {
    return;
  }
  phase_ = Phase::Command;
  setDeadline();
  if (bdat_discard_) {
    bdat_discard_ = false;
    reply(bdat_error_);
    countError();
    return;
  }
  if (bdat_last_) {
    endOfContent();
    return;
  }
  if (refuseIfUnstorable()) {
    return;  // the rest of this message's chunks will find no transaction (503) and be skipped
  }
  reply(smtp::ReplyId::ChunkOk, std::to_string(bdat_chunk_size_));
}

void Session::appendContent(std::string_view canonical) {
  const size_t before = chunk_.size();
  filter_->feed(canonical, filtered_);
  if (!too_big_ && filter_->outputBytes() > config_.smtp.max_message_size) {
    too_big_ = true;
  }
  if (too_big_ || write_failed_ || scan_memory_short_ || filter_->violation() != smtp::ContentViolation::None) {
    chunk_.clear();  // keep reading to the end of the message, but store nothing more
    filtered_.clear();
    scan_copy_.reset();
    return;
  }
  passFiltered(before, false);
  if (chunk_.size() >= config_.spool.chunk_size) {
    flushChunk();
  }
}

void Session::passFiltered(size_t before, bool last) {
  intake_->content(filtered_);
  stripper_->feed(filtered_, chunk_);
  if (last) {
    stripper_->finish(chunk_);
  }
  filtered_.clear();
  if (scan_copy_ && !scan_copy_->append(std::string_view(chunk_).substr(before))) {
    scan_copy_.reset();  // no memory for the copy: the message gets 451 4.3.0 at its end
    scan_memory_short_ = true;
  }
}

void Session::flushChunk() {
  spool::Batch batch;
  if (chunks_written_ == 0) {
    batch.markOpen(queue_id_);
    spool_epoch_ = owner_.runtime().store().epoch();
  }
  body_crc_ = spool::crc32(body_crc_, chunk_);
  body_bytes_ += chunk_.size();
  const uint64_t bytes = chunk_.size();
  batch.putBodyChunk(queue_id_, chunks_written_++, chunk_);
  chunk_.clear();
  ++chunk_writes_in_flight_;
  spool::Admission& admission = owner_.runtime().admission();
  admission.addInflight(bytes);
  admission.addWritten(bytes);
  LoopServer* owner = &owner_;
  uint64_t session_id = id_;
  owner_.runtime().store().submit(std::move(batch), false,
                                  [owner, session_id, bytes, &admission](const spool::CommitStatus& status) {
                                    admission.releaseInflight(bytes);
                                    owner->loop().post([owner, session_id, status, bytes] {
                                      if (Session* session = owner->find(session_id)) {
                                        session->onChunkWritten(status, bytes);
                                      }
                                    });
                                  });
  updateReading();
}

void Session::onChunkWritten(const spool::CommitStatus& status, uint64_t) {
  --chunk_writes_in_flight_;
  if (!status.ok) {
    write_failed_ = true;
    chunk_.clear();
  }
  if (commit_pending_) {
    maybeCommit();
    return;
  }
  processInput();
}

bool Session::refuseIfUnstorable() {
  const smtp::ContentViolation violation = filter_->violation();
  if (violation != smtp::ContentViolation::None || too_big_) {
    owner_.counters().rejected_messages.fetch_add(1, std::memory_order_relaxed);
    log::info(queue_id_.str(), "rejected")
        .kv("client", client_ip_)
        .kv("reason", too_big_ ? std::string_view("too_big") : violationName(violation));
    refuseContent(too_big_ ? smtp::ReplyId::MessageTooBig : replyForViolation(violation));
    countError();
    return true;
  }
  if (scan_memory_short_) {
    owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
    log::info(queue_id_.str(), "tempfailed").kv("client", client_ip_).kv("reason", "scan_copy_memory");
    refuseContent(smtp::ReplyId::ResourceShortage);
    return true;
  }
  return false;
}

void Session::endOfContent() {
  const size_t before = chunk_.size();
  filter_->finish(filtered_);
  phase_ = Phase::Committing;
  passFiltered(before, true);
  if (refuseIfUnstorable()) {
    return;
  }
  if (listener_.role == config::ListenerRole::Inbound) {
    countForgedFields();  // on a submission listener X-Mxgate-* fields are requests, not forgeries
  }
  commit_pending_ = true;
  awaiting_decision_ = true;
  std::shared_ptr<const std::string> message;
  if (scan_copy_) {
    message = std::shared_ptr<const std::string>(scan_copy_, &scan_copy_->text());
    scan_copy_.reset();  // the stages hold the copy (and its count) until they are done
  }
  intake_->finish(std::move(message), [this](const pipeline::MessageDecision& decision) { onDecision(decision); });
}

void Session::onDecision(const pipeline::MessageDecision& decision) {
  awaiting_decision_ = false;
  if (decision.kind != pipeline::MessageDecision::Kind::Accept) {
    const bool temporary = decision.kind == pipeline::MessageDecision::Kind::TempFail;
    (temporary ? owner_.counters().tempfailed_messages : owner_.counters().rejected_messages)
        .fetch_add(1, std::memory_order_relaxed);
    log::info(queue_id_.str(), temporary ? "tempfailed" : "rejected")
        .kv("client", client_ip_)
        .kv("from", mail_from_.sender.str())
        .kv("reason", decision.reason)
        .kv("detail", decision.detail);
    if (!temporary) {
      intake_->recordRejection(decision);
    }
    refuseContent(decision.reply, decision.reply_argument);
    setDeadline();
    processInput();
    return;
  }
  maybeCommit();
}

void Session::maybeCommit() {
  // Commit only once every earlier chunk is known to be written (a chunk lost to a write error
  // followed by a successful resume must never produce a 250 for a holed body) and the
  // decision is in.
  if (commit_pending_ && chunk_writes_in_flight_ == 0 && !awaiting_decision_) {
    commit();
  }
}

void Session::commit() {
  commit_pending_ = false;
  if (write_failed_) {
    owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
    log::error(queue_id_.str(), "chunk_write_failed").kv("client", client_ip_);
    refuseContent(smtp::ReplyId::QueueWriteError);
    processInput();
    return;
  }
  const uint64_t now = nowMicros();
  spool::MessageRecord record;
  record.id = queue_id_;
  record.state = spool::MessageState::Queued;
  record.received_at_us = now;
  record.next_attempt_us = now;
  record.mail_from = mail_from_.sender.str();
  record.client_address = client_ip_;
  record.helo = helo_;
  if (const tls::Session* tls = stream_.tlsSession()) {
    record.tls = tls->version() + " " + tls->cipher();
  }
  record.listener = listener_.name;
  record.smtputf8 = mail_from_.smtputf8;
  record.eightbit = mail_from_.body == smtp::BodyType::EightBitMime;
  spool::Batch batch;
  std::shared_ptr<const std::string> hot_body;
  if (const std::shared_ptr<const std::string>& replaced = intake_->replacedContent()) {
    // A stage replaced the content (outbound tracking): the body is our Received: field and the
    // replacement, written over the chunks that streamed in.
    auto body = std::make_shared<std::string>(intake_->transaction().received);
    *body += *replaced;
    batch.deleteBodyChunks(queue_id_, 0, chunks_written_);
    record.body_chunks = batch.putBody(queue_id_, *body, config_.spool.chunk_size);
    record.body_size = body->size();
    record.body_crc32 = spool::crc32(0, *body);
    hot_body = std::move(body);
  } else {
    body_crc_ = spool::crc32(body_crc_, chunk_);
    body_bytes_ += chunk_.size();
    record.body_size = body_bytes_;
    record.body_crc32 = body_crc_;
    record.body_chunks = chunks_written_ + 1;
    batch.putBodyChunk(queue_id_, chunks_written_, chunk_);
    if (chunks_written_ == 0) {
      hot_body = std::make_shared<const std::string>(std::move(chunk_));
    }
  }
  intake_->record(record, batch, now);
  if (chunks_written_ > 0) {
    batch.clearOpen(queue_id_);
    batch.requireEpoch(spool_epoch_);  // the earlier chunks were written unsynced
  }
  chunk_.clear();
  filter_.reset();
  stripper_.reset();
  commit_submitted_ = true;

  announceTransaction(false);
  LoopServer* owner = &owner_;
  const uint64_t session_id = id_;
  const mail::QueueId id = queue_id_;
  const size_t recipient_count = record.recipients.size();
  const uint64_t size = record.body_size;
  server::commitAccepted(owner_.runtime(), std::move(batch), std::move(record), std::move(hot_body),
                         [owner, session_id, id, recipient_count, size](const spool::CommitStatus& status) {
                           owner->loop().post([owner, session_id, status, id, recipient_count, size] {
                             if (Session* session = owner->find(session_id)) {
                               session->onCommitted(status, id, recipient_count, size);
                             }
                           });
                         });
}

void Session::onCommitted(const spool::CommitStatus& status, const mail::QueueId& id, size_t recipients,
                          uint64_t size) {
  if (status.ok) {
    ++messages_;
    junk_ = 0;
    owner_.counters().accepted_messages.fetch_add(1, std::memory_order_relaxed);
    owner_.counters().accepted_bytes.fetch_add(size, std::memory_order_relaxed);
    const tls::Session* tls = stream_.tlsSession();
    log::Line line(log::Level::Info, id.str(), "accepted");
    line.kv("from", mail_from_.sender.str())
        .kv("rcpts", recipients)
        .kv("size", size)
        .kv("client", client_ip_)
        .kv("helo", helo_)
        .kv("tls", tls ? tls->version() : std::string("none"))
        .kv("listener", listener_.name);
    if (!auth_user_.empty()) {
      line.kv("user", auth_user_);
    }
    reply(smtp::ReplyId::Queued, id.str());
  } else {
    owner_.counters().tempfailed_messages.fetch_add(1, std::memory_order_relaxed);
    log::error(id.str(), "commit_failed").kv("client", client_ip_).kv("error", status.error);
    reply(status.no_space ? smtp::ReplyId::InsufficientStorage : smtp::ReplyId::QueueWriteError);
    abortContent();  // the chunks written before the failed commit
  }
  resetTransaction();
  chunks_written_ = 0;
  if (phase_ == Phase::Committing) {
    phase_ = Phase::Command;
  }
  setDeadline();
  processInput();
}

void Session::abortContent() {
  if (chunks_written_ > 0) {
    spool::Batch batch;
    batch.deleteBodyChunks(queue_id_, 0, chunks_written_);
    batch.clearOpen(queue_id_);
    owner_.runtime().store().submit(std::move(batch), false, nullptr);
  }
  chunks_written_ = 0;
  chunk_.clear();
  filtered_.clear();
  filter_.reset();
  stripper_.reset();
  scan_copy_.reset();
  commit_pending_ = false;
  awaiting_decision_ = false;
}

void Session::refuseContent(smtp::ReplyId id, std::string_view argument) {
  abortContent();
  resetTransaction();
  phase_ = Phase::Command;
  reply(id, argument);
}

const std::string& Session::authservId() const { return snapshot_.authserv_ids.front(); }

void Session::countForgedFields() {
  const size_t auth_results = stripper_->removedAuthResults();
  const size_t own = stripper_->removedOwnFields();
  if (auth_results + own == 0) {
    return;
  }
  owner_.counters().removed_auth_results.fetch_add(auth_results, std::memory_order_relaxed);
  owner_.counters().removed_own_fields.fetch_add(own, std::memory_order_relaxed);
  log::info(queue_id_.str(), "forged_fields_removed")
      .kv("client", client_ip_)
      .kv("authentication_results", auth_results)
      .kv("x_mxgate", own);
}

void Session::announceTransaction(bool open) {
  if (open != announced_) {
    announced_ = open;
    if (open) {
      owner_.runtime().store().transactionOpened();
    } else {
      owner_.runtime().store().transactionClosed();
    }
  }
}

void Session::resetTransaction() {
  in_transaction_ = false;
  commit_submitted_ = false;
  intake_.reset();
  announceTransaction(false);
  mail_from_ = smtp::MailFrom();
  used_bdat_ = false;
  used_data_ = false;
  bdat_discard_ = false;
}

void Session::reply(smtp::ReplyId id, std::string_view argument) { out_ += smtp::renderReply(id, argument); }

void Session::countError() {
  if (++errors_ >= config_.smtp.max_errors && phase_ != Phase::Closing) {
    log::warn(sessionTag(), "too_many_errors").kv("client", client_ip_).kv("errors", errors_);
    closeAfterReply(smtp::ReplyId::TooManyErrors, config_.node.hostname);
  }
}

bool Session::countJunk() {
  if (++junk_ > config_.smtp.max_junk_commands) {
    log::warn(sessionTag(), "too_many_junk_commands").kv("client", client_ip_);
    closeAfterReply(smtp::ReplyId::TooManyJunkCommands, config_.node.hostname);
    return false;
  }
  return true;
}

void Session::flushOutput() {
  if (!out_.empty()) {
    stream_.write(out_);
    out_.clear();
  }
}

void Session::closeAfterReply(smtp::ReplyId id, std::string_view argument) {
  reply(id, argument);
  flushOutput();
  phase_ = Phase::Closing;
  stream_.closeGracefully();
}

void Session::updateReading() {
  if (stream_.closing()) {
    return;
  }
  bool want = (phase_ == Phase::Command || phase_ == Phase::AuthResponse || phase_ == Phase::Data ||
               phase_ == Phase::Bdat || phase_ == Phase::Handshake) &&
              stream_.pendingOutput() <= config_.smtp.max_pending_output &&
              chunk_writes_in_flight_ < kMaxChunkWritesInFlight;
  if (want) {
    stream_.startReading();
  } else {
    stream_.stopReading();
  }
}

void Session::onStreamDrained() { updateReading(); }

void Session::onStreamEnd(std::string_view reason) {
  if (phase_ == Phase::Data || phase_ == Phase::Bdat || (phase_ == Phase::Committing && !commit_submitted_)) {
    log::info(queue_id_.str(), "lost_connection_in_data").kv("client", client_ip_).kv("reason", reason);
    abortContent();
  }
  phase_ = Phase::Closing;
  stream_.close();
}

void Session::onStreamClosed() {
  announceTransaction(false);
  if (counted_) {
    owner_.limits().release(limit_key_);
    log::info(sessionTag(), "disconnect")
        .kv("client", client_ip_)
        .kv("commands", commands_)
        .kv("messages", messages_)
        .kv("errors", errors_);
  }
  owner_.forget(id_);
  delete this;
}

}  // namespace mxgate::server
