// The HTTP send API's request bodies turned into an envelope and RFC 5322 bytes:
// POST /v1/messages takes JSON (RFC 8259, nlohmann::json) whose message is built into MIME
// (RFC 2045-2049) with GMime, never by hand, with Message-ID and Date added (RFC 5322 §3.6) and
// Bcc only in the envelope; POST /v1/messages/raw takes JSON {mail_from, to, message_base64,
// tags, metadata} carrying a finished RFC 5322 message. Both take send_at (Unix seconds or an
// RFC 3339 date-time) for a scheduled send. Every refusal names its field.
// Pure functions of their input; any thread once mime::initialize() ran (the api lane).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mxgate/base/clock.h"
#include "mxgate/mail/address.h"

namespace mxgate::api {

// An answer other than 202, as JSON {"error": {status, code, message, field}}.
struct Error {
  int status = 422;
  std::string code;     // "malformed_json", "missing_field", "invalid_address", ...
  std::string message;  // for people
  std::string field;    // "to[1]", "attachments[0].content_base64"; "" for the request as a whole
};

struct Limits {
  size_t max_recipients = 1000;             // to + cc + bcc after removing repeats
  uint64_t max_message_size = 26214400;     // the built message; larger is 413
  std::string_view hostname = "localhost";  // the right side of generated Message-IDs
};

struct Submission {
  mail::Address mail_from;                 // the envelope sender (JSON: the From address)
  std::vector<mail::Address> recipients;   // the envelope recipients, repeats removed, in order
  std::string message;                     // RFC 5322, CRLF line ends
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> metadata;  // in key order
  bool smtputf8 = false;                   // an envelope address is not ASCII
  uint64_t send_at_us = 0;                 // send_at: not delivered before this; 0 = now
  bool list_unsubscribe = false;           // RFC 8058 one-click unsubscribe asked for
};

// The latest send_at accepted by the parser (9999-12-31T23:59:59Z); the configured horizon
// (queue.send_at_horizon) is checked where the request is committed.
inline constexpr uint64_t kMaxSendAtSeconds = kMaxRfc3339Seconds;

struct Built {
  bool ok = false;
  Error error;            // when !ok
  Submission submission;  // when ok
};

Built buildFromJson(std::string_view body, const Limits& limits);
Built buildFromRaw(std::string_view body, const Limits& limits);

// The error body: {"error": {"status": N, "code": ..., "message": ..., "field": ...}}.
std::string errorJson(const Error& error);

}  // namespace mxgate::api
