// Node configuration (conf/mxgate.toml) and tenant policies (policies/*.toml).
//
// load() parses and validates everything into one immutable snapshot; every error names
// the file, the line and the key. The snapshot is shared read-only between threads
// (std::shared_ptr<const Config>); a reload builds a new one and swaps the pointer.
// Relative paths in the files are resolved against the working directory of mxgate.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mxgate/base/log.h"

namespace mxgate::bounce {
struct Rules;
}  // namespace mxgate::bounce

namespace mxgate::config {

enum class ListenerRole { Inbound, Submission };
enum class ListenerTls { None, StartTls, Implicit };
enum class BareNewline { Reject, Normalize };
enum class DeliveryKind { File, Smtp, Webhook };
enum class LinkMode { Off, SafeLinks, On };
// TLS security level of an SMTP client connection, like Postfix's smtp_tls_security_level:
// None never sends STARTTLS; May uses it when offered, unverified, and retries in plaintext
// when the handshake fails (RFC 7435); Encrypt requires TLS, unverified; Verify requires TLS
// with a certificate chain that verifies and names the next hop (RFC 6125).
enum class ClientTls { None, May, Encrypt, Verify, Dane };  // Dane: MX delivery only (RFC 7672)
enum class RecipientCheck { Any, List, Verify };
enum class CheckAction { Reject, Quarantine, Tag, Accept };
enum class ScanFailure { Closed, Open };
enum class DkimAlgorithm { RsaSha256, Ed25519Sha256 };  // RFC 6376 §3.3, RFC 8463

struct NodeSettings {
  std::string hostname;      // greeting, EHLO reply, Received: by
  uint16_t id = 0;           // node id inside queue ids
  uint32_t workers = 0;      // event-loop threads; 0 in the file means "cores - 1, at least 1"
  std::string user;          // started as root: the user to become once the ports are bound ("" = stay)
  std::string policies_dir;  // directory holding the tenant *.toml files
  std::string postmaster;    // where RCPT TO:<postmaster> goes ("" = refuse it)
  std::chrono::milliseconds shutdown_timeout{60000};  // a drain's limit (SIGTERM, `mxgate drain`)
};

struct LogSettings {
  log::Level level = log::Level::Info;
  log::Format format = log::Format::Text;
  std::string file;  // "" = standard error
};

struct Listener {
  std::string name;
  ListenerRole role = ListenerRole::Inbound;
  std::string address;  // numeric IPv4 or IPv6
  uint16_t port = 0;    // 0 lets the kernel choose (tests)
  ListenerTls tls = ListenerTls::StartTls;
  bool scan_before_accept = false;  // scan before the 250 and reject infected mail in-session
  bool auth_checks = true;          // SPF, DKIM, DMARC and the tenants' inbound policies
  bool auth_plaintext = false;      // submission: AUTH without TLS (loopback addresses only)
};

struct TlsSettings {
  std::string cert_file;  // PEM chain; "" = generate a self-signed one under <spool>/tls
  std::string key_file;
  int min_version = 12;  // 12 = TLS 1.2, 13 = TLS 1.3
};

struct SmtpSettings {
  uint32_t max_connections = 1000;
  uint32_t max_connections_per_ip = 50;
  uint32_t ipv6_prefix_length = 64;  // IPv6 clients count per network of this length
  size_t max_line_length = 2048;         // command lines, bytes including CRLF
  uint64_t max_message_size = 26214400;  // announced with SIZE, enforced while streaming
  size_t max_header_size = 102400;
  uint32_t max_recipients = 1000;
  uint32_t max_errors = 20;
  uint32_t max_junk_commands = 100;
  uint32_t max_received_headers = 100;  // loop detection (RFC 5321 §6.3)
  uint32_t max_messages_per_connection = 1000;
  BareNewline bare_newline = BareNewline::Reject;
  bool reject_nul = true;
  std::chrono::milliseconds command_timeout{300000};  // RFC 5321 §4.5.3.2.7
  std::chrono::milliseconds data_timeout{300000};     // message data without progress, §4.5.3.2.7
  uint64_t min_data_rate = 500;  // bytes/s of message data that keep moving the data deadline on
  std::chrono::milliseconds tls_handshake_timeout{30000};
  size_t max_pending_output = 65536;  // unread replies before we stop reading input
  std::vector<std::string> xclient_networks;  // CIDR networks allowed to use XCLIENT
};

struct DnsSettings {
  std::vector<std::string> servers;  // "ip" or "ip:port"; empty = /etc/resolv.conf
  std::chrono::milliseconds timeout{2000};
  uint32_t tries = 3;
  uint64_t cache_entries = 100000;
  std::chrono::seconds max_ttl{86400};
  std::chrono::seconds negative_ttl{300};
};

struct AuthSettings {
  std::string authserv_id;  // "" = node.hostname
  std::vector<std::string> remove_authres_ids;  // the other nodes' ids: their A-R is removed too
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  uint32_t dkim_min_rsa_bits = 1024;
  uint32_t max_dkim_signatures = 5;
  uint32_t threads = 2;        // auth lane (DKIM verification)
  uint32_t queue_limit = 10000;
};

// Authenticated submission (AUTH PLAIN/LOGIN, RFC 4954, on role = "submission" listeners) and
// the tenants' credentials (for SMTP and for the HTTP send API).
struct SubmissionSettings {
  std::string credential_key_file;  // "" = <spool>/credential.key, created on first run
  uint32_t auth_threads = 1;        // credential lane: spool reads of credential records
  uint32_t auth_queue_limit = 10000;
  // Failure limiter, per client address (IPv6 per smtp.ipv6_prefix_length network) and per
  // user name: auth_max_failures failures within auth_failure_window lock the key for
  // auth_lockout; the n-th failure is answered after n x auth_failure_delay (at most
  // auth_max_delay).
  uint32_t auth_max_failures = 5;
  std::chrono::seconds auth_failure_window{900};
  std::chrono::seconds auth_lockout{900};
  std::chrono::milliseconds auth_failure_delay{1000};
  std::chrono::milliseconds auth_max_delay{10000};
  uint64_t auth_tracked_keys = 100000;  // addresses and user names remembered; the oldest go first
};

struct ScanConfig {
  std::string signatures;  // "" = virus scanning off
  std::string temp_dir;
  uint64_t max_scan_size = 104857600;
  uint64_t max_file_size = 52428800;
  uint32_t max_recursion = 17;
  uint32_t max_files = 10000;
  std::chrono::milliseconds max_scan_time{30000};
  uint32_t threads = 1;
  uint32_t queue_limit = 1000;
  ScanFailure failure = ScanFailure::Closed;  // what a scan that errs or hits a limit means
};

struct SpoolSettings {
  std::string path;
  uint32_t commit_max_batch = 256;                // commits per group-commit write
  std::chrono::microseconds commit_max_wait{100};  // how long the writer waits to fill a batch
  size_t chunk_size = 65536;                      // body chunk size in the spool
  uint64_t max_queued_messages = 200000;          // high water: new mail gets 452 4.3.1
  uint64_t max_queued_bytes = 8589934592;
  uint64_t min_free_bytes = 268435456;  // free disk below this: 452 4.3.1
  uint32_t resume_percent = 90;         // accept again below this % of a high water
  uint64_t max_inflight_bytes = 268435456;  // message data held in memory: 451 4.3.0 above
  uint64_t write_buffer_size = 16777216;    // RocksDB memtable size
};

struct QueueSettings {
  std::chrono::seconds retry_initial{300};
  std::chrono::seconds retry_max{3600};
  std::chrono::seconds max_age{432000};  // then the message is dead-lettered
  std::chrono::seconds send_at_horizon{259200};  // how far ahead a scheduled send may ask (72h)
  uint32_t retry_jitter_percent = 20;    // +/- this % on every backoff step
  uint32_t max_active = 2000;            // messages being delivered at once
  uint64_t hot_cache_bytes = 33554432;   // bodies kept in memory after commit for delivery
  uint64_t max_delivery_memory = 268435456;  // bodies held by deliveries under way
  uint32_t read_threads = 2;             // spool-read lane
  uint32_t file_threads = 2;             // file-delivery lane
  uint32_t lane_queue_limit = 100000;    // jobs waiting per lane before new ones are refused
  std::chrono::seconds quarantine_purge_interval{60};
  std::chrono::seconds dead_letter_retention{2592000};  // 30 days, then a dead letter is purged
  std::chrono::seconds audit_retention{34560000};       // 400 days (legal hold keeps records longer)
  std::chrono::seconds purge_interval{600};             // dead letters and audit records
};

struct SmtpClientSettings {
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds command_timeout{300000};
  std::chrono::milliseconds data_timeout{600000};  // waiting for the reply after the final dot
  std::chrono::milliseconds idle_timeout{10000};   // a reusable connection is closed after this
  uint32_t max_messages_per_connection = 1000;
  uint64_t verify_cache_entries = 100000;  // recipient verification answers kept (all tenants)
};

// Delivery to recipient domains' mail exchangers ([mx]): the route (mx_route.h) and the pools.
struct MxSettings {
  uint16_t port = 25;                     // tests point it at receivers on 127.0.0.x
  uint32_t max_connections = 100;         // outbound deliveries under way at once (the [outbound] mx target)
  uint32_t max_addresses = 5;             // addresses tried per attempt (Postfix smtp_mx_address_limit)
  uint32_t connections_per_host = 10;     // connections to one exchanger address
  bool ipv4 = true;                       // address families used
  bool ipv6 = true;
  bool prefer_ipv6 = true;                // an exchanger's IPv6 addresses before its IPv4 ones
  bool mta_sts = true;                    // apply recipient domains' MTA-STS policies (RFC 8461)
  uint16_t mta_sts_port = 443;            // HTTPS port of policy hosts; tests use others
  std::string mta_sts_ca_file;            // trust anchors for policy hosts and enforced exchangers; "" = system
};

struct WebhookSettings {
  uint32_t threads = 2;  // payload lane: MIME parsing, link rewriting, JSON
  uint32_t queue_limit = 10000;
};

struct LinkSettings {
  std::string host;       // host[:port] in rewritten links; "" = link rewriting unavailable
  std::string keys_file;  // "" = <spool>/link.keys, created on first run
  std::string address;    // click/open endpoint listener; "" = none
  uint16_t port = 8026;
  std::chrono::milliseconds header_timeout{10000};  // a request head must arrive within this
  std::chrono::milliseconds idle_timeout{15000};    // a keep-alive connection waits this long
  uint32_t max_connections = 1000;
  std::vector<std::string> trusted_proxies;  // CIDR: peers whose X-Forwarded-For is honoured
};

struct AdminSettings {
  std::string address;
  uint16_t port = 8025;
  std::string token_file;  // "" = <spool>/admin.token, created on first run
  std::chrono::milliseconds header_timeout{30000};  // a request head must arrive within this
  std::chrono::milliseconds idle_timeout{60000};    // a keep-alive connection waits this long
  uint32_t max_connections = 256;
};

// The tenant-facing HTTP send API ([api]; src/api/).
struct ApiSettings {
  std::string address;          // "" = no API listener
  uint16_t port = 8027;
  bool allow_remote = false;    // a non-loopback address needs this
  bool tls = false;             // implicit TLS with the node's tls.cert / tls.key
  uint64_t max_request_size = 33554432;            // request body bytes (JSON or raw)
  uint32_t max_recipients = 1000;                  // to + cc + bcc of one message
  std::chrono::seconds idempotency_window{86400};  // an Idempotency-Key is remembered this long
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  uint32_t max_connections = 1000;
  uint32_t build_threads = 2;        // the api lane: JSON parsing and MIME building
  uint32_t build_queue_limit = 1000;
};

struct DeliveryTarget {
  DeliveryKind kind = DeliveryKind::File;
  std::string path;  // file: directory receiving one <queue id>.eml per message
  std::string host;  // smtp: fixed next hop
  uint16_t port = 25;
  uint32_t max_connections = 10;  // smtp: connections; webhook: requests under way at once
  ClientTls tls = ClientTls::May;
  std::string tls_ca_file;      // smtp, tls = verify: PEM trust anchors; "" = the system CA store
  std::string tls_verify_name;  // smtp: the name the certificate must carry (and SNI); "" = host
  // webhook: the endpoint, its signing keys (decoded; the first is the newest) and limits.
  std::string url;
  std::vector<std::string> secret_keys;
  bool allow_private = false;  // may post to loopback and private addresses
  std::chrono::milliseconds timeout{30000};
  uint64_t max_payload = 26214400;            // larger payloads go without inline attachments
  uint64_t inline_attachments_max = 1048576;  // attachment bytes inlined (base64) per payload
  std::chrono::seconds retry_initial{5};
  std::chrono::seconds retry_max{7200};
  std::chrono::seconds max_age{259200};  // then the message is dead-lettered (3 days)
  // Which recipients RCPT accepts (RFC 5321 §3.3: refuse unknown users in the session rather
  // than bounce them later): any local part, the listed addresses, or (smtp) those the next hop
  // accepts when probed with RCPT, the results cached like Postfix's address verification.
  RecipientCheck recipients = RecipientCheck::Any;
  std::shared_ptr<const std::unordered_set<std::string>> valid_recipients;  // List: lower-cased
  std::string recipients_file;  // List: read into valid_recipients at load
  std::chrono::seconds verify_ttl{604800};          // an accepted address stays known (7 days)
  std::chrono::seconds verify_negative_ttl{10800};  // a refused address stays refused (3 hours)
  std::chrono::seconds verify_tempfail_ttl{60};     // a failed probe is not repeated sooner
  std::chrono::milliseconds verify_wait{10000};     // RCPT waits this long for a probe, then 450

