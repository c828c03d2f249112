// The inbound checks of one transaction (see include/mxgate/inbound/checks.h). Runs on the
// session's loop thread; SPF continues on the resolver's thread, DKIM finishes on the auth
// lane, the scan runs on the scan lane, and each reports back through Post.
#include "mxgate/inbound/checks.h"

#include <algorithm>

#include "mxgate/base/ascii.h"

namespace mxgate::inbound {
namespace {

bool hasDmarcRecord(const dns::AnswerPtr& answer) {
  if (!answer || answer->status != dns::Status::Ok) {
    return false;
  }
  for (const std::string& text : answer->texts) {
    if (ascii::startsWithIgnoreCase(text, "v=DMARC1")) {
      return true;
    }
  }
  return false;
}

}  // namespace

void Counters::count(const Verdicts& verdicts) {
  if (!verdicts.checked) {
    return;
  }
  spf[static_cast<size_t>(verdicts.spf.result)].fetch_add(1, std::memory_order_relaxed);
  size_t best = 6;  // none
  for (const auto& signature : verdicts.dkim) {
    best = std::min(best, static_cast<size_t>(signature.result));  // Pass sorts first
  }
  dkim[best].fetch_add(1, std::memory_order_relaxed);
  dmarc[static_cast<size_t>(verdicts.dmarc.result)].fetch_add(1, std::memory_order_relaxed);
}

TransactionChecks::TransactionChecks(Services& services, bool authenticate, Post post)
    : services_(services), authenticate_(authenticate && services.resolver != nullptr), post_(std::move(post)) {
  if (enabled()) {
    dns::Resolver* resolver = services_.resolver;
    dkim_ = std::make_unique<auth::DkimVerifier>(services_.dkim, [resolver](const std::string& name) {
      return resolver->queryBlocking(name, dns::RrType::TXT);
    });
  }
}

TransactionChecks::~TransactionChecks() = default;

void TransactionChecks::startSpf(const spf::Request& request) {
  if (!enabled()) {
    return;
  }
  spf_started_ = true;
  Post post = post_;
  spf::check(*services_.spf_dns, request, [post](spf::Outcome outcome) {
    post([outcome = std::move(outcome)](TransactionChecks& checks) mutable {
      checks.verdicts_.spf = std::move(outcome);
      checks.spf_done_ = true;
      checks.maybeComplete();
    });
  });
}

void TransactionChecks::feed(std::string_view content) {
  if (!enabled() || content.empty()) {
    return;
  }
  dkim_->feed(content);
  if (headers_complete_) {
    return;
  }
  // Keep the header section (the session's header limit bounds it) and find its end: the
  // first empty line.
  size_t from = headers_.size();
  headers_.append(content);
  for (size_t pos = from; pos < headers_.size(); ++pos) {
    if (headers_[pos] != '\n' || pos == 0 || headers_[pos - 1] != '\r') {
      continue;
    }
    const size_t line_length = pos + 1 - line_start_;
    if (line_length == 2) {  // an empty line
      headers_.resize(line_start_);
      headers_complete_ = true;
      onHeadersComplete();
      return;
    }
    line_start_ = pos + 1;
  }
  if (headers_.size() > services_.max_header_size + 2) {
    headers_.resize(line_start_);  // the session rejects such a message; stop collecting
    headers_complete_ = true;
    onHeadersComplete();
  }
}

void TransactionChecks::onHeadersComplete() {
  for (const std::string& name : dkim_->keyNames()) {
    services_.resolver->query(name, dns::RrType::TXT, [](dns::AnswerPtr) {});  // warm the cache
  }
  verdicts_.from = auth::extractFromDomain(headers_);
  if (verdicts_.from.status != auth::FromDomain::Status::Ok) {
    return;
  }
  dmarc_pending_ = true;
  Post post = post_;
  services_.resolver->query("_dmarc." + verdicts_.from.domain, dns::RrType::TXT, [post](dns::AnswerPtr answer) {
    post([answer](TransactionChecks& checks) { checks.onDmarcAnswer(false, answer); });
  });
}

void TransactionChecks::onDmarcAnswer(bool organizational, dns::AnswerPtr answer) {
  if (organizational) {
    dmarc_org_answer_ = std::move(answer);
  } else {
    dmarc_from_answer_ = answer;
    // RFC 7489 §6.6.3: no record at the author domain -> the organizational domain's record.
    const std::string org = auth::organizationalDomain(verdicts_.from.domain);
    if (!answer->temporary() && !hasDmarcRecord(answer) && !org.empty() && org != verdicts_.from.domain) {
      Post post = post_;
      services_.resolver->query("_dmarc." + org, dns::RrType::TXT, [post](dns::AnswerPtr org_answer) {
        post([org_answer](TransactionChecks& checks) { checks.onDmarcAnswer(true, org_answer); });
      });
      return;
    }
  }
  dmarc_pending_ = false;
  maybeComplete();
}

void TransactionChecks::finish(std::string mail_from_domain, std::shared_ptr<const std::string> message, Done done) {
  done_ = std::move(done);
  mail_from_domain_ = std::move(mail_from_domain);
  if (enabled()) {
    spf_done_ = spf_done_ || !spf_started_;
    if (!headers_complete_) {
      headers_complete_ = true;  // a message that is all header
      onHeadersComplete();
    }
    std::shared_ptr<auth::DkimVerifier> verifier(std::move(dkim_));
    Post post = post_;
    bool queued = services_.auth_lane->submit([verifier, post] {
      std::vector<auth::DkimSignature> signatures = verifier->finish();
      post([signatures = std::move(signatures)](TransactionChecks& checks) mutable {
        checks.verdicts_.dkim = std::move(signatures);
        checks.dkim_done_ = true;
        checks.maybeComplete();
      });
    });
    if (!queued) {
      auth::DkimSignature busy;
      busy.result = auth::DkimResult::TempError;
      busy.reason = "verification queue full";
      verdicts_.dkim = {busy};
      dkim_done_ = true;
    }
  } else {
    spf_done_ = true;
    dkim_done_ = true;
  }
  if (message && services_.scanner != nullptr) {
    scan_done_ = false;
    Post post = post_;
    if (!services_.scanner->scan(message, [post](scan::ScanResult result) {
          post([result = std::move(result)](TransactionChecks& checks) mutable {
            checks.verdicts_.scan = std::move(result);
            checks.scan_done_ = true;
            checks.maybeComplete();
          });
        })) {
      verdicts_.scan = scan::ScanResult{scan::Verdict::Error, "", "scan queue full", 0};
      scan_done_ = true;
    }
  }
  maybeComplete();
}

void TransactionChecks::maybeComplete() {
  if (!done_ || !spf_done_ || !dkim_done_ || dmarc_pending_ || !scan_done_) {
    return;
  }
  if (enabled()) {
    verdicts_.checked = true;
    verdicts_.dmarc = auth::evaluateDmarc(verdicts_.from, dmarc_from_answer_, dmarc_org_answer_, verdicts_.spf,
                                          mail_from_domain_, verdicts_.dkim);
    services_.counters.count(verdicts_);
  }
  Done done = std::move(done_);
  done_ = nullptr;
  done(std::move(verdicts_));  // may destroy this object: nothing after this line
}

}  // namespace mxgate::inbound
