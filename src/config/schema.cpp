// The configuration schema as data (see schema.h). Limits follow RFC 5321 §4.5.3.1
// (object sizes: at least 100 recipients, 512-octet command lines) and §4.5.3.2 (timeouts).
// Immutable tables; safe on any thread.
#include "schema.h"

#include <algorithm>
#include <array>

#include "values.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/ip_network.h"

namespace mxgate::config::schema {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kTiB = 1024 * kGiB;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kHour = 60 * kMinute;
constexpr uint64_t kDay = 24 * kHour;

constexpr std::array<std::string_view, 4> kLevelNames{"debug", "info", "warn", "error"};
constexpr std::array<log::Level, 4> kLevels{log::Level::Debug, log::Level::Info, log::Level::Warn,
                                            log::Level::Error};
constexpr std::array<std::string_view, 2> kFormatNames{"text", "json"};
constexpr std::array<log::Format, 2> kFormats{log::Format::Text, log::Format::Json};
constexpr std::array<std::string_view, 2> kRoleNames{"inbound", "submission"};
constexpr std::array<ListenerRole, 2> kRoles{ListenerRole::Inbound, ListenerRole::Submission};
constexpr std::array<std::string_view, 3> kListenerTlsNames{"none", "starttls", "implicit"};
constexpr std::array<ListenerTls, 3> kListenerTls{ListenerTls::None, ListenerTls::StartTls,
                                                  ListenerTls::Implicit};
constexpr std::array<std::string_view, 2> kTlsVersionNames{"1.2", "1.3"};
constexpr std::array<int, 2> kTlsVersions{12, 13};
constexpr std::array<std::string_view, 2> kBareNewlineNames{"reject", "normalize"};
constexpr std::array<BareNewline, 2> kBareNewlines{BareNewline::Reject, BareNewline::Normalize};
constexpr std::array<std::string_view, 3> kTargetNames{"file", "smtp", "webhook"};
constexpr std::array<std::string_view, 1> kOutboundTargetNames{"mx"};
constexpr std::array<OutboundTarget, 1> kOutboundTargets{OutboundTarget::Mx};
constexpr std::array<DeliveryKind, 3> kTargets{DeliveryKind::File, DeliveryKind::Smtp, DeliveryKind::Webhook};
constexpr std::array<std::string_view, 3> kLinkModeNames{"off", "safe_links", "on"};
constexpr std::array<LinkMode, 3> kLinkModes{LinkMode::Off, LinkMode::SafeLinks, LinkMode::On};
constexpr std::array<std::string_view, 3> kAddressFamilyNames{"any", "ipv4", "ipv6"};
constexpr std::array<std::string_view, 2> kIpVersionNames{"ipv6", "ipv4"};
constexpr std::array<std::string_view, 3> kRecipientCheckNames{"any", "list", "verify"};
constexpr std::array<RecipientCheck, 3> kRecipientChecks{RecipientCheck::Any, RecipientCheck::List,
                                                         RecipientCheck::Verify};
constexpr std::array<std::string_view, 4> kActionNames{"reject", "quarantine", "tag", "accept"};
constexpr std::array<CheckAction, 4> kActions{CheckAction::Reject, CheckAction::Quarantine, CheckAction::Tag,
                                              CheckAction::Accept};
constexpr std::array<std::string_view, 2> kScanFailureNames{"closed", "open"};
constexpr std::array<ScanFailure, 2> kScanFailures{ScanFailure::Closed, ScanFailure::Open};
constexpr std::array<std::string_view, 2> kDkimAlgorithmNames{"rsa-sha256", "ed25519-sha256"};
constexpr std::array<DkimAlgorithm, 2> kDkimAlgorithms{DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256};

uint16_t u16(const Parsed& p) { return static_cast<uint16_t>(p.number); }
uint32_t u32(const Parsed& p) { return static_cast<uint32_t>(p.number); }

std::string checkHostname(std::string_view text) {
  return text.empty() ? "" : values::checkDomain(text);
}

// A login name as useradd(8) takes it (Debian's NAME_REGEX, without the trailing '$').
std::string checkUserName(std::string_view text) {
  if (text.empty()) {
    return "";
  }
  if (text.size() > 32 || !(ascii::isAlpha(text.front()) || text.front() == '_') ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return ascii::isAlpha(c) || ascii::isDigit(c) || c == '_' || c == '-' || c == '.'; })) {
    return "expected a user name (letters, digits, '_', '-', '.'; at most 32, not starting with a digit, '-' or '.')";
  }
  return "";
}

std::string checkPostmaster(std::string_view text) {
  return text.empty() ? "" : values::checkMailbox(text);
}

// The values delivery.tls had before the security levels, and what replaces them.
std::string explainOldClientTls(std::string_view text) {
  if (text == "opportunistic") {
    return "\"opportunistic\" is now \"may\"";
  }
  if (text == "required") {
    return "\"required\" is now \"encrypt\" (TLS, certificate not checked) or \"verify\" (certificate and "
           "host name checked)";
  }
  return "";
}

std::string checkOptionalHost(std::string_view text) { return text.empty() ? "" : values::checkHost(text); }

std::string checkOptionalHttpUrl(std::string_view text) { return text.empty() ? "" : values::checkHttpUrl(text); }

std::string checkOptionalAddress(std::string_view text) {
  return text.empty() || values::isIpLiteral(text) ? "" : "expected a numeric IP address or \"\"";
}

// host or host:port, as written in rewritten links.
std::string checkLinkHost(std::string_view text) {
  if (text.empty()) {
    return "";
  }
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    const std::string_view port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) > 65535) {
      return "expected host or host:port";
    }
    text = text.substr(0, colon);
  }
  return values::checkHost(text);
}

std::string checkAddress(std::string_view text) {
  return values::isIpLiteral(text) ? "" : "not a numeric IPv4 or IPv6 address";
}

std::string checkNetwork(std::string_view text) {
  return IpNetwork::parse(text) ? "" : "not a network in CIDR notation (192.0.2.0/24, 2001:db8::/32)";
}

// "192.0.2.53", "192.0.2.53:5353", "2001:db8::53" or "[2001:db8::53]:5353".
std::string checkDnsServer(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || (close + 1 < text.size() && text[close + 1] != ':')) {
      return "expected [address]:port";
    }
    host = text.substr(1, close - 1);
    port = close + 2 <= text.size() ? text.substr(close + 2) : std::string_view();
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  if (!values::isIpLiteral(host)) {
    return "not a numeric IPv4 or IPv6 address (with an optional :port)";
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return ascii::isDigit(c); }) ||
        std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535) {
      return "bad port";
    }
  }
  return "";
}

