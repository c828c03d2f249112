// One inbound SMTP connection: the RFC 5321 server state machine with PIPELINING (RFC 2920),
// SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034),
// STARTTLS (RFC 3207) and CHUNKING (RFC 3030).
//
// Message content streams through DotReader/ContentFilter into body chunks; full chunks are
// written to the spool unsynced while DATA continues (bounded memory per connection), and
// the end of data commits the last chunk plus the metadata in one synced group commit. The
// "250 ... queued as" reply is sent only from that commit's completion. Replies produced
// while handling one read are sent with one write.
//
// Each transaction drives a pipeline::Intake (include/mxgate/pipeline/intake.h), which runs the
// listener's stages (on inbound listeners SPF, DKIM, DMARC, optionally the virus scan) over
// MAIL, the recipients and the content, and decides at the end of data; the session answers
// with the decision and commits what the intake records. The content passes a stripper of
// forged Authentication-Results and of X-Mxgate-* fields on its way to the spool (on inbound
// listeners forgeries; on submission listeners requests such as X-Mxgate-Send-At, which the
// intake's stages read before the stripper removes them).
//
// Lives on one worker loop; completions from the spool writer and from the stages come back
// through the loop's inbox and find the session by id (LoopServer::find), never by pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mxgate/auth/authenticator.h"
#include "mxgate/auth/authres.h"
#include "mxgate/io/stream.h"
#include "mxgate/mail/queue_id.h"
#include "mxgate/pipeline/intake.h"
#include "mxgate/server/recipient_verifier.h"
#include "mxgate/server/runtime.h"
#include "mxgate/smtp/command.h"
#include "mxgate/smtp/message_reader.h"
#include "mxgate/smtp/replies.h"
#include "mxgate/smtp/sasl.h"
#include "mxgate/spool/admission.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::server {

class LoopServer;

class Session : public io::Stream::Handler {
 public:
  Session(LoopServer& owner, uint64_t id, Snapshot snapshot, const config::Listener& listener);
  ~Session() override;

  // Accepts the pending connection and greets (or starts implicit TLS). On failure the
  // session closes itself.
  void start(uv_stream_t* listener_handle);
  // Called once a second by the owner: enforces the RFC 5321 §4.5.3.2 timeouts.
  void checkTimeout(uint64_t now_ms);
  // Node drain: a session receiving a message (DATA, BDAT, its commit) answers it first and
  // then says 421 and closes; any other says 421 and closes now.
  void drain();
  // Node shutdown: say 421 and close; content still arriving is discarded.
  void shutdown();
  // A spool write for this session finished (on the loop thread).
  void onChunkWritten(const spool::CommitStatus& status, uint64_t bytes);
  void onCommitted(const spool::CommitStatus& status, const mail::QueueId& id, size_t recipients,
                   uint64_t size);

  uint64_t id() const { return id_; }

  // io::Stream::Handler
  void onStreamData(std::string_view data) override;
  void onStreamTlsReady() override;
  void onStreamEnd(std::string_view reason) override;
  void onStreamDrained() override;
  void onStreamClosed() override;

 private:
  // Verifying: a RCPT waits for the next hop's answer to a probe; input waits meanwhile.
  // AuthResponse: the next line answers a 334 challenge (RFC 4954 §4). Authenticating: the
  // credentials are being checked, or a failure's reply waits out its delay; input waits.
  enum class Phase { Handshake, Command, AuthResponse, Authenticating, Verifying, Data, Bdat, Committing, Closing };

  void greet();
  // A read arrived: moves the deadline as far as the data is worth (see session.cpp).
  void noteProgress(std::string_view data);
  void processInput();
  bool processCommandLine();
  void execute(const smtp::Command& command);
  void handleHelo(const smtp::Command& command, bool extended);
  void handleMail(const smtp::Command& command);
  void handleRcpt(const smtp::Command& command);
  // A recipient refused with reply id: counted, logged with the reason (and detail), one more
  // error unless the refusal is temporary.
  void refuseRecipient(smtp::ReplyId id, const std::string& address, std::string_view reason,
                       std::string_view detail = {});
  // delivery.recipients = "verify": asks the verifier, then answers the RCPT in onVerified.
  void verifyRecipient(const config::Tenant& tenant, mail::Address address);
  void onVerified(mail::Address address, const std::string& tenant, const VerificationResult& result);
  // A recipient routed to its tenant: the intake's stages may still refuse it; else 250.
  void acceptRecipient(mail::Address address, const std::string& tenant);
  void handleData();
  void handleBdat(const smtp::Command& command);
  void handleStartTls();
  // AUTH on submission listeners (RFC 4954): PLAIN and LOGIN, inside TLS (or in plaintext on
  // a loopback listener that allows it), checked by the node's Authenticator off the loop.
  void handleAuth(const smtp::Command& command);
  bool processAuthLine();
  void onAuthStep(smtp::sasl::Step step);
  // Takes the authenticator's answer: a failure's 535 waits until auth_reply_at_ms_ (the
  // limiter's growing delay, sent by checkTimeout); anything else is answered now.
  void applyAuthResult(const std::string& username, const auth::Authenticator::Result& result);
  void replyToAuth(smtp::ReplyId id);
  bool authAdvertised() const;
  void handleXclient(const smtp::Command& command);
  void consumeData();
  void consumeBdat();
  void beginContent();
  void appendContent(std::string_view canonical);
  // Shows the client's content after the content filter (in filtered_) to the intake, moves it
  // through the forged-field stripper into chunk_ and appends what the stripper passed (chunk_
  // after offset before) to the scan copy. last: the content is complete.
  void passFiltered(size_t before, bool last);
  // Refuses a message that cannot be kept: too big or violating the content policy (5xx), or
  // without memory for its scan copy (451 4.3.0; at DATA already when the declared SIZE does not
  // fit). True when refused.
  bool refuseIfUnstorable();
  void flushChunk();
  void endOfContent();
  // At MAIL: the intake of the new transaction.
  void beginIntake();
  void onDecision(const pipeline::MessageDecision& decision);
  // Commits once every chunk write has completed and the decision is in.
  void maybeCommit();
  void commit();
  void abortContent();
  // The message is refused with reply id: its chunks are dropped, the transaction ends and the
  // session waits for the next command.
  void refuseContent(smtp::ReplyId id, std::string_view argument = {});
  // Our authserv-id (RFC 8601): auth.authserv_id, or the node's host name.
  const std::string& authservId() const;
  // Counts and logs the forged Authentication-Results and X-Mxgate-* fields the stripper removed.
  void countForgedFields();
  void resetTransaction();
  // Draining: once the message being received is answered (the session is back at commands
  // with no BDAT content open), says 421 and closes. True when it closed.
  bool closeIfDrained();
  // Tells the spool writer whether this session has a transaction that may commit soon.
  void announceTransaction(bool open);
  void reply(smtp::ReplyId id, std::string_view argument = {});
  void countError();
  bool countJunk();
  void flushOutput();
  void closeAfterReply(smtp::ReplyId id, std::string_view argument = {});
  // True when input is already buffered behind the command just read (RFC 2920 §3.1).
  bool mustBeLastInGroup() const;
  void updateReading();
  void setDeadline();
  std::string receivedHeader() const;
  std::string sessionTag() const;

