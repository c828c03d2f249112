// Prometheus text exposition (see include/mxgate/admin/metrics.h). Pure; any thread.
#include "mxgate/admin/metrics.h"

#include <fmt/format.h>

namespace mxgate::admin {
namespace {

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            uint64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

// A family with one label: one sample per (label value, count).
void labeled(std::string& out, std::string_view name, std::string_view type, std::string_view help,
             std::string_view label, std::initializer_list<std::pair<std::string_view, uint64_t>> samples) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  for (const auto& [value, count] : samples) {
    out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, value, count);
  }
}

}  // namespace

std::string renderMetrics(const MetricsSnapshot& s) {
  std::string out;
  out.reserve(4096);
  metric(out, "mxgate_smtp_connections_total", "counter", "SMTP connections accepted by the listeners.", s.connections);
  metric(out, "mxgate_smtp_connections_refused_total", "counter", "SMTP connections refused by connection limits.",
         s.refused_connections);
  metric(out, "mxgate_smtp_connections_open", "gauge", "SMTP sessions open now.", s.connections_open);
  labeled(out, "mxgate_messages_received_total", "counter", "Messages at the end of DATA/BDAT, by outcome.", "outcome",
          {{"accepted", s.accepted_messages}, {"rejected", s.rejected_messages},
           {"tempfailed", s.tempfailed_messages}});
  metric(out, "mxgate_received_bytes_total", "counter", "Body bytes of accepted messages.", s.accepted_bytes);
  metric(out, "mxgate_recipients_rejected_total", "counter", "RCPT commands refused (relay denied).",
         s.rejected_recipients);
  metric(out, "mxgate_smtp_protocol_errors_total", "counter",
         "Protocol violations: long lines, bare newlines, pipelining violations, STARTTLS injection.",
         s.protocol_errors);
  labeled(out, "mxgate_forged_fields_removed_total", "counter",
          "Arriving header fields only mxgate may write, removed: Authentication-Results naming our authserv-ids, "
          "X-Mxgate-*.",
          "field", {{"authentication_results", s.removed_auth_results}, {"x_mxgate", s.removed_own_fields}});
  labeled(out, "mxgate_recipient_deliveries_total", "counter", "Delivery outcomes per recipient since start.",
          "outcome", {{"delivered", s.queue.delivered}, {"deferred", s.queue.deferred}, {"failed", s.queue.failed}});
  metric(out, "mxgate_queue_messages", "gauge", "Messages queued for delivery (including those in delivery).",
         s.queue.queued);
  metric(out, "mxgate_queue_bytes", "gauge", "Body bytes of queued messages.", s.queue.queued_bytes);
  metric(out, "mxgate_queue_active", "gauge", "Deliveries under way.", s.queue.active);
  metric(out, "mxgate_queue_ready", "gauge", "Due deliveries waiting for their destination's concurrency budget.",
         s.queue.ready);
  metric(out, "mxgate_queue_dead_letters", "gauge", "Dead-lettered messages kept in the spool.", s.queue.dead);
  metric(out, "mxgate_audit_records", "gauge", "Records in the audit log.", s.audit_records);
  labeled(out, "mxgate_retention_purged_total", "counter", "Records purged after their retention, by family.",
          "family", {{"dead_letters", s.queue.dead_purged}, {"audit", s.queue.audit_purged}});
  uint64_t oldest = s.queue.oldest_us == 0 || s.now_us < s.queue.oldest_us ? 0 : (s.now_us - s.queue.oldest_us) / 1000000;
  metric(out, "mxgate_queue_oldest_age_seconds", "gauge", "Age of the oldest queued message.", oldest);
  metric(out, "mxgate_queue_hot_cache_bytes", "gauge", "Message bodies held in memory for delivery.",
         s.queue.hot_bytes);
  metric(out, "mxgate_spool_writes_total", "counter", "RocksDB write batches by the group-commit writer.",
         s.store.writes);
  metric(out, "mxgate_spool_synced_writes_total", "counter", "Write batches with sync=true (fsync of the WAL).",
         s.store.synced_writes);
  metric(out, "mxgate_spool_batches_total", "counter", "Submitted spool batches (each commit or update).",
         s.store.batches);
  metric(out, "mxgate_spool_synced_batches_total", "counter", "Submitted batches that asked for durability.",
         s.store.synced_batches);
  metric(out, "mxgate_spool_commit_microseconds_total", "counter",
         "Submit-to-durable time summed over synced batches (divide by synced batches for the mean).",
         s.store.commit_micros);
  metric(out, "mxgate_spool_write_failures_total", "counter", "Failed spool writes.", s.store.failures);
  metric(out, "mxgate_spool_pending_batches", "gauge", "Batches waiting for the writer.", s.store_pending);
  metric(out, "mxgate_spool_writable", "gauge", "1 when the spool accepts writes.", s.store_writable ? 1 : 0);
  metric(out, "mxgate_spool_free_bytes", "gauge", "Free bytes on the spool's file system.", s.free_disk_bytes);
  metric(out, "mxgate_inflight_bytes", "gauge", "Message data held in memory by sessions and pending commits.",
         s.inflight_bytes);
  metric(out, "mxgate_backpressure", "gauge", "1 while new mail is refused for storage pressure.",
         s.storage_pressure ? 1 : 0);
  metric(out, "mxgate_quarantine_entries", "gauge", "Quarantine entries (one per tenant and message).",
         s.queue.quarantined);
  metric(out, "mxgate_queue_held_messages", "gauge", "Messages kept only for quarantined recipients.", s.queue.held);
  if (!s.verdicts.empty()) {
    out += "# HELP mxgate_auth_results_total Inbound messages by SPF, DKIM (best signature) and DMARC result.\n"
           "# TYPE mxgate_auth_results_total counter\n";
    for (const auto& verdict : s.verdicts) {
      out += fmt::format("mxgate_auth_results_total{{check=\"{}\",result=\"{}\"}} {}\n", verdict.check, verdict.result,
                         verdict.count);
    }
  }
  if (s.dns_enabled) {
    metric(out, "mxgate_dns_queries_total", "counter", "DNS lookups asked of the resolver.", s.dns.queries);
    metric(out, "mxgate_dns_cache_hits_total", "counter", "Lookups answered from the cache.", s.dns.cache_hits);
    metric(out, "mxgate_dns_joined_total", "counter", "Lookups that joined a query already in flight.", s.dns.joined);
    metric(out, "mxgate_dns_sent_total", "counter", "Queries sent to a DNS server.", s.dns.sent);
    metric(out, "mxgate_dns_failures_total", "counter", "Queries that ended in SERVFAIL or a timeout.", s.dns.failures);
  }
  if (s.scan_enabled) {
    const uint64_t clean = s.scan.scanned - std::min(s.scan.scanned, s.scan.infected + s.scan.limits + s.scan.errors);
    labeled(out, "mxgate_scans_total", "counter", "Virus scans by verdict.", "verdict",
            {{"clean", clean}, {"infected", s.scan.infected}, {"limit_exceeded", s.scan.limits},
             {"error", s.scan.errors}});
    metric(out, "mxgate_scan_signatures", "gauge", "Signatures in the virus engine in use.", s.scan.signatures);
  }
  out += "# HELP mxgate_webhook_attempts_total Webhook POST attempts by result.\n"
         "# TYPE mxgate_webhook_attempts_total counter\n";
  for (const auto& [result, count] : s.webhook_attempts) {
    out += fmt::format("mxgate_webhook_attempts_total{{result=\"{}\"}} {}\n", result, count);
  }
  labeled(out, "mxgate_mx_tls_sessions_total", "counter",
          "TLS sessions set up with mail exchangers, by how the exchanger was authenticated.", "verified_by",
          {{"dane", s.mx_tls_dane}, {"pkix", s.mx_tls_verified}, {"none", s.mx_tls_unverified}});
  metric(out, "mxgate_mx_tls_resumed_total", "counter",
         "TLS sessions with mail exchangers that resumed an earlier session (RFC 8446 tickets).", s.mx_tls_resumed);
  out += "# HELP mxgate_mx_tls_failures_total TLS failures with mail exchangers by RFC 8460 (TLS-RPT) result type.\n"
         "# TYPE mxgate_mx_tls_failures_total counter\n";
  for (const auto& [result, count] : s.mx_tls_failures) {
    out += fmt::format("mxgate_mx_tls_failures_total{{result_type=\"{}\"}} {}\n", result, count);
  }
  out += "# HELP mxgate_mx_throttled_total Deliveries to mail exchangers held back by traffic shaping, by limit.\n"
         "# TYPE mxgate_mx_throttled_total counter\n";
  for (const auto& [limit, count] : s.mx_throttled) {
    out += fmt::format("mxgate_mx_throttled_total{{limit=\"{}\"}} {}\n", limit, count);
  }
  metric(out, "mxgate_mx_backoffs_total", "counter",
         "Back-off rules of traffic shaping applied after a receiver's throttling reply.", s.mx_backoffs);
  if (!s.api_requests.empty()) {
    out += "# HELP mxgate_api_requests_total HTTP send API requests by answer (accepted 202, replayed 202 for a "
           "repeated Idempotency-Key, cancelled 200 to DELETE, refused 4xx, unavailable 503).\n# TYPE mxgate_api_requests_total counter\n";
    for (const auto& [result, count] : s.api_requests) {
      out += fmt::format("mxgate_api_requests_total{{result=\"{}\"}} {}\n", result, count);
    }
  }
  metric(out, "mxgate_webhook_endpoints_disabled", "gauge", "Webhook endpoints disabled after a 410 answer.",
         s.webhook_endpoints_disabled);
  labeled(out, "mxgate_events_total", "counter", "Events of the event outbox by what became of them.", "result",
          {{"posted", s.events.posted},
           {"dead", s.events.dead},
           {"dropped", s.events.dropped},
           {"purged", s.events.purged}});
  labeled(out, "mxgate_events_outbox", "gauge", "Events in the outbox, as of the last census.", "state",
          {{"pending", s.events.outbox_pending}, {"dead", s.events.outbox_dead}});
  metric(out, "mxgate_event_posts_failed_total", "counter", "Event POSTs answered with an error or not at all.",
         s.events.failed);
  labeled(out, "mxgate_dsn_total", "counter",
          "Delivery status notifications for relayed mail refused after acceptance: queued for the sender, "
          "or not sent (null or unauthenticated sender, bounces disabled).",
          "result", {{"queued", s.queue.dsn_queued}, {"not_sent", s.queue.dsn_not_sent}});
  labeled(out, "mxgate_recipient_verifications_total", "counter",
          "Answers to recipient verification (delivery.recipients = verify) by verdict.", "verdict",
          {{"accepted", s.verifier.accepted}, {"refused", s.verifier.refused}, {"unverified", s.verifier.unverified}});
  metric(out, "mxgate_recipient_probes_total", "counter", "Recipient probes sent to next hops.", s.verifier.probes);
  labeled(out, "mxgate_auth_total", "counter",
          "AUTH attempts on submission listeners by outcome (failed: wrong secret, unknown or revoked user).",
          "result",
          {{"accepted", s.auth.accepted},
           {"failed", s.auth.failed},
           {"locked", s.auth.locked},
           {"unavailable", s.auth.unavailable}});
  metric(out, "mxgate_recipient_verification_cache_hits_total", "counter",
         "Recipient verifications answered from the cache.", s.verifier.cache_hits);
  out += "# HELP mxgate_link_requests_total Requests for signed links (click), open pixels (open) and one-click "
         "unsubscribe URLs (unsubscribe) by result.\n"
         "# TYPE mxgate_link_requests_total counter\n";
  constexpr const char* kLinkKinds[] = {"click", "open", "unsubscribe"};
  constexpr const char* kLinkResults[] = {"ok", "bad_mac", "unknown_key", "malformed"};
  for (size_t kind = 0; kind < s.link_requests.size(); ++kind) {
    for (size_t result = 0; result < 4; ++result) {
      out += fmt::format("mxgate_link_requests_total{{kind=\"{}\",result=\"{}\"}} {}\n", kLinkKinds[kind],
                         kLinkResults[result], s.link_requests[kind][result]);
    }
  }
  out += "# HELP mxgate_http_connections_open HTTP connections served now, by listener.\n"
         "# TYPE mxgate_http_connections_open gauge\n";
  for (const auto& listener : s.http_listeners) {
    out += fmt::format("mxgate_http_connections_open{{listener=\"{}\"}} {}\n", listener.name, listener.open);
  }
  out += "# HELP mxgate_http_connections_refused_total HTTP connections answered 503 at the connection cap.\n"
         "# TYPE mxgate_http_connections_refused_total counter\n";
  for (const auto& listener : s.http_listeners) {
    out += fmt::format("mxgate_http_connections_refused_total{{listener=\"{}\"}} {}\n", listener.name,
                       listener.refused);
  }
  out += "# HELP mxgate_http_timeouts_total HTTP connections closed for a request not arriving in time (header) "
         "or no next request (idle).\n# TYPE mxgate_http_timeouts_total counter\n";
  for (const auto& listener : s.http_listeners) {
    out += fmt::format("mxgate_http_timeouts_total{{listener=\"{}\",kind=\"header\"}} {}\n", listener.name,
                       listener.header_timeouts);
    out += fmt::format("mxgate_http_timeouts_total{{listener=\"{}\",kind=\"idle\"}} {}\n", listener.name,
                       listener.idle_timeouts);
  }
  out += "# HELP mxgate_lane_depth Jobs waiting in a lane.\n# TYPE mxgate_lane_depth gauge\n";
  for (const auto& lane : s.lanes) {
    out += fmt::format("mxgate_lane_depth{{lane=\"{}\"}} {}\n", lane.name, lane.depth);
  }
  out += "# HELP mxgate_lane_jobs_total Jobs run by a lane.\n# TYPE mxgate_lane_jobs_total counter\n";
  for (const auto& lane : s.lanes) {
    out += fmt::format("mxgate_lane_jobs_total{{lane=\"{}\"}} {}\n", lane.name, lane.completed);
  }
  out += "# HELP mxgate_lane_refused_total Jobs refused by a full lane.\n# TYPE mxgate_lane_refused_total counter\n";
  for (const auto& lane : s.lanes) {
    out += fmt::format("mxgate_lane_refused_total{{lane=\"{}\"}} {}\n", lane.name, lane.refused);
  }
  out += "# HELP mxgate_lane_wait_microseconds_total Time jobs waited in a lane's queue.\n"
         "# TYPE mxgate_lane_wait_microseconds_total counter\n";
  for (const auto& lane : s.lanes) {
    out += fmt::format("mxgate_lane_wait_microseconds_total{{lane=\"{}\"}} {}\n", lane.name, lane.wait_micros);
  }
  return out;
}

}  // namespace mxgate::admin