  // List: the address is listed, as it is or without a "+detail" in its local part.
  bool listsRecipient(std::string_view address) const;
};

// Link rewriting of a tenant's inbound mail (after the authentication checks).
struct LinkPolicy {
  LinkMode mode = LinkMode::Off;
  std::vector<std::string> allow_hosts;  // never rewritten (and their subdomains)
  bool rewrite_text = true;              // text/plain parts too
};

// Engagement tracking of a tenant's outbound mail (SMTP submission, the HTTP send API), done
// before DKIM signing so the signature covers it ([tracking] in the tenant's policy file).
struct TrackingPolicy {
  bool clicks = false;            // http/https links rewritten into signed /l/ links
  bool opens = false;             // an open pixel (/o/) at the end of the HTML part
  bool list_unsubscribe = false;  // RFC 8058 List-Unsubscribe (single-recipient messages)

  bool any() const { return clicks || opens || list_unsubscribe; }
};

// Delivery and engagement events posted to the tenant (same signing and retry machinery).
struct EventsPolicy {
  std::string url;  // "" = no events
  std::vector<std::string> secret_keys;  // decoded, newest first
  bool allow_private = false;
  uint32_t batch_max = 1;  // 1 = one JSON object per POST; more = a JSON array of up to this many
  std::chrono::milliseconds timeout{30000};
  std::chrono::seconds max_age{259200};  // then the event is kept as dead (replayable)
  std::chrono::seconds dead_retention{2592000};  // a dead event is purged this long after it died
};

// Where a tenant's authenticated mail (SMTP submission, the HTTP send API) goes, and whether
// its senders are told of failures ([outbound] in the tenant's policy file).
enum class OutboundTarget { Mx };  // "mx": each recipient domain's mail exchangers

// A rate limit: count per period_s seconds; count 0 = no limit.
struct Rate {
  uint64_t count = 0;
  uint64_t period_s = 0;

