// DMARC (RFC 7489): the RFC5322.From domain, the organizational domain from the public suffix
// list, identifier alignment and the policy to apply, evaluated with libopendmarc given records
// our resolver fetched (never the library's own DNS). Messages with zero, several From fields
// or several From mailboxes are not evaluated: they are a DMARC failure of their own (§6.6.1,
// and the CVE-2019-16378 / CVE-2024-25768 shapes must never reach the library).
// Pure apart from libopendmarc; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/dkim.h"
#include "mxgate/spf/spf.h"

namespace mxgate::auth {

struct FromDomain {
  enum class Status { Ok, Missing, Multiple, Unparseable };
  Status status = Status::Missing;
  std::string domain;  // lower-cased, when Ok
};

// Extracts the author domain from the raw header section (canonical CRLF, folded lines allowed,
// RFC 2047 display names, comments, groups). Multiple From fields or mailboxes: Multiple.
FromDomain extractFromDomain(std::string_view header_section);

// Loads the public suffix list once (thread-safe); false with error when the file is unusable.
bool initializeDmarc(const std::string& public_suffix_list, std::string& error);

// The organizational domain (RFC 7489 §3.2) of a domain, from the loaded list; "" if none.
std::string organizationalDomain(std::string_view domain);

enum class DmarcResult { None, Pass, Fail, TempError, PermError };
std::string_view name(DmarcResult result);

struct DmarcOutcome {
  DmarcResult result = DmarcResult::None;
  std::string from_domain;
  std::string policy;        // "none", "quarantine", "reject" as published (p= or sp=), "" = none
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string reason;        // e.g. "multiple From fields", "no DMARC record"
};

// The two record lookups: "_dmarc.<from domain>", and if that yields no record,
// "_dmarc.<organizational domain>" (§6.6.3). Callers fetch these and pass the answers.
struct DmarcQuery {
  std::string from_domain;
  std::string org_domain;
};

// Evaluates DMARC. from_answer / org_answer are the TXT answers for _dmarc.<from> and
// _dmarc.<org> (org_answer may be null when not needed). A temporary DNS failure is TempError.
DmarcOutcome evaluateDmarc(const FromDomain& from, const dns::AnswerPtr& from_answer, const dns::AnswerPtr& org_answer,
                           const spf::Outcome& spf, const std::string& mail_from_domain,
                           const std::vector<DkimSignature>& dkim);

}  // namespace mxgate::auth
