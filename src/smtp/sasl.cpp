// SMTP AUTH exchanges, PLAIN and LOGIN (RFC 4954, RFC 4616, draft-murchison-sasl-login); see
// include/mxgate/smtp/sasl.h. Pure; runs on the session's loop thread.
#include "mxgate/smtp/sasl.h"

#include <optional>

#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"
#include "mxgate/base/utf8.h"

namespace mxgate::smtp::sasl {
namespace {

constexpr std::string_view kUsernameChallenge = "VXNlcm5hbWU6";  // "Username:"
constexpr std::string_view kPasswordChallenge = "UGFzc3dvcmQ6";  // "Password:"
constexpr std::string_view kAuthPrefix = "AUTH ";

// Within the length limit, well-formed UTF-8, no NUL.
bool acceptableField(std::string_view field) {
  return !field.empty() && field.size() <= kMaxFieldLength && field.find('\0') == std::string_view::npos &&
         utf8::isWellFormed(field);
}

// A user name is also written to logs and looked up by key: no control characters at all.
bool acceptableUsername(std::string_view name) {
  if (!acceptableField(name)) {
    return false;
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

Step challenge(std::string_view text) {
  Step step;
  step.kind = Step::Kind::Challenge;
  step.reply = ReplyId::AuthChallenge;
  step.challenge = std::string(text);
  return step;
}

Step verify(std::string username, std::string secret) {
  Step step;
  step.kind = Step::Kind::Verify;
  step.reply = ReplyId::AuthSucceeded;
  step.credentials = Credentials{std::move(username), std::move(secret)};
  return step;
}

// RFC 4616 §2: message = [authzid] NUL authcid NUL passwd.
Step plainMessage(std::string_view message) {
  const size_t first = message.find('\0');
  const size_t second = first == std::string_view::npos ? first : message.find('\0', first + 1);
  Step bad;
  bad.reply = ReplyId::AuthBadResponse;
  if (second == std::string_view::npos) {
    return bad;
  }
  const std::string_view authzid = message.substr(0, first);
  const std::string_view authcid = message.substr(first + 1, second - first - 1);
  const std::string_view passwd = message.substr(second + 1);
  if ((!authzid.empty() && !acceptableField(authzid)) || !acceptableUsername(authcid) ||
      !acceptableField(passwd)) {
    return bad;
  }
  if (!authzid.empty() && authzid != authcid) {
    // Acting for another identity is never allowed: a failed authentication of authcid.
    Step refused;
    refused.reply = ReplyId::AuthFailed;
    refused.credentials.username = std::string(authcid);
    return refused;
  }
  return verify(std::string(authcid), std::string(passwd));
}

}  // namespace

bool decodeStrictBase64(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) {
    return false;
  }
  std::optional<std::string> decoded = base64::decode(text);
  if (!decoded) {
    return false;
  }
  out = std::move(*decoded);
  return true;
}

Step Exchange::fail(ReplyId reply) {
  state_ = State::Idle;
  login_user_.clear();
  Step step;
  step.reply = reply;
  return step;
}

Step Exchange::start(std::string_view argument) {
  state_ = State::Idle;
  login_user_.clear();
  if (kAuthPrefix.size() + argument.size() + 2 > kMaxLineLength) {
    return fail(ReplyId::AuthLineTooLong);
  }
  const size_t space = argument.find(' ');
  const std::string_view mechanism = argument.substr(0, space);
  std::string_view initial;
  const bool has_initial = space != std::string_view::npos;
  if (has_initial) {
    initial = argument.substr(space + 1);
    if (initial.empty() || initial.find(' ') != std::string_view::npos) {
      return fail(ReplyId::AuthSyntax);
    }
  }
  if (mechanism.empty()) {
    return fail(ReplyId::AuthSyntax);
  }
  if (ascii::equalsIgnoreCase(mechanism, "PLAIN")) {
    state_ = State::PlainResponse;
    if (!has_initial) {
      return challenge("");
    }
  } else if (ascii::equalsIgnoreCase(mechanism, "LOGIN")) {
    state_ = State::LoginUser;
    if (!has_initial) {
      return challenge(kUsernameChallenge);
    }
  } else {
    return fail(ReplyId::AuthMechanismUnknown);
  }
  if (initial == "=") {
    return decoded("");
  }
  std::string response;
  if (!decodeStrictBase64(initial, response)) {
    return fail(ReplyId::AuthBadResponse);
  }
  return decoded(response);
}

Step Exchange::respond(std::string_view line) {
  if (state_ == State::Idle) {
    return fail(ReplyId::AuthSyntax);
  }
  if (line.size() + 2 > kMaxLineLength) {
    return fail(ReplyId::AuthLineTooLong);
  }
  if (line == "*") {
    return fail(ReplyId::AuthCancelled);
  }
  std::string response;
  if (!decodeStrictBase64(line, response)) {
    return fail(ReplyId::AuthBadResponse);
  }
  return decoded(response);
}

Step Exchange::decoded(std::string_view response) {
  switch (state_) {
    case State::PlainResponse: {
      Step step = plainMessage(response);
      state_ = State::Idle;
      return step;
    }
    case State::LoginUser:
      if (!acceptableUsername(response)) {
        return fail(ReplyId::AuthBadResponse);
      }
      login_user_ = std::string(response);
      state_ = State::LoginPassword;
      return challenge(kPasswordChallenge);
    case State::LoginPassword: {
      if (!acceptableField(response)) {
        return fail(ReplyId::AuthBadResponse);
      }
      Step step = verify(std::move(login_user_), std::string(response));
      state_ = State::Idle;
      login_user_.clear();
      return step;
    }
    case State::Idle: break;
  }
  return fail(ReplyId::AuthSyntax);
}

}  // namespace mxgate::smtp::sasl