  bool operator==(const Rate&) const = default;
};

struct OutboundPolicy {
  OutboundTarget target = OutboundTarget::Mx;
  bool dsn = true;       // RFC 3464 DSNs to the envelope sender of SMTP-submitted mail
  bool api_dsn = false;  // the same for mail from the HTTP send API (events only by default)
  // TLS towards the mail exchangers of every recipient domain (Verify: the exchanger's name,
  // chained to tls_ca_file, "" = the system store). A destination may ask for more.
  ClientTls tls = ClientTls::May;
  std::string tls_ca_file;
  // Sending limits (shaping/tenant_limits.h): messages per period, and per rolling 24 hours.
  Rate message_rate;
  uint64_t daily_cap = 0;  // 0 = none
};

// One [[destination]] table of mx.destinations_file: what delivery to a recipient domain's
// mail exchangers requires, like Postfix's smtp_tls_policy_maps. With a tenant's level the
// stronger one applies: an entry raises the level for every tenant and never lowers one.
struct DestinationPolicy {
  std::string domain;  // "example.com" (that domain) or ".example.com" (any subdomain), lower-case
  ClientTls tls = ClientTls::May;
  std::string tls_ca_file;  // with Verify: PEM CA certificates, "" = the system store
  int line = 0;
};

struct DestinationPolicies {
  std::string source;  // the file, or "" when mx.destinations_file is not set
  std::vector<DestinationPolicy> entries;

