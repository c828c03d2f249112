// The virus scan stage, for listeners that scan before the 250 (scan_before_accept): scans the
// whole message on the scan lane (libclamav) at the end of data and judges the verdict under
// the tenant's virus action and scan.failure (fail open: tag; fail closed: 451 4.3.0 before the
// 250, quarantine after it); a virus found before the 250 is refused with 554 5.7.1. Runs on the
// session's loop thread; the scan reports back through reporter(). judgeScan also judges the
// scan the scheduler runs after the commit.
#include "mxgate/pipeline/inbound_stages.h"
#include "mxgate/pipeline/services.h"

namespace mxgate::pipeline {
namespace {

class ScanStage : public Stage {
 public:
  explicit ScanStage(const Context& context)
      : scanner_(*context.services->scanner), failure_(context.config.scan.failure) {}

  bool needsMessage() const override { return true; }

  void finish(Transaction& transaction) override {
    if (!transaction.message) {
      finished();
      return;
    }
    if (!scanner_.scan(transaction.message, [post = reporter()](scan::ScanResult result) {
          post([result = std::move(result)](Stage& stage) mutable {
            static_cast<ScanStage&>(stage).onScanned(std::move(result));
          });
        })) {
      result_ = scan::ScanResult{scan::Verdict::Error, "", "scan queue full", 0};
      finished();
    }
  }

  void conclude(Transaction& transaction) override { transaction.verdicts.scan = std::move(result_); }

  Decision decide(const Transaction& transaction, const config::Tenant& tenant) const override {
    if (!transaction.verdicts.scan) {
      return {};
    }
    return judgeScan(*transaction.verdicts.scan, tenant.inbound, failure_, true);
  }

 private:
  void onScanned(scan::ScanResult result) {
    result_ = std::move(result);
    finished();  // may destroy this stage
  }

  scan::Scanner& scanner_;
  config::ScanFailure failure_;
  std::optional<scan::ScanResult> result_;
};

}  // namespace

std::unique_ptr<Stage> makeScanStage(const Context& context) { return std::make_unique<ScanStage>(context); }

Decision judgeScan(const scan::ScanResult& scan, const config::InboundPolicy& policy, config::ScanFailure failure,
                   bool before_accept) {
  switch (scan.verdict) {
    case scan::Verdict::Clean: return {};
    case scan::Verdict::Infected: {
      // Before the 250 a hit is refused (the point of scanning there); after it there is no one
      // to reject to. tag and accept are the tenant's explicit choice either way.
      config::CheckAction action = policy.virus;
      if (stopsMessage(action)) {
        action = before_accept ? config::CheckAction::Reject : config::CheckAction::Quarantine;
      }
      return decisionFor(action, smtp::ReplyId::VirusFound, scan.name, "virus", "virus=" + scan.name,
                         "virus=" + scan.name);
    }
    case scan::Verdict::LimitExceeded:
    case scan::Verdict::Error: {
      const std::string detail = "virus-scan=" + std::string(scan::name(scan.verdict)) + " " +
                                 (scan.name.empty() ? scan.error : scan.name);
      if (failure == config::ScanFailure::Open) {
        return Decision{Action::Tag, smtp::ReplyId::Queued, {}, "scan_failed", detail,
                        {"virus-scan=" + std::string(scan::name(scan.verdict))}, {}};
      }
      if (before_accept) {
        return Decision{Action::TempFail, smtp::ReplyId::ScanTemporaryFailure, {}, "scan_failed", detail, {}, {}};
      }
      return Decision{Action::Quarantine, smtp::ReplyId::Queued, {}, "scan_failed", detail, {}, {}};
    }
  }
  return {};
}

}  // namespace mxgate::pipeline
