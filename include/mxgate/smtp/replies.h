// Every reply the SMTP server sends, in one table: basic code (RFC 5321 §4.2) plus enhanced
// status code (RFC 3463, RFC 5248 registry) plus text. Sessions never write reply text of
// their own; they pick an entry here, which keeps codes consistent and reviewable.
// Pure data and formatting; safe on any thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::smtp {

enum class ReplyId {
  // 2xx / 3xx
  Greeting,          // 220 <host> ESMTP mxgate
  Bye,               // 221 2.0.0
  Ok,                // 250 2.0.0
  SenderOk,          // 250 2.1.0
  RecipientOk,       // 250 2.1.5
  Queued,            // 250 2.0.0 Ok: queued as <id>
  ChunkOk,           // 250 2.0.0 <n> octets received
  ResetOk,           // 250 2.0.0
  Help,              // 214 2.0.0
  CannotVerify,      // 252 2.5.0
  StartData,         // 354
  StartTlsReady,     // 220 2.0.0
  AuthSucceeded,     // 235 2.7.0 (RFC 4954)
  AuthChallenge,     // 334 <base64 challenge>
  // 4xx
  ShuttingDown,             // 421 4.3.2
  TooManyConnections,       // 421 4.3.2 (node-wide)
  TooManyConnectionsFromIp, // 421 4.7.0
  Timeout,                  // 421 4.4.2
  TooManyErrors,            // 421 4.7.0
  TooManyJunkCommands,      // 421 4.7.0
  TooManyMessages,          // 421 4.7.0
  SpoolUnavailable,         // 421 4.3.2
  QueueWriteError,          // 451 4.3.0
  CheckTemporaryFailure,    // 451 4.4.3 (DNS failure during SPF/DKIM/DMARC)
  ScanTemporaryFailure,     // 451 4.3.0 (virus scan could not complete)
  SigningTemporaryFailure,  // 451 4.3.0 (DKIM signing of a submission failed)
  ResourceShortage,         // 451 4.3.0 (memory pressure)
  InsufficientStorage,      // 452 4.3.1
  TooManyRecipients,        // 452 4.5.3
  UnverifiedRecipient,      // 450 4.1.1 (the next hop could not be asked, or not yet)
  TlsNotAvailable,          // 454 4.7.0
  AuthTemporaryFailure,     // 454 4.7.0 (credentials could not be checked now)
  AuthLocked,               // 454 4.7.0 (too many failures from the client or for the user)
  TenantLimitExceeded,      // 451 4.7.0 (the tenant's message_rate or daily_cap; retry later)
  // 5xx
  LineTooLong,              // 500 5.5.2
  BareNewlineInCommand,     // 500 5.5.2
  InvalidCharacters,        // 500 5.5.2
  CommandUnrecognized,      // 500 5.5.2
  AuthLineTooLong,          // 500 5.5.6 (RFC 4954 §4)
  AuthCancelled,            // 501 5.0.0 (the client sent "*")
  AuthSyntax,               // 501 5.5.4 (AUTH mechanism [initial-response])
  AuthBadResponse,          // 501 5.5.2 (not strict base64, or a malformed PLAIN/LOGIN message)
  HeloSyntax,               // 501 5.5.4
  MailSyntax,               // 501 5.5.4
  RcptSyntax,               // 501 5.5.4
  BdatSyntax,               // 501 5.5.4
  BadSenderSyntax,          // 501 5.1.7
  BadRecipientSyntax,       // 501 5.1.3
  PathTooLong,              // 501 5.5.2
  BadParameterValue,        // 501 5.5.4
  NotImplemented,           // 502 5.5.1
  NeedHelo,                 // 503 5.5.1
  NeedMail,                 // 503 5.5.1
  NeedRcpt,                 // 503 5.5.1
  NestedMail,               // 503 5.5.1
  TlsAlreadyActive,         // 503 5.5.1
  BdatDataMixed,            // 503 5.5.1
  AuthNotEnabled,           // 503 5.5.1
  AlreadyAuthenticated,     // 503 5.5.1
  AuthMechanismUnknown,     // 504 5.5.4
  TransactionInProgress,    // 503 5.5.1
  XclientSyntax,            // 501 5.5.4
  XclientDenied,            // 550 5.7.0
  AuthRequired,             // 530 5.7.0
  AuthFailed,               // 535 5.7.8 (the same for an unknown user and a wrong secret)
  AuthNeedsEncryption,      // 538 5.7.11
  RelayDenied,              // 550 5.7.1
  UnknownRecipient,         // 550 5.1.1 (not in the tenant's recipient list)
  UndeliverableRecipient,   // 550 5.1.1 (the next hop refused it when probed)
  SuppressedRecipient,      // 550 5.1.1 (on the sending tenant's suppression list)
  SpfFailed,                // 550 5.7.23 (RFC 7372)
  DkimFailed,               // 550 5.7.20 (RFC 7372)
  DmarcFailed,              // 550 5.7.1 (RFC 7489 §6.7)
  SenderNotOwned,           // 550 5.7.1 (MAIL FROM of a domain the authenticated tenant does not own)
  HeaderSenderNotOwned,     // 550 5.7.1 (From, Sender or DKIM-Signature d= of a domain not the tenant's)
  HeaderSenderUnreadable,   // 550 5.7.1 (a From, Sender or DKIM-Signature field that cannot be parsed)
  VirusFound,               // 554 5.7.1
  BareLfInData,             // 550 5.5.2
  BareCrInData,             // 550 5.5.2
  NulInData,                // 550 5.6.0
  SendAtInvalid,            // 550 5.6.0 (X-Mxgate-Send-At on submission: not a time, or repeated)
  SendAtTooLate,            // 550 5.6.0 (X-Mxgate-Send-At beyond queue.send_at_horizon)
  MessageTooBig,            // 552 5.3.4
  HeaderTooBig,             // 552 5.3.4
  LocalPartTooLong,         // 553 5.1.3
  DomainTooLong,            // 553 5.1.3
  Utf8NotAllowed,           // 553 5.6.7
  MailLoop,                 // 554 5.4.6
  NoValidRecipients,        // 554 5.5.1
  ProtocolSynchronization,  // 554 5.5.0
  UnsupportedParameter,     // 555 5.5.4
  WrongProtocol,            // 221 2.7.0 (HTTP on the SMTP port; the connection is closed)
};

struct ReplySpec {
  int code;
  std::string_view enhanced;
  std::string_view text;  // may hold one "{}" for the argument
};

const ReplySpec& replySpec(ReplyId id);

// "<code> <enhanced> <text>\r\n" with the argument substituted for "{}".
std::string renderReply(ReplyId id, std::string_view argument = {});

// True for replies after which the server closes the connection (421, 221).
bool closesConnection(ReplyId id);

}  // namespace mxgate::smtp