  // The entry naming domain itself, else the one with the longest ".suffix" of it; nullptr if none.
  const DestinationPolicy* find(std::string_view domain) const;
};

// Traffic shaping of MX delivery (mx.shaping_file, format: conf/shaping.toml; KumoMTA's names).
// Limits hold per site: the mail exchangers a recipient domain shares with others (domains
// with the same MX set share one site), or the whole of a provider. A value of 0 (a rate with
// count 0) is "not set": a provider's unset limit is the default's, and the default's means
// no limit.
struct ShapingLimits {
  uint32_t connection_limit = 0;               // connections open at once to the site
  Rate max_connection_rate;                     // new connections to the site
  uint32_t max_deliveries_per_connection = 0;  // messages on one connection before QUIT
  Rate max_message_rate;                        // messages to the site

  bool operator==(const ShapingLimits&) const = default;
  // Each limit that is not set here taken from fallback.
  ShapingLimits over(const ShapingLimits& fallback) const;
  // The stricter of each limit set in either.
  ShapingLimits strictest(const ShapingLimits& other) const;
};

// A [[provider]] table: a receiver whose mail exchangers (by host name suffix) or domains
// share one site and its own limits.
struct ShapingProvider {
  std::string name;
  std::vector<std::string> mx_suffixes;  // ".google.com": an exchanger whose name ends so, lower-case
  std::vector<std::string> domains;      // "example.com" or ".example.com" (subdomains), lower-case
  ShapingLimits limits;
  int line = 0;