  LoopServer& owner_;
  uint64_t id_;
  Snapshot snapshot_;
  const config::Config& config_;
  config::Listener listener_;
  io::Stream stream_;
  std::string peer_ip_;    // the TCP peer: connection limits and XCLIENT authorization
  std::string client_ip_;  // the client as presented: the peer, or what XCLIENT ADDR set
  std::string limit_key_;  // the peer's key in ConnectionLimits (its IPv6 prefix)
  bool counted_ = false;   // holds a slot in ConnectionLimits

  Phase phase_ = Phase::Command;
  std::string in_;
  size_t in_pos_ = 0;
  bool discarding_line_ = false;  // inside an over-long command line, waiting for its LF
  std::string out_;
  uint64_t deadline_ms_ = 0;

  // Session state (reset by STARTTLS).
  std::string helo_;
  bool esmtp_ = false;
  uint32_t errors_ = 0;
  uint32_t junk_ = 0;
  uint32_t messages_ = 0;
  uint32_t commands_ = 0;

  // Authentication (submission listeners; reset by STARTTLS and XCLIENT).
  std::string auth_tenant_;  // the authenticated client's tenant; "" = not authenticated
  std::string auth_user_;
  smtp::sasl::Exchange sasl_;
  uint64_t auth_reply_at_ms_ = 0;  // Authenticating after a failure: when its 535 is due

  // Transaction state (reset by RSET, MAIL completion, rejection).
  bool in_transaction_ = false;
  bool announced_ = false;  // counted in the store's open transactions
  mail::QueueId queue_id_;
  smtp::MailFrom mail_from_;
  // The transaction's intake (its recipients, stages and decision); null outside a transaction.
  std::unique_ptr<pipeline::Intake> intake_;
  uint64_t intake_generation_ = 0;  // tells reports for an earlier transaction apart
  bool used_bdat_ = false;
  bool used_data_ = false;
  bool draining_ = false;  // the node drains: close once the message being received is answered

  // Content state for the message being received.
  smtp::DotReader dot_reader_;
  std::unique_ptr<smtp::ContentFilter> filter_;
  std::string unstuffed_;
  std::string chunk_;
  uint32_t chunks_written_ = 0;
  uint64_t spool_epoch_ = 0;  // the spool's epoch when the first chunk was written
  uint32_t chunk_writes_in_flight_ = 0;
  uint64_t body_bytes_ = 0;
  uint32_t body_crc_ = 0;
  bool too_big_ = false;
  bool write_failed_ = false;
  uint64_t bdat_remaining_ = 0;
  uint64_t bdat_chunk_size_ = 0;
  bool bdat_last_ = false;
  bool bdat_discard_ = false;  // the chunk is read and thrown away, then bdat_error_ is sent
  smtp::ReplyId bdat_error_ = smtp::ReplyId::NeedMail;
  bool commit_pending_ = false;    // the content is complete; commit when the last wait ends
  bool commit_submitted_ = false;  // the commit batch went to the writer

  // Inbound listeners: the stripper of forged fields.
  std::unique_ptr<auth::ForgedFieldStripper> stripper_;
  std::string filtered_;  // the filter's output for the stripper
  // The whole content, for stages that need it (a scan before the 250), counted in admission's
  // in-flight bytes.
  std::shared_ptr<spool::CountedBuffer> scan_copy_;
  bool scan_memory_short_ = false;  // the copy could not grow: the message gets 451 4.3.0
  bool awaiting_decision_ = false;
};

}  // namespace mxgate::server
