// The node's shared services for the pipeline stages (resolver, SPF's DNS, the auth lane, the
// scanner, the suppression lists, the link keys) and the verdict counters for /metrics. Built once by the
// node; stages on every loop use them. The counters are atomic; any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "mxgate/auth/dkim.h"
#include "mxgate/dns/resolver.h"
#include "mxgate/io/lane.h"
#include "mxgate/links/rewriter.h"
#include "mxgate/pipeline/stage.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/shaping/tenant_limits.h"
#include "mxgate/spf/spf.h"
#include "mxgate/spool/suppression.h"

namespace mxgate::pipeline {

// Verdicts of finished checks, per message, for /metrics. Any thread.
struct Counters {
  std::array<std::atomic<uint64_t>, 7> spf{};    // by spf::Result
  std::array<std::atomic<uint64_t>, 7> dkim{};   // by auth::DkimResult of the best signature; [6] = none
  std::array<std::atomic<uint64_t>, 5> dmarc{};  // by auth::DmarcResult
  void count(const Verdicts& verdicts);
};

// resolver == nullptr: SPF/DKIM/DMARC are off; scanner == nullptr: no virus scanning.
struct Services {
  dns::Resolver* resolver = nullptr;
  spf::Dns* spf_dns = nullptr;
  io::Lane* auth_lane = nullptr;
  scan::Scanner* scanner = nullptr;
  // Tenants' suppression lists (the outbound RCPT check); nullptr: nothing is suppressed.
  const spool::SuppressionList* suppressions = nullptr;
  // Tenants' sending limits (admitTenantMessage); nullptr: none.
  shaping::TenantLimits* tenant_limits = nullptr;
  // The link signing keys (the first signs) for outbound tracking; nullptr: no tracking.
  std::shared_ptr<const links::KeyRing> link_keys;
  auth::DkimSettings dkim;
  size_t max_header_size = 102400;
  Counters counters;
};

}  // namespace mxgate::pipeline
