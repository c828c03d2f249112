// Authentication-Results (RFC 8601): building our header from the SPF, DKIM and DMARC verdicts,
// and removing the header fields only we may write when they arrive from outside: any
// Authentication-Results claiming one of our cluster's authserv-ids (RFC 8601 §5: they would be
// forged) and any X-Mxgate-* field (X-Mxgate-Tag carries our policy verdicts). Pure; any thread.
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
// Authentication-Results field whose authserv-id equals one of authserv_ids (case-insensitive)
// and every field whose name starts with "X-Mxgate-" (case-insensitive), continuation lines
// included, and passes everything else through unchanged. Authentication-Results fields are
// buffered one at a time (bounded by the session's header size limit, enforced before this
// filter); X-Mxgate-* fields are dropped as they stream.
class ForgedFieldStripper {
 public:
  explicit ForgedFieldStripper(std::vector<std::string> authserv_ids);
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  size_t removedAuthResults() const { return removed_auth_results_; }
  size_t removedOwnFields() const { return removed_own_fields_; }
  size_t removed() const { return removed_auth_results_ + removed_own_fields_; }

 private:
  // What is known about the field being read: its name is still arriving and may be the
  // candidate's, it is neither (passed through as it arrives), it is Authentication-Results
  // (held until complete), or it is X-Mxgate-* (dropped).
  enum class FieldKind : uint8_t { Name, Passing, AuthResults, Own };

  void readName(char c, std::string& out);
  void finishField(std::string& out);
  bool ours(std::string_view authserv_id) const;

  std::vector<std::string> authserv_ids_;
  bool in_headers_ = true;
  uint8_t scan_ = 0;  // header scanner state (src/auth/header_fields.h)
  FieldKind kind_ = FieldKind::Passing;
  std::string_view candidate_;  // the name (or name prefix) the field may still turn out to have
  std::string field_;           // the header field being collected
  size_t removed_auth_results_ = 0;
  size_t removed_own_fields_ = 0;
};

}  // namespace mxgate::auth
