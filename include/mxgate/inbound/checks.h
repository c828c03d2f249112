// The inbound checks of one mail transaction: SPF from MAIL FROM on (RFC 7208), DKIM hashed as
// the content streams in and finished on the auth lane (RFC 6376), the DMARC records fetched
// as soon as the From header has passed and DMARC evaluated at the end (RFC 7489), and — for
// listeners that scan before the 250 — the virus scan. The keys named by DKIM signatures are
// prefetched through the async resolver when the header section ends, so the lane's blocking
// lookups are usually cache hits.
//
// A TransactionChecks lives on its session's loop thread. Every asynchronous step reports back
// through the Post function the session provides, which runs the report on that thread only if
// the session and this transaction still exist; nothing here holds a pointer across threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/dns/resolver.h"
#include "mxgate/inbound/policy.h"
#include "mxgate/io/lane.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/spf/spf.h"

namespace mxgate::inbound {

// Verdicts of finished checks, per message, for /metrics. Any thread.
struct Counters {
  std::array<std::atomic<uint64_t>, 7> spf{};    // by spf::Result
  std::array<std::atomic<uint64_t>, 7> dkim{};   // by auth::DkimResult of the best signature; [6] = none
  std::array<std::atomic<uint64_t>, 5> dmarc{};  // by auth::DmarcResult
  void count(const Verdicts& verdicts);
};

// The node's shared services for the checks. resolver == nullptr: SPF/DKIM/DMARC are off;
// scanner == nullptr: no virus scanning.
struct Services {
  dns::Resolver* resolver = nullptr;
  spf::Dns* spf_dns = nullptr;
  io::Lane* auth_lane = nullptr;
  scan::Scanner* scanner = nullptr;
  auth::DkimSettings dkim;
  size_t max_header_size = 102400;
  Counters counters;
};

class TransactionChecks {
 public:
  // Runs a report on the owning loop thread, if this transaction is still current.
  using Post = std::function<void(std::function<void(TransactionChecks&)>)>;
  using Done = std::function<void(Verdicts)>;

  // authenticate: run SPF, DKIM and DMARC (with a resolver); otherwise only the scan.
  TransactionChecks(Services& services, bool authenticate, Post post);
  ~TransactionChecks();
  TransactionChecks(const TransactionChecks&) = delete;
  TransactionChecks& operator=(const TransactionChecks&) = delete;

  bool enabled() const { return authenticate_; }
  // At MAIL FROM.
  void startSpf(const spf::Request& request);
  // The message content as the client sent it (canonical CRLF, our Received: not included).
  void feed(std::string_view content);
  // The content is complete. message: the whole content, for a scan before the 250 (nullptr =
  // no scan). done runs on the owning loop thread once every verdict is in.
  void finish(std::string mail_from_domain, std::shared_ptr<const std::string> message, Done done);

 private:
  void onHeadersComplete();
  void onDmarcAnswer(bool organizational, dns::AnswerPtr answer);
  void maybeComplete();

  Services& services_;
  bool authenticate_;
  Post post_;
  std::unique_ptr<auth::DkimVerifier> dkim_;
  std::string headers_;  // the header section, for the From domain
  bool headers_complete_ = false;
  size_t line_start_ = 0;  // offset in headers_ of the current line

  bool spf_started_ = false;
  bool spf_done_ = false;
  bool dkim_done_ = false;
  bool dmarc_pending_ = false;  // a _dmarc lookup is under way
  bool scan_done_ = true;
  dns::AnswerPtr dmarc_from_answer_;
  dns::AnswerPtr dmarc_org_answer_;
  std::string mail_from_domain_;
  Verdicts verdicts_;
  Done done_;
};

}  // namespace mxgate::inbound
