// Authentication-Results (RFC 8601): building our header from the SPF, DKIM and DMARC verdicts,
// and removing any Authentication-Results that arrive from outside claiming our authserv-id
// (RFC 8601 §5: they would be forged). Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/spf/spf.h"

namespace mxgate::auth {

struct AuthFacts {
  spf::Outcome spf;
  std::string mail_from;   // for smtp.mailfrom (or smtp.helo when the null path)
  std::string helo;
  std::vector<DkimSignature> dkim;
  DmarcOutcome dmarc;
};

// "Authentication-Results: <authserv-id>;\r\n\tspf=pass smtp.mailfrom=...;\r\n\tdkim=pass
// header.d=... header.s=... header.b=...;\r\n\tdmarc=pass header.from=...\r\n", folded below
// 78 columns, untrusted values quoted where RFC 8601's grammar needs it.
std::string buildAuthenticationResults(std::string_view authserv_id, const AuthFacts& facts);

// Streaming filter over canonical CRLF message bytes: in the header section it drops every
// Authentication-Results field (continuation lines included) whose authserv-id equals ours
// (case-insensitive), and passes everything else through unchanged. Fields are buffered one at
// a time (bounded by the session's header size limit, enforced before this filter).
class AuthResultsStripper {
 public:
  explicit AuthResultsStripper(std::string authserv_id);
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  size_t removed() const { return removed_; }

 private:
  // What is known about the field being read: its name is still arriving, it cannot be
  // Authentication-Results (passed through as it arrives), or it is (held until complete).
  enum class FieldKind : uint8_t { Name, Passing, AuthResults };

  void finishField(std::string& out);

  std::string authserv_id_;
  bool in_headers_ = true;
  uint8_t scan_ = 0;  // header scanner state (src/auth/header_fields.h)
  FieldKind kind_ = FieldKind::Passing;
  std::string field_;  // the header field being collected
  size_t removed_ = 0;
};

}  // namespace mxgate::auth
