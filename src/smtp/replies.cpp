// The server's reply table (see include/mxgate/smtp/replies.h). Codes follow RFC 5321 §4.2.3
// and the enhanced status codes of RFC 3463; texts are close to Postfix's where admins and
// monitoring scripts already know them.
#include "mxgate/smtp/replies.h"

#include <array>

namespace mxgate::smtp {
namespace {

struct Entry {
  ReplyId id;
  ReplySpec spec;
};

constexpr Entry kReplies[] = {
    {ReplyId::Greeting, {220, "", "{} ESMTP mxgate"}},
    {ReplyId::Bye, {221, "2.0.0", "Bye"}},
    {ReplyId::Ok, {250, "2.0.0", "Ok"}},
    {ReplyId::SenderOk, {250, "2.1.0", "Ok"}},
    {ReplyId::RecipientOk, {250, "2.1.5", "Ok"}},
    {ReplyId::Queued, {250, "2.0.0", "Ok: queued as {}"}},
    {ReplyId::ChunkOk, {250, "2.0.0", "Ok: {} octets received"}},
    {ReplyId::ResetOk, {250, "2.0.0", "Ok"}},
    {ReplyId::Help, {214, "2.0.0", "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)"}},
    {ReplyId::CannotVerify, {252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"}},
    {ReplyId::StartData, {354, "", "End data with <CR><LF>.<CR><LF>"}},
    {ReplyId::StartTlsReady, {220, "2.0.0", "Ready to start TLS"}},
    {ReplyId::AuthSucceeded, {235, "2.7.0", "Authentication successful"}},
    {ReplyId::AuthChallenge, {334, "", "{}"}},
    {ReplyId::ShuttingDown, {421, "4.3.2", "{} Service shutting down, closing transmission channel"}},
    {ReplyId::TooManyConnections, {421, "4.3.2", "{} Too many connections, try again later"}},
    {ReplyId::TooManyConnectionsFromIp, {421, "4.7.0", "Too many connections from {}"}},
    {ReplyId::Timeout, {421, "4.4.2", "{} Error: timeout exceeded"}},
    {ReplyId::TooManyErrors, {421, "4.7.0", "{} Error: too many errors"}},
    {ReplyId::TooManyJunkCommands, {421, "4.7.0", "{} Error: too many commands without mail"}},
    {ReplyId::TooManyMessages, {421, "4.7.0", "{} Error: too many messages in one connection"}},
    {ReplyId::SpoolUnavailable, {421, "4.3.2", "{} Service temporarily unavailable: the queue cannot be written"}},
    {ReplyId::QueueWriteError, {451, "4.3.0", "Error: queue file write error"}},
    {ReplyId::CheckTemporaryFailure, {451, "4.4.3", "Temporary DNS failure while checking {}; try again later"}},
    {ReplyId::ScanTemporaryFailure, {451, "4.3.0", "Error: the virus scan could not complete; try again later"}},
    {ReplyId::SigningTemporaryFailure, {451, "4.3.0", "DKIM signing failed; try again later"}},
    {ReplyId::ResourceShortage, {451, "4.3.0", "Error: temporary resource shortage, try again later"}},
    {ReplyId::InsufficientStorage, {452, "4.3.1", "Insufficient system storage"}},
    {ReplyId::TooManyRecipients, {452, "4.5.3", "Error: too many recipients"}},
    {ReplyId::UnverifiedRecipient,
     {450, "4.1.1", "<{}>: Recipient address rejected: unverified address, try again later"}},
    {ReplyId::TlsNotAvailable, {454, "4.7.0", "TLS not available due to local problem"}},
    {ReplyId::AuthTemporaryFailure, {454, "4.7.0", "Temporary authentication failure, try again later"}},
    {ReplyId::AuthLocked, {454, "4.7.0", "Too many failed authentications, try again later"}},
    {ReplyId::TenantLimitExceeded, {451, "4.7.0", "Message refused for now: {}"}},
    {ReplyId::LineTooLong, {500, "5.5.2", "Error: line too long"}},
    {ReplyId::BareNewlineInCommand, {500, "5.5.2", "Error: bare <LF> received"}},
    {ReplyId::InvalidCharacters, {500, "5.5.2", "Error: invalid characters in command"}},
    {ReplyId::CommandUnrecognized, {500, "5.5.2", "Error: command not recognized"}},
    {ReplyId::AuthLineTooLong, {500, "5.5.6", "Authentication exchange line is too long"}},
    {ReplyId::AuthCancelled, {501, "5.0.0", "Authentication cancelled"}},
    {ReplyId::AuthSyntax, {501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"}},
    {ReplyId::AuthBadResponse, {501, "5.5.2", "Error: invalid authentication data"}},
    {ReplyId::HeloSyntax, {501, "5.5.4", "Syntax: {} hostname"}},
    {ReplyId::MailSyntax, {501, "5.5.4", "Syntax: MAIL FROM:<address>"}},
    {ReplyId::RcptSyntax, {501, "5.5.4", "Syntax: RCPT TO:<address>"}},
    {ReplyId::BdatSyntax, {501, "5.5.4", "Syntax: BDAT size [LAST]"}},
    {ReplyId::BadSenderSyntax, {501, "5.1.7", "Bad sender address syntax"}},
    {ReplyId::BadRecipientSyntax, {501, "5.1.3", "Bad recipient address syntax"}},
    {ReplyId::PathTooLong, {501, "5.5.2", "Path too long"}},
    {ReplyId::BadParameterValue, {501, "5.5.4", "Error: bad parameter value"}},
    {ReplyId::NotImplemented, {502, "5.5.1", "Error: command not implemented"}},
    {ReplyId::NeedHelo, {503, "5.5.1", "Error: send HELO/EHLO first"}},
    {ReplyId::NeedMail, {503, "5.5.1", "Error: need MAIL command"}},
    {ReplyId::NeedRcpt, {503, "5.5.1", "Error: need RCPT command"}},
    {ReplyId::NestedMail, {503, "5.5.1", "Error: nested MAIL command"}},
    {ReplyId::TlsAlreadyActive, {503, "5.5.1", "Error: TLS already active"}},
    {ReplyId::BdatDataMixed, {503, "5.5.1", "Error: DATA and BDAT cannot be mixed in one transaction"}},
    {ReplyId::AuthNotEnabled, {503, "5.5.1", "Error: authentication not enabled"}},
    {ReplyId::AlreadyAuthenticated, {503, "5.5.1", "Error: already authenticated"}},
    {ReplyId::AuthMechanismUnknown, {504, "5.5.4", "Unrecognized authentication mechanism"}},
    {ReplyId::TransactionInProgress, {503, "5.5.1", "Error: MAIL transaction in progress"}},
    {ReplyId::XclientSyntax, {501, "5.5.4", "Syntax: XCLIENT attribute=value [attribute=value ...]"}},
    {ReplyId::XclientDenied, {550, "5.7.0", "Error: insufficient authorization"}},
    {ReplyId::AuthRequired, {530, "5.7.0", "Authentication required"}},
    {ReplyId::AuthFailed, {535, "5.7.8", "Error: authentication failed"}},
    {ReplyId::AuthNeedsEncryption, {538, "5.7.11", "Encryption required for requested authentication mechanism"}},
    {ReplyId::RelayDenied, {550, "5.7.1", "<{}>: Relay access denied"}},
    {ReplyId::UnknownRecipient, {550, "5.1.1", "<{}>: Recipient address rejected: User unknown"}},
    {ReplyId::UndeliverableRecipient, {550, "5.1.1", "<{}>: Recipient address rejected: undeliverable address"}},
    {ReplyId::SuppressedRecipient,
     {550, "5.1.1", "<{}>: Recipient address rejected: suppressed (on the sender's suppression list after a hard bounce or by request)"}},
    {ReplyId::SpfFailed, {550, "5.7.23", "SPF validation failed for {}"}},
    {ReplyId::DkimFailed, {550, "5.7.20", "No passing DKIM signature found"}},
    {ReplyId::DmarcFailed, {550, "5.7.1", "Rejected by the DMARC policy of {}"}},
    {ReplyId::SenderNotOwned, {550, "5.7.1", "<{}>: Sender address rejected: not a domain of the authenticated sender"}},
    {ReplyId::HeaderSenderNotOwned, {550, "5.7.1", "Message rejected: {} is not a domain of the authenticated sender"}},
    {ReplyId::HeaderSenderUnreadable, {550, "5.7.1", "Message rejected: the {} field cannot be read"}},
    {ReplyId::VirusFound, {554, "5.7.1", "Rejected: message contains a virus ({})"}},
    {ReplyId::BareLfInData, {550, "5.5.2", "Error: bare <LF> received"}},
    {ReplyId::BareCrInData, {550, "5.5.2", "Error: bare <CR> received"}},
    {ReplyId::NulInData, {550, "5.6.0", "Error: message contains NUL characters"}},
    {ReplyId::SendAtInvalid, {550, "5.6.0", "Message rejected: X-Mxgate-Send-At {}"}},
    {ReplyId::SendAtTooLate, {550, "5.6.0", "Message rejected: X-Mxgate-Send-At is more than {} s ahead (queue.send_at_horizon)"}},
    {ReplyId::MessageTooBig, {552, "5.3.4", "Error: message file too big"}},
    {ReplyId::HeaderTooBig, {552, "5.3.4", "Error: message header size exceeds limit"}},
    {ReplyId::LocalPartTooLong, {553, "5.1.3", "Error: local part too long"}},
    {ReplyId::DomainTooLong, {553, "5.1.3", "Error: domain too long"}},
    {ReplyId::Utf8NotAllowed, {553, "5.6.7", "Error: non-ASCII address requires SMTPUTF8"}},
    {ReplyId::MailLoop, {554, "5.4.6", "Error: too many hops (mail loop)"}},
    {ReplyId::NoValidRecipients, {554, "5.5.1", "Error: no valid recipients"}},
    {ReplyId::ProtocolSynchronization, {554, "5.5.0", "Error: SMTP protocol synchronization"}},
    {ReplyId::UnsupportedParameter, {555, "5.5.4", "Error: unsupported parameter"}},
    {ReplyId::WrongProtocol, {221, "2.7.0", "Error: this is an SMTP server. Goodbye."}},
};

constexpr size_t kReplyCount = sizeof(kReplies) / sizeof(kReplies[0]);

constexpr bool tableInEnumOrder() {
  for (size_t i = 0; i < kReplyCount; ++i) {
    if (static_cast<size_t>(kReplies[i].id) != i) {
      return false;
    }
  }
  return true;
}
static_assert(tableInEnumOrder(), "kReplies must list every ReplyId in declaration order");

}  // namespace

const ReplySpec& replySpec(ReplyId id) { return kReplies[static_cast<size_t>(id)].spec; }

std::string renderReply(ReplyId id, std::string_view argument) {
  const ReplySpec& spec = replySpec(id);
  std::string out = std::to_string(spec.code);
  out.push_back(' ');
  if (!spec.enhanced.empty()) {
    out += spec.enhanced;
    out.push_back(' ');
  }
  std::string_view text = spec.text;
  size_t hole = text.find("{}");
  if (hole == std::string_view::npos) {
    out += text;
  } else {
    out += text.substr(0, hole);
    out += argument;
    out += text.substr(hole + 2);
  }
  out += "\r\n";
  return out;
}

bool closesConnection(ReplyId id) {
  int code = replySpec(id).code;
  return code == 421 || code == 221;
}

}  // namespace mxgate::smtp