const Key<Config> kNodeKeys[] = {
    {.name = "node.hostname", .type = Type::String, .default_value = R"("")", .max = 253,
     .check = checkHostname,
     .live = true,
     .help = "Host name in the greeting, the EHLO reply and Received: headers; \"\" = the machine's host name.",
     .store = [](Config& c, const Parsed& p) { c.node.hostname = p.text; }},
    {.name = "node.id", .type = Type::Integer, .default_value = "0", .min = 0, .max = 65535,
     .help = "Node number embedded in queue ids; give every node of a cluster its own.",
     .store = [](Config& c, const Parsed& p) { c.node.id = u16(p); }},
    {.name = "node.workers", .type = Type::Integer, .default_value = "0", .min = 0, .max = 64,
     .help = "SMTP event-loop threads; 0 = one per CPU core but one (at least one).",
     .store = [](Config& c, const Parsed& p) { c.node.workers = u32(p); }},
    {.name = "node.user", .type = Type::String, .default_value = R"("")", .check = checkUserName,
     .help = "Started as root: the user to become once the ports are bound, before the spool and log are opened; \"\" = none.",
     .store = [](Config& c, const Parsed& p) { c.node.user = p.text; }},
    {.name = "node.policies", .type = Type::String, .default_value = R"("policies")", .min = 1,
     .live = true, .help = "Directory holding one *.toml policy file per tenant.",
     .store = [](Config& c, const Parsed& p) { c.node.policies_dir = p.text; }},
    {.name = "node.postmaster", .type = Type::String, .default_value = R"("")", .check = checkPostmaster,
     .live = true, .help = "Mailbox that receives RCPT TO:<postmaster>, in a tenant's domain; \"\" = refuse it.",
     .store = [](Config& c, const Parsed& p) { c.node.postmaster = p.text; }},
    {.name = "node.shutdown_timeout", .type = Type::Duration, .default_value = R"("60s")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond, .live = true,
     .help = "How long SIGTERM and `mxgate drain` wait for sessions to finish the message they are receiving and for "
             "deliveries under way before stopping anyway (what is left stays queued).",
     .store = [](Config& c, const Parsed& p) { c.node.shutdown_timeout = std::chrono::milliseconds(p.number); }},

    {.name = "log.level", .type = Type::Enum, .default_value = R"("info")", .choices = kLevelNames,
     .live = true, .help = "Least severe level written.",
     .store = [](Config& c, const Parsed& p) { c.log.level = kLevels[p.choice]; }},
    {.name = "log.format", .type = Type::Enum, .default_value = R"("text")", .choices = kFormatNames,
     .live = true, .help = "text = key=value lines, json = one JSON object per line.",
     .store = [](Config& c, const Parsed& p) { c.log.format = kFormats[p.choice]; }},
    {.name = "log.file", .type = Type::String, .default_value = R"("")",
     .help = "File the log is appended to; \"\" = standard error.",
     .store = [](Config& c, const Parsed& p) { c.log.file = p.text; }},

    {.name = "tls.cert", .type = Type::String, .default_value = R"("")",
     .live = true,
     .help = "PEM certificate chain (set together with tls.key); \"\" = a self-signed one under <spool>/tls.",
     .store = [](Config& c, const Parsed& p) { c.tls.cert_file = p.text; }},
    {.name = "tls.key", .type = Type::String, .default_value = R"("")",
     .live = true, .help = "PEM private key of tls.cert (set together with tls.cert).",
     .store = [](Config& c, const Parsed& p) { c.tls.key_file = p.text; }},
    {.name = "tls.min_version", .type = Type::Enum, .default_value = R"("1.2")", .choices = kTlsVersionNames,
     .live = true, .help = "Oldest TLS version accepted from clients.",
     .store = [](Config& c, const Parsed& p) { c.tls.min_version = kTlsVersions[p.choice]; }},

    {.name = "smtp.max_connections", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 1000000,
     .live = true, .help = "Simultaneous SMTP connections on this node; more are refused with 421.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_connections = u32(p); }},
    {.name = "smtp.max_connections_per_ip", .type = Type::Integer, .default_value = "50", .min = 1, .max = 100000,
     .live = true, .help = "Simultaneous SMTP connections from one client address.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_connections_per_ip = u32(p); }},
    {.name = "smtp.ipv6_prefix_length", .type = Type::Integer, .default_value = "64", .min = 32, .max = 128,
     .live = true, .help = "IPv6 clients count against max_connections_per_ip per network of this prefix length.",
     .store = [](Config& c, const Parsed& p) { c.smtp.ipv6_prefix_length = u32(p); }},
    {.name = "smtp.max_line_length", .type = Type::Size, .default_value = R"("2KiB")", .min = 512, .max = 64 * kKiB,
     .live = true, .help = "Longest command line in bytes, CRLF included (RFC 5321 §4.5.3.1.4 requires 512).",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_line_length = p.number; }},
    {.name = "smtp.max_message_size", .type = Type::Size, .default_value = R"("25MiB")", .min = kKiB, .max = 2 * kGiB,
     .live = true, .help = "Largest message accepted; announced with SIZE and enforced while the data streams in.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_message_size = p.number; }},
    {.name = "smtp.max_header_size", .type = Type::Size, .default_value = R"("100KiB")", .min = kKiB, .max = 64 * kMiB,
     .live = true, .help = "Largest header section of a message.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_header_size = p.number; }},
    {.name = "smtp.max_recipients", .type = Type::Integer, .default_value = "1000", .min = 100, .max = 100000,
     .live = true, .help = "Recipients per message (RFC 5321 §4.5.3.1.8 requires at least 100).",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_recipients = u32(p); }},
    {.name = "smtp.max_errors", .type = Type::Integer, .default_value = "20", .min = 1, .max = 1000,
     .live = true, .help = "Error replies in one session before the connection is closed.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_errors = u32(p); }},
    {.name = "smtp.max_junk_commands", .type = Type::Integer, .default_value = "100", .min = 1, .max = 100000,
     .live = true, .help = "NOOP, RSET, VRFY and HELP commands in one session before the connection is closed.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_junk_commands = u32(p); }},
    {.name = "smtp.max_received_headers", .type = Type::Integer, .default_value = "100", .min = 10, .max = 1000,
     .live = true, .help = "Received: headers after which a message is rejected as looping (RFC 5321 §6.3).",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_received_headers = u32(p); }},
    {.name = "smtp.max_messages_per_connection", .type = Type::Integer, .default_value = "1000", .min = 1,
     .max = 1000000, .live = true, .help = "Messages accepted in one session.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_messages_per_connection = u32(p); }},
    {.name = "smtp.bare_newline", .type = Type::Enum, .default_value = R"("reject")", .choices = kBareNewlineNames,
     .live = true, .help = "A bare LF or CR in message data: reject the message, or normalize it to CRLF.",
     .store = [](Config& c, const Parsed& p) { c.smtp.bare_newline = kBareNewlines[p.choice]; }},
    {.name = "smtp.reject_nul", .type = Type::Bool, .default_value = "true",
     .live = true, .help = "Reject messages whose data contains a NUL byte.",
     .store = [](Config& c, const Parsed& p) { c.smtp.reject_nul = p.flag; }},
    {.name = "smtp.command_timeout", .type = Type::Duration, .default_value = R"("5m")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond,
     .live = true, .help = "Time allowed for a whole command line from the reply before it: a per-request deadline, so a client trickling a command byte by byte is cut as well (RFC 5321 §4.5.3.2.7).",
     .store = [](Config& c, const Parsed& p) { c.smtp.command_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp.data_timeout", .type = Type::Duration, .default_value = R"("5m")", .min = kSecond, .max = kHour,
     .resolution = kMillisecond,
     .live = true, .help = "Time allowed for message data without progress: each read moves the deadline on by its bytes at smtp.min_data_rate, up to this from now (at least 5m, RFC 5321 §4.5.3.2.7).",
     .store = [](Config& c, const Parsed& p) { c.smtp.data_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp.min_data_rate", .type = Type::Integer, .default_value = "500", .min = 1, .max = 1000000000,
     .live = true, .help = "Slowest message data accepted, in bytes per second: a DATA or BDAT trickling slower reaches smtp.data_timeout (Postfix's smtpd_min_data_rate).",
     .store = [](Config& c, const Parsed& p) { c.smtp.min_data_rate = p.number; }},
    {.name = "smtp.tls_handshake_timeout", .type = Type::Duration, .default_value = R"("30s")", .min = kSecond,
     .max = 10 * kMinute, .resolution = kMillisecond, .live = true, .help = "Time allowed for a TLS handshake.",
     .store = [](Config& c, const Parsed& p) { c.smtp.tls_handshake_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp.max_pending_output", .type = Type::Size, .default_value = R"("64KiB")", .min = 4 * kKiB,
     .max = 16 * kMiB, .live = true, .help = "Unsent reply bytes after which the session stops reading input.",
     .store = [](Config& c, const Parsed& p) { c.smtp.max_pending_output = p.number; }},
    {.name = "smtp.xclient_networks", .type = Type::StringArray, .default_value = "[]", .max = 1000,
     .check = checkNetwork,
     .live = true, .help = "Networks (CIDR) whose clients may use XCLIENT to present another client address and HELO.",
     .store = [](Config& c, const Parsed& p) { c.smtp.xclient_networks = p.list; }},

    {.name = "spool.path", .type = Type::String, .default_value = R"("queue")", .min = 1,
     .help = "Directory of the on-disk spool (RocksDB).",
     .store = [](Config& c, const Parsed& p) { c.spool.path = p.text; }},
    {.name = "spool.commit_max_batch", .type = Type::Integer, .default_value = "256", .min = 1, .max = 65536,
     .help = "Most commits written in one synced group-commit batch.",
     .store = [](Config& c, const Parsed& p) { c.spool.commit_max_batch = u32(p); }},
    {.name = "spool.commit_max_wait", .type = Type::Duration, .default_value = R"("100us")", .min = 0,
     .max = 100 * kMillisecond, .resolution = kMicrosecond,
     .help = "How long the spool writer waits for more commits to fill a batch.",
     .store = [](Config& c, const Parsed& p) { c.spool.commit_max_wait = std::chrono::microseconds(p.number); }},
    {.name = "spool.chunk_size", .type = Type::Size, .default_value = R"("64KiB")", .min = 4 * kKiB, .max = 16 * kMiB,
     .live = true, .help = "Size of the chunks a message body is stored in.",
     .store = [](Config& c, const Parsed& p) { c.spool.chunk_size = p.number; }},
    {.name = "spool.max_queued_messages", .type = Type::Integer, .default_value = "200000", .min = 100,
     .max = 1000000000, .help = "Queued messages above which new mail gets 452 4.3.1.",
     .store = [](Config& c, const Parsed& p) { c.spool.max_queued_messages = p.number; }},
    {.name = "spool.max_queued_bytes", .type = Type::Size, .default_value = R"("8GiB")", .min = kMiB, .max = 16 * kTiB,
     .help = "Queued message bytes above which new mail gets 452 4.3.1.",
     .store = [](Config& c, const Parsed& p) { c.spool.max_queued_bytes = p.number; }},
    {.name = "spool.min_free_bytes", .type = Type::Size, .default_value = R"("256MiB")", .min = 0, .max = 16 * kTiB,
     .help = "Free disk space below which new mail gets 452 4.3.1.",
     .store = [](Config& c, const Parsed& p) { c.spool.min_free_bytes = p.number; }},
    {.name = "spool.resume_percent", .type = Type::Integer, .default_value = "90", .min = 10, .max = 99,
     .help = "After a high-water mark was hit, mail is accepted again below this percentage of it.",
     .store = [](Config& c, const Parsed& p) { c.spool.resume_percent = u32(p); }},
    {.name = "spool.max_inflight_bytes", .type = Type::Size, .default_value = R"("256MiB")", .min = kMiB,
     .max = 64 * kGiB, .help = "Message data held in memory above which new mail gets 451 4.3.0.",
     .store = [](Config& c, const Parsed& p) { c.spool.max_inflight_bytes = p.number; }},
    {.name = "spool.write_buffer_size", .type = Type::Size, .default_value = R"("16MiB")", .min = kMiB,
     .max = 4 * kGiB,
     .help = "RocksDB memtable size of the body family (the metadata family gets a quarter).",
     .store = [](Config& c, const Parsed& p) { c.spool.write_buffer_size = p.number; }},

    {.name = "queue.retry_initial", .type = Type::Duration, .default_value = R"("5m")", .min = kSecond, .max = kDay,
     .resolution = kSecond, .live = true, .help = "Delay before the first retry of a deferred delivery.",
     .store = [](Config& c, const Parsed& p) { c.queue.retry_initial = std::chrono::seconds(p.number); }},
    {.name = "queue.retry_max", .type = Type::Duration, .default_value = R"("1h")", .min = kSecond, .max = 7 * kDay,
     .resolution = kSecond, .live = true, .help = "Longest delay between retries (not less than queue.retry_initial).",
     .store = [](Config& c, const Parsed& p) { c.queue.retry_max = std::chrono::seconds(p.number); }},
    {.name = "queue.max_age", .type = Type::Duration, .default_value = R"("5d")", .min = kMinute, .max = 60 * kDay,
     .resolution = kSecond, .live = true, .help = "Age at which an undelivered message is dead-lettered.",
     .store = [](Config& c, const Parsed& p) { c.queue.max_age = std::chrono::seconds(p.number); }},
    {.name = "queue.send_at_horizon", .type = Type::Duration, .default_value = R"("72h")", .min = kMinute,
     .max = 365 * kDay, .resolution = kSecond, .live = true,
     .help = "How far ahead a scheduled send (the send API's send_at, a submission's X-Mxgate-Send-At) may ask; later is refused (422, 550 5.6.0).",
     .store = [](Config& c, const Parsed& p) { c.queue.send_at_horizon = std::chrono::seconds(p.number); }},
    {.name = "queue.retry_jitter_percent", .type = Type::Integer, .default_value = "20", .min = 0, .max = 50,
     .live = true, .help = "Random spread, plus or minus this percentage, applied to every retry delay.",
     .store = [](Config& c, const Parsed& p) { c.queue.retry_jitter_percent = u32(p); }},
    {.name = "queue.max_active", .type = Type::Integer, .default_value = "2000", .min = 1, .max = 1000000,
     .live = true, .help = "Messages being delivered at the same time.",
     .store = [](Config& c, const Parsed& p) { c.queue.max_active = u32(p); }},
    {.name = "queue.hot_cache_bytes", .type = Type::Size, .default_value = R"("32MiB")", .min = 0, .max = 64 * kGiB,
     .live = true, .help = "Message bodies kept in memory after the commit so delivery need not read the spool.",
     .store = [](Config& c, const Parsed& p) { c.queue.hot_cache_bytes = p.number; }},
    {.name = "queue.max_delivery_memory", .type = Type::Size, .default_value = R"("256MiB")", .min = kMiB,
     .max = 64 * kGiB, .live = true,
     .help = "Message bodies held by deliveries under way; more wait their turn (one always runs).",
     .store = [](Config& c, const Parsed& p) { c.queue.max_delivery_memory = p.number; }},
    {.name = "queue.read_threads", .type = Type::Integer, .default_value = "2", .min = 1, .max = 64,
     .help = "Threads reading message bodies from the spool for delivery.",
     .store = [](Config& c, const Parsed& p) { c.queue.read_threads = u32(p); }},
    {.name = "queue.file_threads", .type = Type::Integer, .default_value = "2", .min = 1, .max = 64,
     .help = "Threads writing messages for tenants with file delivery.",
     .store = [](Config& c, const Parsed& p) { c.queue.file_threads = u32(p); }},
    {.name = "queue.lane_queue_limit", .type = Type::Integer, .default_value = "100000", .min = 100, .max = 10000000,
     .live = true, .help = "Jobs waiting in each worker lane; past it new jobs are refused and retried later.",
     .store = [](Config& c, const Parsed& p) { c.queue.lane_queue_limit = u32(p); }},
    {.name = "queue.quarantine_purge_interval", .type = Type::Duration, .default_value = R"("1m")", .min = kSecond,
     .max = kDay, .resolution = kSecond,
     .live = true, .help = "How often quarantine entries past their retention (and not on legal hold) are purged.",
     .store = [](Config& c, const Parsed& p) { c.queue.quarantine_purge_interval = std::chrono::seconds(p.number); }},
    {.name = "queue.dead_letter_retention", .type = Type::Duration, .default_value = R"("30d")", .min = kSecond,
     .max = 3650 * kDay, .resolution = kSecond, .live = true,
     .help = "How long a dead-lettered message is kept (listed, replayable) before it is purged.",
     .store = [](Config& c, const Parsed& p) { c.queue.dead_letter_retention = std::chrono::seconds(p.number); }},
    {.name = "queue.audit_retention", .type = Type::Duration, .default_value = R"("400d")", .min = kSecond,
     .max = 3650 * kDay, .resolution = kSecond, .live = true,
     .help = "How long audit records are kept; those of messages on legal hold stay until it is lifted.",
     .store = [](Config& c, const Parsed& p) { c.queue.audit_retention = std::chrono::seconds(p.number); }},
    {.name = "queue.purge_interval", .type = Type::Duration, .default_value = R"("10m")", .min = kSecond,
     .max = kDay, .resolution = kSecond, .live = true,
     .help = "How often dead letters and audit records past their retention are purged.",
     .store = [](Config& c, const Parsed& p) { c.queue.purge_interval = std::chrono::seconds(p.number); }},

    {.name = "smtp_client.connect_timeout", .type = Type::Duration, .default_value = R"("30s")", .min = kSecond,
     .max = 10 * kMinute, .resolution = kMillisecond, .live = true, .help = "Time allowed to connect to a next hop.",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.connect_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp_client.command_timeout", .type = Type::Duration, .default_value = R"("5m")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond, .live = true,
     .help = "Time allowed for a reply to a command (RFC 5321 §4.5.3.2).",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.command_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp_client.data_timeout", .type = Type::Duration, .default_value = R"("10m")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond,
     .live = true, .help = "Time allowed for the reply after the final dot (RFC 5321 §4.5.3.2.6).",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.data_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp_client.idle_timeout", .type = Type::Duration, .default_value = R"("10s")", .min = 0, .max = kHour,
     .resolution = kMillisecond, .live = true,
     .help = "An unused connection kept for reuse is closed after this; 0s = never reuse.",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.idle_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "smtp_client.max_messages_per_connection", .type = Type::Integer, .default_value = "1000", .min = 1,
     .max = 1000000, .live = true, .help = "Messages sent over one connection before it is closed.",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.max_messages_per_connection = u32(p); }},
    {.name = "smtp_client.verify_cache_entries", .type = Type::Integer, .default_value = "100000", .min = 1,
     .max = 100000000,
     .help = "Recipient verification answers kept for all tenants; the least recently used go first.",
     .store = [](Config& c, const Parsed& p) { c.smtp_client.verify_cache_entries = p.number; }},

    {.name = "admin.address", .type = Type::String, .default_value = R"("127.0.0.1")", .check = checkAddress,
     .help = "Numeric IP address of the admin HTTP listener (API, /metrics, /healthz).",
     .store = [](Config& c, const Parsed& p) { c.admin.address = p.text; }},
    {.name = "admin.port", .type = Type::Integer, .default_value = "8025", .min = 0, .max = 65535,
     .help = "TCP port of the admin HTTP listener; 0 lets the kernel choose.",
     .store = [](Config& c, const Parsed& p) { c.admin.port = u16(p); }},
    {.name = "admin.token_file", .type = Type::String, .default_value = R"("")",
     .help = "File holding the admin API bearer token; \"\" = <spool>/admin.token, created on first run.",
     .store = [](Config& c, const Parsed& p) { c.admin.token_file = p.text; }},
    {.name = "admin.header_timeout", .type = Type::Duration, .default_value = R"("30s")", .min = kSecond,
     .max = 10 * kMinute, .resolution = kMillisecond,
     .help = "Time allowed for a request head to arrive; a body may not stall for longer than idle_timeout.",
     .store = [](Config& c, const Parsed& p) { c.admin.header_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "admin.idle_timeout", .type = Type::Duration, .default_value = R"("60s")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond,
     .help = "A keep-alive connection with no request for this long is closed.",
     .store = [](Config& c, const Parsed& p) { c.admin.idle_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "admin.max_connections", .type = Type::Integer, .default_value = "256", .min = 1, .max = 100000,
     .help = "Connections served at once; one more is answered 503 and closed.",
     .store = [](Config& c, const Parsed& p) { c.admin.max_connections = u32(p); }},

    {.name = "api.address", .type = Type::String, .default_value = R"("127.0.0.1")", .check = checkOptionalAddress,
     .help = "Numeric IP address of the HTTP send API listener; \"\" = no API. Off loopback only with allow_remote.",
     .store = [](Config& c, const Parsed& p) { c.api.address = p.text; }},
    {.name = "api.port", .type = Type::Integer, .default_value = "8027", .min = 0, .max = 65535,
     .help = "TCP port of the HTTP send API; 0 lets the kernel choose.",
     .store = [](Config& c, const Parsed& p) { c.api.port = u16(p); }},
    {.name = "api.allow_remote", .type = Type::Bool, .default_value = "false",
     .help = "Allow api.address to be a non-loopback address (the API then faces the network: set api.tls).",
     .store = [](Config& c, const Parsed& p) { c.api.allow_remote = p.flag; }},
    {.name = "api.tls", .type = Type::Bool, .default_value = "false",
     .help = "Serve the API over TLS from the first byte with the listeners' certificate (tls.cert), reloaded on SIGHUP.",
     .store = [](Config& c, const Parsed& p) { c.api.tls = p.flag; }},
    {.name = "api.max_request_size", .type = Type::Size, .default_value = R"("32MiB")", .min = kKiB, .max = 512 * kMiB,
     .help = "Largest request body (JSON or raw message); larger requests get 413.",
     .store = [](Config& c, const Parsed& p) { c.api.max_request_size = p.number; }},
    {.name = "api.max_recipients", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 100000,
     .live = true, .help = "Recipients (to, cc and bcc together) of one API message; more get 422.",
     .store = [](Config& c, const Parsed& p) { c.api.max_recipients = u32(p); }},
    {.name = "api.idempotency_window", .type = Type::Duration, .default_value = R"("24h")", .min = kMinute,
     .max = 7 * kDay, .resolution = kSecond, .live = true,
     .help = "How long an Idempotency-Key is remembered: a repeat within it returns the first queue id.",
     .store = [](Config& c, const Parsed& p) { c.api.idempotency_window = std::chrono::seconds(p.number); }},
    {.name = "api.header_timeout", .type = Type::Duration, .default_value = R"("10s")", .min = kSecond,
     .max = 10 * kMinute, .resolution = kMillisecond,
     .help = "Time allowed for a request head to arrive; a body may not stall for longer than idle_timeout.",
     .store = [](Config& c, const Parsed& p) { c.api.header_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "api.idle_timeout", .type = Type::Duration, .default_value = R"("30s")", .min = kSecond,
     .max = kHour, .resolution = kMillisecond,
     .help = "A keep-alive connection with no request for this long is closed.",
     .store = [](Config& c, const Parsed& p) { c.api.idle_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "api.max_connections", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 100000,
     .help = "Connections served at once; one more is answered 503 and closed.",
     .store = [](Config& c, const Parsed& p) { c.api.max_connections = u32(p); }},
    {.name = "api.build_threads", .type = Type::Integer, .default_value = "2", .min = 1, .max = 64,
     .help = "Threads of the api lane, which parses requests and builds their MIME off the loop.",
     .store = [](Config& c, const Parsed& p) { c.api.build_threads = u32(p); }},
    {.name = "api.build_queue_limit", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 1000000,
     .live = true, .help = "Requests waiting for the api lane; more get 503.",
     .store = [](Config& c, const Parsed& p) { c.api.build_queue_limit = u32(p); }},

    {.name = "dns.servers", .type = Type::StringArray, .default_value = "[]", .max = 16, .check = checkDnsServer,
     .help = "Resolvers to ask (address or address:port); [] = the ones in /etc/resolv.conf.",
     .store = [](Config& c, const Parsed& p) { c.dns.servers = p.list; }},
    {.name = "dns.timeout", .type = Type::Duration, .default_value = R"("2s")", .min = 100 * kMillisecond,
     .max = kMinute, .resolution = kMillisecond, .help = "Time to wait for one DNS reply before trying again.",
     .store = [](Config& c, const Parsed& p) { c.dns.timeout = std::chrono::milliseconds(p.number); }},
    {.name = "dns.tries", .type = Type::Integer, .default_value = "3", .min = 1, .max = 10,
     .help = "Attempts per DNS query before it counts as a temporary failure.",
     .store = [](Config& c, const Parsed& p) { c.dns.tries = u32(p); }},
    {.name = "dns.cache_entries", .type = Type::Integer, .default_value = "100000", .min = 0, .max = 100000000,
     .help = "DNS answers kept in the cache (positive, negative and recent failures).",
     .store = [](Config& c, const Parsed& p) { c.dns.cache_entries = p.number; }},
    {.name = "dns.max_ttl", .type = Type::Duration, .default_value = R"("1d")", .min = kSecond, .max = 7 * kDay,
     .resolution = kSecond, .help = "Longest time an answer stays cached, whatever its TTL.",
     .store = [](Config& c, const Parsed& p) { c.dns.max_ttl = std::chrono::seconds(p.number); }},
    {.name = "dns.negative_ttl", .type = Type::Duration, .default_value = R"("5m")", .min = kSecond, .max = kDay,
     .resolution = kSecond, .help = "Longest time a \"no such name\" or \"no such record\" answer stays cached.",
     .store = [](Config& c, const Parsed& p) { c.dns.negative_ttl = std::chrono::seconds(p.number); }},

    {.name = "auth.authserv_id", .type = Type::String, .default_value = R"("")", .max = 253, .check = checkHostname,
     .live = true, .help = "authserv-id of our Authentication-Results headers; \"\" = node.hostname.",
     .store = [](Config& c, const Parsed& p) { c.auth.authserv_id = p.text; }},
    {.name = "auth.remove_authres_ids", .type = Type::StringArray, .default_value = "[]", .max = 1000,
     .check = values::checkDomain,
     .live = true, .help = "Other authserv-ids of our cluster: arriving Authentication-Results naming them are removed.",
     .store = [](Config& c, const Parsed& p) { c.auth.remove_authres_ids = p.list; }},
    {.name = "auth.public_suffix_list", .type = Type::String,
     .default_value = R"("/usr/share/publicsuffix/public_suffix_list.dat")", .min = 1,
     .help = "Public suffix list for DMARC organizational domains (Debian package publicsuffix).",
     .store = [](Config& c, const Parsed& p) { c.auth.public_suffix_list = p.text; }},
    {.name = "auth.dkim_min_rsa_bits", .type = Type::Integer, .default_value = "1024", .min = 1024, .max = 8192,
     .help = "Smallest RSA key a DKIM signature may use (RFC 8301 §3.2).",
     .store = [](Config& c, const Parsed& p) { c.auth.dkim_min_rsa_bits = u32(p); }},
    {.name = "auth.max_dkim_signatures", .type = Type::Integer, .default_value = "5", .min = 1, .max = 50,
     .help = "DKIM signatures verified per message; further ones are ignored.",
     .store = [](Config& c, const Parsed& p) { c.auth.max_dkim_signatures = u32(p); }},
    {.name = "auth.threads", .type = Type::Integer, .default_value = "2", .min = 1, .max = 64,
     .help = "Threads finishing DKIM verification (key lookups may wait on DNS).",
     .store = [](Config& c, const Parsed& p) { c.auth.threads = u32(p); }},
    {.name = "auth.queue_limit", .type = Type::Integer, .default_value = "10000", .min = 100, .max = 10000000,
     .live = true, .help = "Verifications waiting for a thread; past it new mail gets 451 4.3.0.",
     .store = [](Config& c, const Parsed& p) { c.auth.queue_limit = u32(p); }},

    {.name = "submission.credential_key_file", .type = Type::String, .default_value = R"("")",
     .help = "Node secret key for credential hashes (HMAC-SHA256); \"\" = <spool>/credential.key, created on first run.",
     .store = [](Config& c, const Parsed& p) { c.submission.credential_key_file = p.text; }},
    {.name = "submission.auth_threads", .type = Type::Integer, .default_value = "1", .min = 1, .max = 16,
     .help = "Threads looking credentials up in the spool for AUTH and the HTTP API.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_threads = u32(p); }},
    {.name = "submission.auth_queue_limit", .type = Type::Integer, .default_value = "10000", .min = 100,
     .max = 1000000, .live = true,
     .help = "Credential checks waiting for a thread; past it AUTH gets 454 4.7.0.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_queue_limit = u32(p); }},
    {.name = "submission.auth_max_failures", .type = Type::Integer, .default_value = "5", .min = 1, .max = 1000,
     .live = true,
     .help = "Failed authentications within auth_failure_window that lock a client address or a user name.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_max_failures = u32(p); }},
    {.name = "submission.auth_failure_window", .type = Type::Duration, .default_value = R"("15m")", .min = kSecond,
     .max = kDay, .resolution = kSecond, .live = true,
     .help = "Failures are counted over this long from the first one.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_failure_window = std::chrono::seconds(p.number); }},
    {.name = "submission.auth_lockout", .type = Type::Duration, .default_value = R"("15m")", .min = kSecond,
     .max = 7 * kDay, .resolution = kSecond, .live = true,
     .help = "How long a locked client address or user name gets 454 4.7.0 to every AUTH.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_lockout = std::chrono::seconds(p.number); }},
    {.name = "submission.auth_failure_delay", .type = Type::Duration, .default_value = R"("1s")", .min = 0,
     .max = kMinute, .resolution = kMillisecond, .live = true,
     .help = "The n-th failure in a window is answered after n times this delay.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_failure_delay = std::chrono::milliseconds(p.number); }},
    {.name = "submission.auth_max_delay", .type = Type::Duration, .default_value = R"("10s")", .min = 0,
     .max = 5 * kMinute, .resolution = kMillisecond, .live = true,
     .help = "Longest delay before a failure is answered.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_max_delay = std::chrono::milliseconds(p.number); }},
    {.name = "submission.auth_tracked_keys", .type = Type::Integer, .default_value = "100000", .min = 100,
     .max = 10000000,
     .help = "Client addresses and user names with recent failures remembered; past it the oldest are forgotten.",
     .store = [](Config& c, const Parsed& p) { c.submission.auth_tracked_keys = p.number; }},

    {.name = "scan.signatures", .type = Type::String, .default_value = R"("")",
     .help = "ClamAV signature directory or file (e.g. /var/lib/clamav); \"\" = no virus scanning.",
     .store = [](Config& c, const Parsed& p) { c.scan.signatures = p.text; }},
    {.name = "scan.temp_dir", .type = Type::String, .default_value = R"("")",
     .help = "Directory for ClamAV's temporary files (on a tmpfs such as /dev/shm scans cost half); \"\" = /tmp.",
     .store = [](Config& c, const Parsed& p) { c.scan.temp_dir = p.text; }},
    {.name = "scan.max_scan_size", .type = Type::Size, .default_value = R"("100MiB")", .min = kMiB, .max = 4 * kGiB,
     .help = "Bytes scanned per message; beyond it the scan counts as over a limit.",
     .store = [](Config& c, const Parsed& p) { c.scan.max_scan_size = p.number; }},
    {.name = "scan.max_file_size", .type = Type::Size, .default_value = R"("50MiB")", .min = kKiB, .max = 4 * kGiB,
     .help = "Largest single file (attachment, archive member) scanned.",
     .store = [](Config& c, const Parsed& p) { c.scan.max_file_size = p.number; }},
    {.name = "scan.max_recursion", .type = Type::Integer, .default_value = "17", .min = 1, .max = 100,
     .help = "Nesting depth of archives and MIME parts scanned.",
     .store = [](Config& c, const Parsed& p) { c.scan.max_recursion = u32(p); }},
    {.name = "scan.max_files", .type = Type::Integer, .default_value = "10000", .min = 1, .max = 1000000,
     .help = "Files inside one message scanned.",
     .store = [](Config& c, const Parsed& p) { c.scan.max_files = u32(p); }},
    {.name = "scan.max_scan_time", .type = Type::Duration, .default_value = R"("30s")", .min = kMillisecond,
     .max = 10 * kMinute, .resolution = kMillisecond, .help = "Time one scan may take.",
     .store = [](Config& c, const Parsed& p) { c.scan.max_scan_time = std::chrono::milliseconds(p.number); }},
    {.name = "scan.threads", .type = Type::Integer, .default_value = "1", .min = 1, .max = 64,
     .help = "Threads scanning messages.",
     .store = [](Config& c, const Parsed& p) { c.scan.threads = u32(p); }},
    {.name = "scan.queue_limit", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 1000000,
     .help = "Scans waiting for a thread; past it scans are retried later (or 451 before the 250).",
     .store = [](Config& c, const Parsed& p) { c.scan.queue_limit = u32(p); }},
    {.name = "scan.failure", .type = Type::Enum, .default_value = R"("closed")", .choices = kScanFailureNames,
     .live = true, .help = "A scan that errs or hits a limit: closed = treat as infected, open = deliver with a tag.",
     .store = [](Config& c, const Parsed& p) { c.scan.failure = kScanFailures[p.choice]; }},

    {.name = "webhook.threads", .type = Type::Integer, .default_value = "2", .min = 1, .max = 64,
     .help = "Threads building webhook payloads (MIME parsing, link rewriting, JSON).",
     .store = [](Config& c, const Parsed& p) { c.webhook.threads = u32(p); }},
    {.name = "webhook.queue_limit", .type = Type::Integer, .default_value = "10000", .min = 1, .max = 10000000,
     .live = true, .help = "Payloads waiting for a thread; past it deliveries are retried later.",
     .store = [](Config& c, const Parsed& p) { c.webhook.queue_limit = u32(p); }},

    {.name = "links.host", .type = Type::String, .default_value = R"("")", .max = 259, .check = checkLinkHost,
     .live = true, .help = "host[:port] of rewritten links (https://<host>/l/...); \"\" = link rewriting unavailable.",
     .store = [](Config& c, const Parsed& p) { c.links.host = p.text; }},
    {.name = "links.keys_file", .type = Type::String, .default_value = R"("")",
     .help = "Link signing keys, one \"<key id> <base64 secret>\" per line, newest first; \"\" = <spool>/link.keys.",
     .store = [](Config& c, const Parsed& p) { c.links.keys_file = p.text; }},
    {.name = "links.address", .type = Type::String, .default_value = R"("127.0.0.1")", .check = checkOptionalAddress,
     .help = "Address of the click, open and unsubscribe endpoint (/l/, /o/, /u/, /healthz); \"\" = no endpoint.",
     .store = [](Config& c, const Parsed& p) { c.links.address = p.text; }},
    {.name = "links.port", .type = Type::Integer, .default_value = "8026", .min = 0, .max = 65535,
     .help = "TCP port of the click, open and unsubscribe endpoint (0 = any free port).",
     .store = [](Config& c, const Parsed& p) { c.links.port = u16(p); }},
    {.name = "links.header_timeout", .type = Type::Duration, .default_value = R"("10s")", .min = kSecond,
     .max = 5 * kMinute, .resolution = kMillisecond,
     .help = "Time allowed for a request head to arrive (from the connection, or from its first byte).",
     .store = [](Config& c, const Parsed& p) { c.links.header_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "links.idle_timeout", .type = Type::Duration, .default_value = R"("15s")", .min = kSecond,
     .max = 10 * kMinute, .resolution = kMillisecond,
     .help = "A keep-alive connection with no request for this long is closed.",
     .store = [](Config& c, const Parsed& p) { c.links.idle_timeout = std::chrono::milliseconds(p.number); }},
    {.name = "links.max_connections", .type = Type::Integer, .default_value = "1000", .min = 1, .max = 1000000,
     .help = "Connections served at once; one more is answered 503 and closed.",
     .store = [](Config& c, const Parsed& p) { c.links.max_connections = u32(p); }},
    {.name = "links.trusted_proxies", .type = Type::StringArray, .default_value = "[]", .max = 1000,
     .check = checkNetwork,
     .live = true, .help = "Networks (CIDR) of reverse proxies whose X-Forwarded-For is honoured; [] = none.",
     .store = [](Config& c, const Parsed& p) { c.links.trusted_proxies = p.list; }},

    {.name = "mx.port", .type = Type::Integer, .default_value = "25", .min = 1, .max = 65535, .live = true,
     .help = "TCP port of the mail exchangers mxgate delivers to (25; tests use receivers on other ports).",
     .store = [](Config& c, const Parsed& p) { c.mx.port = u16(p); }},
    {.name = "mx.max_connections", .type = Type::Integer, .default_value = "100", .min = 1, .max = 10000,
     .live = true, .help = "Tenants' outbound deliveries to mail exchangers under way at once, across all destinations.",
     .store = [](Config& c, const Parsed& p) { c.mx.max_connections = u32(p); }},
    {.name = "mx.max_addresses", .type = Type::Integer, .default_value = "5", .min = 1, .max = 100, .live = true,
     .help = "Addresses of a domain's mail exchangers tried in one delivery attempt, in MX preference order.",
     .store = [](Config& c, const Parsed& p) { c.mx.max_addresses = u32(p); }},
    {.name = "mx.connections_per_host", .type = Type::Integer, .default_value = "10", .min = 1, .max = 10000,
     .live = true, .help = "Simultaneous connections to one mail exchanger address.",
     .store = [](Config& c, const Parsed& p) { c.mx.connections_per_host = u32(p); }},
    {.name = "mx.address_families", .type = Type::Enum, .default_value = R"("any")", .choices = kAddressFamilyNames,
     .live = true, .help = "Addresses of mail exchangers that are used: any, ipv4 (A only) or ipv6 (AAAA only).",
     .store =
         [](Config& c, const Parsed& p) {
           c.mx.ipv4 = kAddressFamilyNames[p.choice] != "ipv6";
           c.mx.ipv6 = kAddressFamilyNames[p.choice] != "ipv4";
         }},
    {.name = "mx.address_preference", .type = Type::Enum, .default_value = R"("ipv6")", .choices = kIpVersionNames,
     .live = true, .help = "Which addresses of one mail exchanger are tried first.",
     .store = [](Config& c, const Parsed& p) { c.mx.prefer_ipv6 = kIpVersionNames[p.choice] == "ipv6"; }},
    {.name = "mx.mta_sts", .type = Type::Bool, .default_value = "true", .live = true,
     .help = "Apply the MTA-STS policies (RFC 8461) that recipient domains publish.",
     .store = [](Config& c, const Parsed& p) { c.mx.mta_sts = p.flag; }},
    {.name = "mx.mta_sts_port", .type = Type::Integer, .default_value = "443", .min = 1, .max = 65535, .live = true,
     .help = "HTTPS port of the MTA-STS policy hosts (443 per RFC 8461; tests use others).",
     .store = [](Config& c, const Parsed& p) { c.mx.mta_sts_port = u16(p); }},
    {.name = "mx.mta_sts_ca_file", .type = Type::String, .default_value = R"("")", .live = true,
     .help = "PEM trust anchors for MTA-STS policy hosts and enforced exchangers; \"\" = the system store.",
     .store = [](Config& c, const Parsed& p) { c.mx.mta_sts_ca_file = p.text; }},
    {.name = "mx.destinations_file", .type = Type::String, .default_value = R"("")", .live = true,
     .help = "Per destination domain requirements of MX delivery (format: conf/destinations.toml); \"\" = none.",
     .store = [](Config& c, const Parsed& p) { c.destinations_file = p.text; }},
    {.name = "mx.shaping_file", .type = Type::String, .default_value = R"("")", .live = true,
     .help = "Connection and message limits per destination, and back-off rules, in the format of conf/shaping.toml; \"\" = the built-in copy of that file.",
     .store = [](Config& c, const Parsed& p) { c.shaping_file = p.text; }},

    {.name = "bounces.enabled", .type = Type::Bool, .default_value = "true", .live = true,
     .help = "Send delivery status notifications to senders (false: failures are only logged and counted).",
     .store = [](Config& c, const Parsed& p) { c.bounces_enabled = p.flag; }},
    {.name = "bounces.host", .type = Type::String, .default_value = R"("")", .check = checkOptionalHost, .live = true,
     .help = "SMTP relay taking delivery status notifications to senders; \"\" = each sender domain's mail exchangers.",
     .store =
         [](Config& c, const Parsed& p) {
           c.bounces.kind = DeliveryKind::Smtp;
           c.bounces.host = p.text;
         }},
    {.name = "bounces.port", .type = Type::Integer, .default_value = "25", .min = 1, .max = 65535, .live = true,
     .help = "TCP port of the bounce relay.", .store = [](Config& c, const Parsed& p) { c.bounces.port = u16(p); }},
    {.name = "bounces.tls", .type = Type::Enum, .default_value = R"("may")", .choices = kClientTlsNames, .live = true,
     .help = "TLS security level towards the bounce relay: none, may, encrypt or verify (system CA store, its host name).",
     .store = [](Config& c, const Parsed& p) { c.bounces.tls = kClientTls[p.choice]; }},
    {.name = "bounces.max_connections", .type = Type::Integer, .default_value = "2", .min = 1, .max = 1000,
     .live = true, .help = "Reports delivered at once: connections to the bounce relay, or to mail exchangers in all.",
     .store = [](Config& c, const Parsed& p) { c.bounces.max_connections = u32(p); }},
    {.name = "bounces.rules_file", .type = Type::String, .default_value = R"("")", .live = true,
     .help = "Bounce classification rules in the format of conf/bounce_rules.toml; \"\" = the built-in copy of that file.",
     .store = [](Config& c, const Parsed& p) { c.bounce_rules_file = p.text; }},
};

const Key<Listener> kListenerKeys[] = {
    {.name = "listener.name", .type = Type::String, .check = values::checkIdentifier,
     .help = "Unique name of the listener in logs and metrics (a-z, 0-9, '_', '-').",
     .store = [](Listener& l, const Parsed& p) { l.name = p.text; }},
    {.name = "listener.role", .type = Type::Enum, .default_value = R"("inbound")", .choices = kRoleNames,
     .help = "inbound = MX for tenant domains, submission = authenticated relay for tenant applications.",
     .store = [](Listener& l, const Parsed& p) { l.role = kRoles[p.choice]; }},
    {.name = "listener.address", .type = Type::String, .default_value = R"("127.0.0.1")", .check = checkAddress,
     .help = "Numeric IPv4 or IPv6 address to listen on (0.0.0.0 or :: for all).",
     .store = [](Listener& l, const Parsed& p) { l.address = p.text; }},
    {.name = "listener.port", .type = Type::Integer, .min = 0, .max = 65535,
     .help = "TCP port; 0 lets the kernel choose.",
     .store = [](Listener& l, const Parsed& p) { l.port = u16(p); }},
    {.name = "listener.tls", .type = Type::Enum, .default_value = R"("starttls")", .choices = kListenerTlsNames,
     .help = "none, starttls (offered after EHLO) or implicit (TLS from the first byte, port 465).",
     .store = [](Listener& l, const Parsed& p) { l.tls = kListenerTls[p.choice]; }},
    {.name = "listener.scan_before_accept", .type = Type::Bool, .default_value = "false",
     .help = "Scan for viruses before the 250 and reject infected mail in the session (needs scan.signatures).",
     .store = [](Listener& l, const Parsed& p) { l.scan_before_accept = p.flag; }},
    {.name = "listener.auth_checks", .type = Type::Bool, .default_value = "true",
     .help = "Check SPF, DKIM and DMARC and apply the tenants' inbound policies (off only for trusted relays).",
     .store = [](Listener& l, const Parsed& p) { l.auth_checks = p.flag; }},
    {.name = "listener.auth_plaintext", .type = Type::Bool, .default_value = "false",
     .help = "Submission: offer AUTH without TLS (only on a loopback address, for local applications).",
     .store = [](Listener& l, const Parsed& p) { l.auth_plaintext = p.flag; }},
};

const Key<Tenant> kPolicyKeys[] = {
    {.name = "tenant", .type = Type::String, .check = values::checkIdentifier,
     .help = "Tenant id: 1 to 64 characters of a-z, 0-9, '_' and '-'; unique across policy files.",
     .store = [](Tenant& t, const Parsed& p) { t.id = p.text; }},
    {.name = "domains", .type = Type::StringArray, .min = 1, .max = 100000, .check = values::checkDomain,
     .help = "Domains this tenant receives mail for and sends from (ASCII, A-labels for IDNs).",
     .store =
         [](Tenant& t, const Parsed& p) {
           t.domains.clear();
           for (const std::string& domain : p.list) {
             t.domains.push_back(ascii::toLowerCopy(domain));
           }
         }},
    {.name = "delivery.target", .type = Type::Enum, .choices = kTargetNames,
     .help = "Where accepted mail goes: file (a directory), smtp (a fixed next hop) or webhook (signed JSON POSTs).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.kind = kTargets[p.choice]; }},
    {.name = "delivery.path", .type = Type::String, .min = 1, .only_for = "file",
     .help = "Directory receiving one <queue id>.eml file per message.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.path = p.text; }},
    {.name = "delivery.host", .type = Type::String, .check = values::checkHost, .only_for = "smtp",
     .help = "Next hop: an IP address or a host name.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.host = p.text; }},
    {.name = "delivery.port", .type = Type::Integer, .default_value = "25", .min = 1, .max = 65535,
     .only_for = "smtp", .help = "TCP port of the next hop.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.port = u16(p); }},
    {.name = "delivery.max_connections", .type = Type::Integer, .default_value = "10", .min = 1, .max = 10000,
     .only_for = "smtp,webhook", .help = "Simultaneous connections (smtp) or requests under way (webhook).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.max_connections = u32(p); }},
    {.name = "delivery.tls", .type = Type::Enum, .default_value = R"("may")", .choices = kClientTlsNames,
     .check = explainOldClientTls, .only_for = "smtp",
     .help = "TLS security level: none, may (STARTTLS when offered, unverified; plaintext if the handshake "
             "fails), encrypt (TLS required, unverified) or verify (TLS required, certificate and name checked).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.tls = kClientTls[p.choice]; }},
    {.name = "delivery.tls_ca_file", .type = Type::String, .default_value = R"("")", .only_for = "smtp",
     .help = "With tls = \"verify\": PEM file of the CA certificates to trust; \"\" = the system CA store.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.tls_ca_file = p.text; }},
    {.name = "delivery.tls_verify_name", .type = Type::String, .default_value = R"("")", .check = checkHostname,
     .only_for = "smtp",
     .help = "Name the next hop's certificate must carry (also sent as SNI); \"\" = delivery.host.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.tls_verify_name = p.text; }},
    {.name = "delivery.url", .type = Type::String, .max = 2048, .check = values::checkHttpUrl, .echo = Echo::Url,
     .only_for = "webhook",
     .help = "The endpoint receiving the signed JSON POSTs (http:// or https://).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.url = p.text; }},
    {.name = "delivery.secrets", .type = Type::StringArray, .min = 1, .max = 8, .check = values::checkWebhookSecret,
     .echo = Echo::Never, .only_for = "webhook",
     .help = "Signing secrets (\"whsec_\" + base64), newest first; each signs every request.",
     .store =
         [](Tenant& t, const Parsed& p) {
           t.delivery.secret_keys.clear();
           for (const std::string& secret : p.list) {
             t.delivery.secret_keys.push_back(decodeWebhookSecret(secret).value_or(""));
           }
         }},
    {.name = "delivery.allow_private", .type = Type::Bool, .default_value = "false", .only_for = "webhook",
     .help = "Allow posting to loopback, private and other non-public addresses.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.allow_private = p.flag; }},
    {.name = "delivery.timeout", .type = Type::Duration, .default_value = R"("30s")", .min = 100 * kMillisecond,
     .max = 10 * kMinute, .resolution = kMillisecond, .only_for = "webhook", .help = "Time one POST may take.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.timeout = std::chrono::milliseconds(p.number); }},
    {.name = "delivery.max_payload", .type = Type::Size, .default_value = R"("25MiB")", .min = 64 * kKiB,
     .max = kGiB, .only_for = "webhook",
     .help = "Largest JSON body; a larger payload goes without inline attachments, then is dead-lettered.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.max_payload = p.number; }},
    {.name = "delivery.inline_attachments_max", .type = Type::Size, .default_value = R"("1MiB")", .max = kGiB,
     .only_for = "webhook", .help = "Attachment bytes inlined as base64 per payload; beyond it only metadata.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.inline_attachments_max = p.number; }},
    {.name = "delivery.retry_initial", .type = Type::Duration, .default_value = R"("5s")", .min = kSecond,
     .max = kDay, .resolution = kSecond, .only_for = "webhook", .help = "Delay before the first retry of a failed POST.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.retry_initial = std::chrono::seconds(p.number); }},
    {.name = "delivery.retry_max", .type = Type::Duration, .default_value = R"("2h")", .min = kSecond,
     .max = 7 * kDay, .resolution = kSecond, .only_for = "webhook", .help = "Longest delay between retries.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.retry_max = std::chrono::seconds(p.number); }},
    {.name = "delivery.max_age", .type = Type::Duration, .default_value = R"("3d")", .min = kSecond,
     .max = 365 * kDay, .resolution = kSecond, .only_for = "webhook",
     .help = "How long a message is retried before it is dead-lettered (kept; `mxgate webhooks replay`).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.max_age = std::chrono::seconds(p.number); }},
    {.name = "delivery.recipients", .type = Type::Enum, .default_value = R"("any")", .choices = kRecipientCheckNames,
     .help = "Recipients accepted at RCPT: any (every local part), list (recipients_list and recipients_file) "
             "or verify (smtp: probe the next hop with RCPT, cache the answer).",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.recipients = kRecipientChecks[p.choice]; }},
    {.name = "delivery.recipients_list", .type = Type::StringArray, .default_value = "[]", .max = 100000,
     .check = values::checkMailbox, .help = "Valid recipient addresses (with recipients = \"list\").",
     .store =
         [](Tenant& t, const Parsed& p) {
           auto listed = std::make_shared<std::unordered_set<std::string>>();
           for (const std::string& address : p.list) {
             listed->insert(ascii::toLowerCopy(address));
           }
           t.delivery.valid_recipients = std::move(listed);
         }},
    {.name = "delivery.recipients_file", .type = Type::String, .default_value = R"("")",
     .help = "A file of valid recipient addresses, one per line, # comments (with recipients = \"list\"); "
             "read at start and on reload.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.recipients_file = p.text; }},
    {.name = "delivery.verify_ttl", .type = Type::Duration, .default_value = R"("7d")", .min = kMinute,
     .max = 90 * kDay, .resolution = kSecond, .only_for = "smtp",
     .help = "How long an address the next hop accepted stays known without a new probe.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.verify_ttl = std::chrono::seconds(p.number); }},
    {.name = "delivery.verify_negative_ttl", .type = Type::Duration, .default_value = R"("3h")", .min = kSecond,
     .max = 30 * kDay, .resolution = kSecond, .only_for = "smtp",
     .help = "How long an address the next hop refused (5xx) stays refused without a new probe.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.verify_negative_ttl = std::chrono::seconds(p.number); }},
    {.name = "delivery.verify_tempfail_ttl", .type = Type::Duration, .default_value = R"("1m")", .min = kSecond,
     .max = kHour, .resolution = kSecond, .only_for = "smtp",
     .help = "How long a probe that failed temporarily (4xx, no connection) is not repeated.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.verify_tempfail_ttl = std::chrono::seconds(p.number); }},
    {.name = "delivery.verify_wait", .type = Type::Duration, .default_value = R"("10s")", .min = 100 * kMillisecond,
     .max = 5 * kMinute, .resolution = kMillisecond, .only_for = "smtp",
     .help = "How long RCPT waits for a probe; then 450 4.1.1 and the probe's answer is cached for the retry.",
     .store = [](Tenant& t, const Parsed& p) { t.delivery.verify_wait = std::chrono::milliseconds(p.number); }},
    {.name = "inbound.spf_fail", .type = Type::Enum, .default_value = R"("tag")", .choices = kActionNames,
     .help = "SPF fail (RFC 7208 §8.4).",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.spf_fail = kActions[p.choice]; }},
    {.name = "inbound.spf_softfail", .type = Type::Enum, .default_value = R"("accept")", .choices = kActionNames,
     .help = "SPF softfail (RFC 7208 §8.5).",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.spf_softfail = kActions[p.choice]; }},
    {.name = "inbound.dkim_fail", .type = Type::Enum, .default_value = R"("accept")", .choices = kActionNames,
     .help = "Every DKIM signature failed (no signature at all is not a failure).",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.dkim_fail = kActions[p.choice]; }},
    {.name = "inbound.dmarc_reject", .type = Type::Enum, .default_value = R"("reject")", .choices = kActionNames,
     .help = "DMARC fails and the From domain publishes p=reject.",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.dmarc_reject = kActions[p.choice]; }},
    {.name = "inbound.dmarc_quarantine", .type = Type::Enum, .default_value = R"("quarantine")",
     .choices = kActionNames, .help = "DMARC fails and the From domain publishes p=quarantine.",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.dmarc_quarantine = kActions[p.choice]; }},
    {.name = "inbound.dmarc_none", .type = Type::Enum, .default_value = R"("accept")", .choices = kActionNames,
     .help = "DMARC fails and the From domain publishes p=none.",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.dmarc_none = kActions[p.choice]; }},
    {.name = "inbound.virus", .type = Type::Enum, .default_value = R"("quarantine")", .choices = kActionNames,
     .help = "A virus was found (reject and quarantine: refused on a scan_before_accept listener, "
             "quarantined after the 250).",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.virus = kActions[p.choice]; }},
    {.name = "inbound.quarantine_retention", .type = Type::Duration, .default_value = R"("30d")", .min = kSecond,
     .max = 3650 * kDay, .resolution = kSecond, .help = "How long quarantined mail is kept before it is purged.",
     .store = [](Tenant& t, const Parsed& p) { t.inbound.quarantine_retention = std::chrono::seconds(p.number); }},
    {.name = "links.mode", .type = Type::Enum, .default_value = R"("off")", .choices = kLinkModeNames,
     .help = "off, safe_links (links rewritten, clicks recorded) or on (also an open pixel in HTML).",
     .store = [](Tenant& t, const Parsed& p) { t.links.mode = kLinkModes[p.choice]; }},
    {.name = "links.allow_hosts", .type = Type::StringArray, .default_value = "[]", .max = 10000,
     .check = values::checkDomain, .help = "Hosts (and their subdomains) whose links are never rewritten.",
     .store =
         [](Tenant& t, const Parsed& p) {
           t.links.allow_hosts.clear();
           for (const std::string& host : p.list) {
             t.links.allow_hosts.push_back(ascii::toLowerCopy(host));
           }
         }},
    {.name = "links.rewrite_text", .type = Type::Bool, .default_value = "true",
     .help = "Rewrite links in text/plain parts too, not only in HTML.",
     .store = [](Tenant& t, const Parsed& p) { t.links.rewrite_text = p.flag; }},
    {.name = "tracking.clicks", .type = Type::Bool, .default_value = "false",
     .help = "Outbound mail (submission, send API): rewrite http/https links into signed click-tracking links "
             "(links.host), before DKIM signing.",
     .store = [](Tenant& t, const Parsed& p) { t.tracking.clicks = p.flag; }},
    {.name = "tracking.opens", .type = Type::Bool, .default_value = "false",
     .help = "Outbound mail: add an open pixel (a signed 1x1 image) at the end of the HTML part.",
     .store = [](Tenant& t, const Parsed& p) { t.tracking.opens = p.flag; }},
    {.name = "tracking.list_unsubscribe", .type = Type::Bool, .default_value = "false",
     .help = "Outbound mail to one recipient: add RFC 8058 one-click List-Unsubscribe and List-Unsubscribe-Post "
             "(signed https://<links.host>/u/ URL; a POST puts the recipient on the suppression list).",
     .store = [](Tenant& t, const Parsed& p) { t.tracking.list_unsubscribe = p.flag; }},
    {.name = "events.url", .type = Type::String, .default_value = R"("")", .max = 2048, .check = checkOptionalHttpUrl,
     .echo = Echo::Url,
     .help = "Endpoint receiving this tenant's delivery and engagement events; \"\" = no events.",
     .store = [](Tenant& t, const Parsed& p) { t.events.url = p.text; }},
    {.name = "events.secrets", .type = Type::StringArray, .default_value = "[]", .max = 8,
     .check = values::checkWebhookSecret, .echo = Echo::Never,
     .help = "Signing secrets for events, newest first (required with a url).",
     .store =
         [](Tenant& t, const Parsed& p) {
           t.events.secret_keys.clear();
           for (const std::string& secret : p.list) {
             t.events.secret_keys.push_back(decodeWebhookSecret(secret).value_or(""));
           }
         }},
    {.name = "events.allow_private", .type = Type::Bool, .default_value = "false",
     .help = "Allow posting events to loopback, private and other non-public addresses.",
     .store = [](Tenant& t, const Parsed& p) { t.events.allow_private = p.flag; }},
    {.name = "events.batch_max", .type = Type::Integer, .default_value = "1", .min = 1, .max = 1000,
     .help = "Events per POST: 1 = one JSON object, more = a JSON array of up to this many.",
     .store = [](Tenant& t, const Parsed& p) { t.events.batch_max = u32(p); }},
    {.name = "events.timeout", .type = Type::Duration, .default_value = R"("30s")", .min = 100 * kMillisecond,
     .max = 10 * kMinute, .resolution = kMillisecond, .help = "Time one POST of events may take.",
     .store = [](Tenant& t, const Parsed& p) { t.events.timeout = std::chrono::milliseconds(p.number); }},
    {.name = "events.max_age", .type = Type::Duration, .default_value = R"("3d")", .min = kSecond,
     .max = 365 * kDay, .resolution = kSecond,
     .help = "How long an event is retried; then it is kept as dead (`mxgate webhooks replay`).",
     .store = [](Tenant& t, const Parsed& p) { t.events.max_age = std::chrono::seconds(p.number); }},
    {.name = "events.dead_retention", .type = Type::Duration, .default_value = R"("30d")", .min = kSecond,
     .max = 3650 * kDay, .resolution = kSecond,
     .help = "How long a dead event is kept (listed, replayable) before it is purged.",
     .store = [](Tenant& t, const Parsed& p) { t.events.dead_retention = std::chrono::seconds(p.number); }},
    {.name = "outbound.target", .type = Type::Enum, .default_value = R"("mx")", .choices = kOutboundTargetNames,
     .help = "Where the tenant's authenticated mail (submission, send API) goes: mx (each recipient domain's mail exchangers).",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.target = kOutboundTargets[p.choice]; }},
    {.name = "outbound.dsn", .type = Type::Bool, .default_value = "true",
     .help = "Send an RFC 3464 delivery status notification (headers only) to the envelope sender of SMTP-submitted mail that fails.",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.dsn = p.flag; }},
    {.name = "outbound.api_dsn", .type = Type::Bool, .default_value = "false",
     .help = "The same for mail from the HTTP send API (by default its failures are events only).",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.api_dsn = p.flag; }},
    {.name = "outbound.tls", .type = Type::Enum, .default_value = R"("may")", .choices = kMxTlsNames,
     .help = "TLS security level towards recipients' mail exchangers: none, may (STARTTLS when offered, "
             "unverified), encrypt (TLS required), verify (TLS required, certificate chained and naming the "
             "exchanger) or dane (RFC 7672: exchangers with DNSSEC-validated TLSA records are authenticated by "
             "them, others get may). A destination in mx.destinations_file may require more; a failure defers (4.7.x).",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.tls = kMxTls[p.choice]; }},
    {.name = "outbound.tls_ca_file", .type = Type::String, .default_value = R"("")",
     .help = "With outbound.tls = \"verify\": PEM file of the CA certificates to trust; \"\" = the system CA store.",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.tls_ca_file = p.text; }},
    {.name = "outbound.message_rate", .type = Type::String, .default_value = R"("")", .max = 64,
     .check = values::checkRate,
     .help = "Most messages this tenant may send (SMTP submission and the send API together), as \"<count>/<period>\" "
             "(\"100/s\", \"1,000/h\", \"5/10m\"; up to count at once, then evenly); over it SMTP gets 451 4.7.0 "
             "and the API 429 with Retry-After. \"\" = no limit.",
     .store = [](Tenant& t, const Parsed& p) { values::parseRate(p.text, t.outbound.message_rate.count, t.outbound.message_rate.period_s); }},
    {.name = "outbound.daily_cap", .type = Type::Integer, .default_value = "0", .max = 1000000000,
     .help = "Most messages this tenant may send in any 24 hours (a rolling window); over it 451 4.7.0 / 429. 0 = no cap.",
     .store = [](Tenant& t, const Parsed& p) { t.outbound.daily_cap = p.number; }},
    {.name = "thread.ticket_pattern", .type = Type::String, .default_value = R"('\[TICKET-\d{6}-\d{4}\]')",
     .max = 1024, .check = values::checkRegex,
     .help = "Regular expression (PCRE) finding the ticket tag in subjects; group 1, if any, is the id.",
     .store = [](Tenant& t, const Parsed& p) { t.thread.ticket_pattern = p.text; }},
};

const Key<DkimKey> kDkimKeyKeys[] = {
    {.name = "dkim.keys.domain", .type = Type::String, .check = values::checkDomain,
     .help = "The signing domain (d=): one of the tenant's domains; mail whose From is in it is signed.",
     .store = [](DkimKey& k, const Parsed& p) { k.domain = ascii::toLowerCopy(p.text); }},
    {.name = "dkim.keys.selector", .type = Type::String, .check = values::checkDkimSelector,
     .help = "The selector (s=): the public key is the TXT record <selector>._domainkey.<domain>.",
     .store = [](DkimKey& k, const Parsed& p) { k.selector = p.text; }},
    {.name = "dkim.keys.algorithm", .type = Type::Enum, .default_value = R"("rsa-sha256")",
     .choices = kDkimAlgorithmNames, .help = "rsa-sha256 (RSA, 1024 to 4096 bits) or ed25519-sha256 (RFC 8463).",
     .store = [](DkimKey& k, const Parsed& p) { k.algorithm = kDkimAlgorithms[p.choice]; }},
    {.name = "dkim.keys.key_file", .type = Type::String,
     .help = "PEM private key (`mxgate dkim keygen`); read at load and reload; no access for group or others.",
     .store = [](DkimKey& k, const Parsed& p) { k.key_file = p.text; }},
    {.name = "dkim.keys.active", .type = Type::Bool, .default_value = "true",
     .help = "Whether this key signs; by default the first key of a domain and algorithm signs, a second "
             "(rotation) does not.",
     .store = [](DkimKey& k, const Parsed& p) { k.active = p.flag; }},
};

const Listener kDefaultListeners[] = {
    {.name = "inbound", .role = ListenerRole::Inbound, .address = "127.0.0.1", .port = 2525,
     .tls = ListenerTls::StartTls},
    {.name = "submission", .role = ListenerRole::Submission, .address = "127.0.0.1", .port = 2587,
     .tls = ListenerTls::StartTls},
};

}  // namespace

std::span<const Key<Config>> nodeKeys() { return kNodeKeys; }
std::span<const Key<Listener>> listenerKeys() { return kListenerKeys; }
std::span<const Key<Tenant>> policyKeys() { return kPolicyKeys; }
std::span<const Key<DkimKey>> dkimKeyKeys() { return kDkimKeyKeys; }
std::span<const Listener> defaultListeners() { return kDefaultListeners; }

std::string formatBound(Type type, uint64_t value) {
  switch (type) {
    case Type::Duration: return values::formatDuration(value);
    case Type::Size: return values::formatSize(value);
    default: return std::to_string(value);
  }
}

}  // namespace mxgate::config::schema