  bool matchesDomain(std::string_view domain) const;
  bool matchesExchanger(std::string_view host) const;
};

// A [[backoff]] table: a temporary reply (4xx) matching `match` makes its site slow down, or
// stop when suspend is set, for `duration`, like KumoMTA's traffic shaping automation.
struct BackoffRule {
  std::string match;  // searched in "<code> <enhanced code> <text>", as bounce rules are
  std::regex regex;
  bool suspend = false;
  ShapingLimits limits;  // with suspend false: the limits during the back-off (the stricter apply)
  uint64_t duration_us = 0;
  int line = 0;
};

struct ShapingRules {
  std::string source;  // the file, or "<built-in shaping rules>"
  ShapingLimits defaults;
  std::vector<ShapingProvider> providers;
  std::vector<BackoffRule> backoff;

  // The first provider naming domain or any of its exchangers; nullptr if none.
  const ShapingProvider* providerFor(std::string_view domain, const std::vector<std::string>& exchangers) const;
};

struct ThreadPolicy {
  std::string ticket_pattern = R"(\[TICKET-\d{6}-\d{4}\])";  // "" = no subject hints
};

// What a tenant wants done with inbound mail that fails a check (reject in the SMTP session,
// quarantine, tag with a header, or accept as is).
struct InboundPolicy {
  CheckAction spf_fail = CheckAction::Tag;
  CheckAction spf_softfail = CheckAction::Accept;
  CheckAction dkim_fail = CheckAction::Accept;
  CheckAction dmarc_reject = CheckAction::Reject;          // DMARC fails, domain asks p=reject
  CheckAction dmarc_quarantine = CheckAction::Quarantine;  // DMARC fails, domain asks p=quarantine
  CheckAction dmarc_none = CheckAction::Accept;            // DMARC fails, domain asks p=none
  CheckAction virus = CheckAction::Quarantine;
  std::chrono::seconds quarantine_retention{2592000};  // 30 days
};

// One DKIM signing key of a tenant, a [[dkim.keys]] table of its policy file. load() reads the
// key file and checks it (exists, private mode, a PEM key of the algorithm's type); the PEM is
// kept in memory and shared read-only by every signer (auth::DkimSigner) until a reload.
struct DkimKey {
  std::string domain;    // d=, lower-cased; one of the tenant's domains
  std::string selector;  // s=
  DkimAlgorithm algorithm = DkimAlgorithm::RsaSha256;
  std::string key_file;
  // Whether this key signs. Per domain and algorithm at most two keys (rotation) and at most one
  // active; when neither sets active, the first listed signs.
  bool active = true;
  std::shared_ptr<const std::string> private_key;  // PEM
};

inline constexpr unsigned kMinRsaBits = 1024;  // RFC 8301 §3.2: signers MUST use at least 1024 bits
inline constexpr unsigned kMaxRsaBits = 4096;  // RFC 8301 §3.2: verifiers need not go beyond 4096

// Why domain and selector cannot name a key in [[dkim.keys]] ("domain: <reason>",
// "selector: <reason>"), or "". For `mxgate dkim keygen`.
std::string checkDkimKeyName(std::string_view domain, std::string_view selector);

struct DkimPolicy {
  std::vector<DkimKey> keys;

