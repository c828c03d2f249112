// Prometheus text exposition (format 0.0.4) of the node's counters and gauges: messages by
// outcome, queue depth and age, spool commit latency and batching, lane depth and wait,
// connections, authentication verdicts, DNS, virus scans, the quarantine, dead letters and the
// audit log (sizes and retention purges). Pure formatting over a snapshot; the control loop
// gathers the snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mxgate/delivery/next_hop_verifier.h"
#include "mxgate/dns/resolver.h"
#include "mxgate/scan/scanner.h"
#include "mxgate/scheduler/scheduler.h"
#include "mxgate/server/smtp_server.h"
#include "mxgate/spool/store.h"
#include "mxgate/webhook/event_dispatcher.h"

namespace mxgate::admin {

struct LaneSnapshot {
  std::string name;
  uint64_t depth = 0;
  uint64_t completed = 0;
  uint64_t refused = 0;
  uint64_t wait_micros = 0;
};

struct VerdictCount {
  std::string check;   // "spf", "dkim", "dmarc"
  std::string result;  // RFC 8601 result
  uint64_t count = 0;
};

// One HTTP listener (admin, links): its connection cap and timeouts at work.
struct HttpListenerSnapshot {
  std::string name;
  uint64_t open = 0;
  uint64_t refused = 0;
  uint64_t header_timeouts = 0;
  uint64_t idle_timeouts = 0;
};

struct MetricsSnapshot {
  scheduler::QueueStats queue;
  spool::StoreStats store;
  uint64_t audit_records = 0;
  uint64_t store_pending = 0;
  bool store_writable = true;
  uint64_t free_disk_bytes = 0;
  uint64_t inflight_bytes = 0;
  bool storage_pressure = false;
  uint64_t connections_open = 0;
  uint64_t connections = 0;
  uint64_t refused_connections = 0;
  uint64_t accepted_messages = 0;
  uint64_t accepted_bytes = 0;
  uint64_t rejected_messages = 0;
  uint64_t tempfailed_messages = 0;
  uint64_t rejected_recipients = 0;
  uint64_t protocol_errors = 0;
  uint64_t removed_auth_results = 0;  // forged Authentication-Results removed on arrival
  uint64_t removed_own_fields = 0;    // sender-supplied X-Mxgate-* fields removed
  std::vector<HttpListenerSnapshot> http_listeners;
  std::vector<LaneSnapshot> lanes;
  std::vector<VerdictCount> verdicts;
  bool dns_enabled = false;
  dns::ResolverStats dns;
  bool scan_enabled = false;
  scan::ScannerStats scan;
  std::vector<std::pair<std::string, uint64_t>> webhook_attempts;  // by result
  uint64_t mx_tls_resumed = 0;      // of those, sessions that resumed an earlier one
  uint64_t mx_tls_dane = 0;        // TLS sessions with mail exchangers, authenticated by a TLSA record
  uint64_t mx_tls_verified = 0;    // ... certificate chain and name verified (pkix)
  uint64_t mx_tls_unverified = 0;  // ... not verified (levels may and encrypt)
  std::vector<std::pair<std::string, uint64_t>> mx_tls_failures;  // by RFC 8460 result type
  std::vector<std::pair<std::string, uint64_t>> mx_throttled;     // held back by traffic shaping, by limit
  uint64_t mx_backoffs = 0;                                       // back-off rules applied
  std::vector<std::pair<std::string, uint64_t>> api_requests;  // HTTP send API answers by result; empty: no API
  uint64_t webhook_endpoints_disabled = 0;
  webhook::EventStats events;
  delivery::VerifierStats verifier;
  struct AuthCounts {
    uint64_t accepted = 0, failed = 0, locked = 0, unavailable = 0;
  } auth;  // AUTH on submission listeners
  // [click, open][ok, bad_mac, unknown_key, malformed]
  std::array<std::array<uint64_t, 4>, 3> link_requests{};
  uint64_t now_us = 0;
};

std::string renderMetrics(const MetricsSnapshot& snapshot);

}  // namespace mxgate::admin
