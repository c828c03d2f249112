// The server side of an SMTP AUTH exchange (RFC 4954) for the mechanisms PLAIN (RFC 4616) and
// LOGIN (draft-murchison-sasl-login): the AUTH command's mechanism and optional initial
// response ("=" for an empty one), the 334 challenges, strict base64 (RFC 4648 §4, padded,
// nothing outside the alphabet), "*" to cancel, the 12,288-octet line limit of RFC 4954 §4.
// A small state machine over lines of text: it decides the reply and, at the end, hands over
// the credentials to verify; it never touches sockets, the spool or the clock. Any thread (one
// exchange belongs to one session).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mxgate/smtp/replies.h"

namespace mxgate::smtp::sasl {

// Longest line of an AUTH exchange, CRLF included (RFC 4954 §4).
constexpr size_t kMaxLineLength = 12288;
// Longest authorization identity, user name and secret accepted (RFC 4616 §2 asks for at least
// 255 octets each).
constexpr size_t kMaxFieldLength = 255;

struct Credentials {
  std::string username;  // PLAIN's authcid, LOGIN's user name
  std::string secret;
};

struct Step {
  enum class Kind {
    Challenge,  // send reply (AuthChallenge with `challenge`) and pass the client's next line to respond()
    Verify,     // the exchange is complete: verify `credentials`, then answer 235 or 535
    Fail,       // send reply; the exchange is over and the session is as before AUTH
  };
  Kind kind = Kind::Fail;
  ReplyId reply = ReplyId::AuthSyntax;
  std::string challenge;    // Challenge: base64 text for the 334 reply (may be empty)
  Credentials credentials;  // Verify; and Fail with AuthFailed (the user name only, for the limiter)
};

class Exchange {
 public:
  // argument: the AUTH command's argument ("PLAIN", "PLAIN AGFsaWNlAHNlY3JldA==", "LOGIN").
  // Fail: AuthSyntax (no mechanism, or more than two words), AuthMechanismUnknown,
  // AuthLineTooLong, AuthBadResponse (the initial response is not strict base64 or not a
  // well-formed message). PLAIN whose authzid names another user fails with AuthFailed: count
  // it as a failed authentication of credentials.username.
  Step start(std::string_view argument);
  // line: the client's reply to a challenge, without its CRLF. Fail: AuthCancelled ("*"),
  // AuthLineTooLong, AuthBadResponse, AuthFailed (as in start()). Calling it while no
  // challenge is outstanding fails with AuthSyntax.
  Step respond(std::string_view line);

  // True while a challenge awaits the client's answer.
  bool awaitingResponse() const { return state_ != State::Idle; }

 private:
  enum class State { Idle, PlainResponse, LoginUser, LoginPassword };
  Step decoded(std::string_view response);
  Step fail(ReplyId reply);

  State state_ = State::Idle;
  std::string login_user_;
};

// The base64 of RFC 4954 (RFC 4648 §4 with its padding): nothing outside the alphabet, a
// length that is a multiple of four, zero trailing bits. "" decodes to "". false otherwise.
bool decodeStrictBase64(std::string_view text, std::string& out);

}  // namespace mxgate::smtp::sasl
