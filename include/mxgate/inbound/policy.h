// From verdicts to what happens to a message, for one tenant's [inbound] policy: reject in the
// session, temporary failure, quarantine, tag, or accept. DNS trouble never turns into a guess:
// a temporary error on a check whose failure the tenant would reject or quarantine gives
// 451 4.4.3 (RFC 7208 §8.6, RFC 7489 §6.6.3). Pure; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/config/config.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/smtp/replies.h"
#include "mxgate/spf/spf.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::inbound {

struct Verdicts {
  bool checked = false;  // SPF, DKIM and DMARC ran (a resolver was configured)
  spf::Outcome spf;
  std::vector<auth::DkimSignature> dkim;
  auth::FromDomain from;
  auth::DmarcOutcome dmarc;
  std::optional<scan::ScanResult> scan;  // scanned before the 250
};

// In order of severity; the most severe contribution of all checks wins.
enum class Disposition { Accept, Tag, Quarantine, TempFail, Reject };

struct Decision {
  Disposition disposition = Disposition::Accept;
  smtp::ReplyId reply = smtp::ReplyId::Queued;  // for Reject and TempFail
  std::string reply_argument;
  std::string reason;  // quarantine reason: "spf", "dkim", "dmarc", "virus", "scan_failed"
  std::string detail;  // what decided, e.g. "dmarc=fail (p=reject) header.from=example.org"
  std::vector<std::string> tags;  // for the X-Mxgate-Tag header, e.g. "spf=fail"
};

// scanned_before_accept: the scan verdict came before the 250, so a virus may be rejected.
Decision decide(const Verdicts& verdicts, const config::InboundPolicy& policy, config::ScanFailure scan_failure,
                bool scanned_before_accept);

// What happens to one message with recipients of several tenants. One reply answers the whole
// DATA, so: any tenant's temporary failure makes the message 451 (the client retries for all);
// only when every tenant rejects is the message rejected; a tenant that rejects while another
// accepts gets its recipients quarantined instead. Tags of all tenants go into one header.
struct TenantQuarantine {
  std::string tenant;
  std::string reason;
  std::string detail;
};

struct MessageDecision {
  enum class Kind { Accept, Reject, TempFail };
  Kind kind = Kind::Accept;
  smtp::ReplyId reply = smtp::ReplyId::Queued;  // for Reject and TempFail
  std::string reply_argument;
  std::string reason;  // for Reject and TempFail: the check that decided ("spf", "virus", ...)
  std::string detail;
  std::vector<TenantQuarantine> quarantined;  // tenants whose recipients go to quarantine
  std::vector<std::string> tags;
};

// tenants: the distinct tenants of the message's recipients, in recipient order.
MessageDecision decideMessage(const Verdicts& verdicts, const std::vector<const config::Tenant*>& tenants,
                              config::ScanFailure scan_failure, bool scanned_before_accept);

// Puts the recipients of `quarantined.tenant` still pending in record into quarantine: their
// state, the tenant's quarantine entry (expiring after its quarantine_retention), its audit
// record (actor "system") and, when the tenant wants events, a message.quarantined event go
// into batch, which the caller commits with the record. tenant: the tenant's policy (nullptr:
// the defaults). Returns the entry.
spool::QuarantineRecord quarantineTenant(spool::MessageRecord& record, const TenantQuarantine& quarantined,
                                         const config::Tenant* tenant, uint64_t now_us, spool::Batch& batch);

// The verdicts as kept with the message (record.verdicts) for listings and webhooks.
spool::Verdicts summarize(const Verdicts& verdicts);

// The X-Mxgate-Tag header field for the tags of a message ("" when there are none).
std::string tagHeader(const std::vector<std::string>& tags);

}  // namespace mxgate::inbound