  // The keys that sign mail whose From domain is domain (exact, case-insensitive): the active
  // key of each algorithm, RSA first; empty when there is none.
  std::vector<DkimKey> signingKeys(std::string_view domain) const;
};

struct Tenant {
  std::string id;
  std::string source_file;
  std::vector<std::string> domains;  // lower-cased
  DeliveryTarget delivery;
  InboundPolicy inbound;
  LinkPolicy links;
  TrackingPolicy tracking;
  ThreadPolicy thread;
  EventsPolicy events;
  DkimPolicy dkim;
  OutboundPolicy outbound;
};

struct Config {
  std::string source_file;
  NodeSettings node;
  LogSettings log;
  std::vector<Listener> listeners;
  TlsSettings tls;
  SmtpSettings smtp;
  SpoolSettings spool;
  QueueSettings queue;
  SmtpClientSettings smtp_client;
  MxSettings mx;
  AdminSettings admin;
  ApiSettings api;
  DnsSettings dns;
  AuthSettings auth;
  SubmissionSettings submission;
  ScanConfig scan;
  WebhookSettings webhook;
  LinkSettings links;
  // Where delivery status notifications go (RFC 3464; mail a tenant's next hop refused after
  // it was accepted): an SMTP relay, kind Smtp; host "" = no route (they are not sent).
  // Delivery status notifications to senders: through the bounces relay (bounces.host), or by
  // MX without one; not at all when disabled.
  bool bounces_enabled = true;
  DeliveryTarget bounces;
  // How delivery replies are classified (bounces.rules_file, "" = the built-in rules).
  std::string bounce_rules_file;
  std::shared_ptr<const bounce::Rules> bounce_rules;
  // Per recipient domain requirements of MX delivery (mx.destinations_file, "" = none).
  std::string destinations_file;
  DestinationPolicies destinations;
  // Connection and message limits per destination site (mx.shaping_file, "" = the built-in rules).
  std::string shaping_file;
  std::shared_ptr<const ShapingRules> shaping;
  std::vector<Tenant> tenants;

  // Exact, case-insensitive match of a recipient domain; nullptr if no tenant owns it.
  const Tenant* tenantForDomain(std::string_view domain) const;
  const Tenant* tenantById(std::string_view id) const;

  std::unordered_map<std::string, size_t> domain_index;  // lower-cased domain -> tenants[i]
  std::unordered_map<std::string, size_t> id_index;      // tenant id -> tenants[i]
  // The value of every node key as loaded (defaults included) in one canonical text, by key:
  // "queue.max_active" -> "2000", "listener[inbound].port" -> "2525". What a reload and
  // `mxgate check` compare with the running configuration (changedSettings).
  std::map<std::string, std::string> settings;
};

// A node key whose value differs between the running configuration and a new one.
struct SettingChange {
  std::string key;                     // "queue.read_threads", "listener[inbound].address"
  std::optional<std::string> running;  // nullopt: not in the running configuration (a new listener)
  std::optional<std::string> next;     // nullopt: not in the new one (a listener removed)
  bool needs_restart = false;          // a reload (SIGHUP) keeps the running value
};

// The keys whose values differ between two Config::settings maps, sorted by key.
std::vector<SettingChange> changedSettings(const std::map<std::string, std::string>& running,
                                           const std::map<std::string, std::string>& next);

// A Standard Webhooks secret, "whsec_" + base64 of 24..64 bytes: the key bytes, or nullopt.
std::optional<std::string> decodeWebhookSecret(std::string_view secret);

struct ConfigError {
  std::string file;
  int line = 0;     // 0 when the error is not tied to a line (e.g. file missing)
  std::string key;  // dotted key, e.g. "smtp.max_recipients"
  std::string message;
  std::string str() const;  // "file:line: key: message"
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// Reads the node file and every *.toml in its policies directory, validates all of it and
// reports every error found (not just the first).
LoadResult load(const std::string& node_file);

struct PolicySource {
  std::string name;  // the file name used in error messages
  std::string text;
};

// The same validation over text already in memory (tests, fuzzing, reload previews).
LoadResult loadFromText(const std::string& node_name, const std::string& node_text,
                        const std::vector<PolicySource>& policies);

// Reads a bounce rules file (format: conf/bounce_rules.toml) into out; the errors name file,
// line and key. For tests, the fuzz target and `mxgate check`'s loader.
std::vector<ConfigError> parseBounceRules(const std::string& file, const std::string& text, bounce::Rules& out);
// The same for a destinations file (mx.destinations_file, format: conf/destinations.toml).
std::vector<ConfigError> parseDestinations(const std::string& file, const std::string& text,
                                           DestinationPolicies& out);
// The same for a traffic shaping file (mx.shaping_file, format: conf/shaping.toml).
std::vector<ConfigError> parseShaping(const std::string& file, const std::string& text, ShapingRules& out);
// The text of the shipped conf/shaping.toml, compiled into the binary.
std::string_view defaultShapingText();

}  // namespace mxgate::config
