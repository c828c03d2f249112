// Link rewriting for inbound safe links and click tracking (inbound [links], outbound
// [tracking]): http/https links in text/html parts (gumbo finds the attributes; the new values
// are spliced in by source offset so the rest of the markup stays byte-identical) and in
// text/plain parts become https://<link host>/l/<key id>/<payload>/<mac>, where payload is the
// base64url target, queue id, tenant and link index (and an outbound message's tags and
// metadata) and mac an HMAC-SHA256 over them (RFC 2104, RFC 4648 §5); keys rotate by key id.
// The same signed tokens serve the open pixel (/o/) and the RFC 8058 one-click unsubscribe URL
// (/u/, whose "url" is the recipient address). Skipped: other schemes, our own links, other
// rewriters' links (urldefense, safelinks, mimecast), List-Unsubscribe targets, allow-listed
// hosts and links marked no-track (data-mxgate-no-track, clicktracking="off"). MIME parts that
// hold no link stay byte-identical; a re-encoded part keeps its charset and transfer encoding
// (GMime 3).
//
// Pure functions; safe on any thread once mime::initialize() ran. They run on the webhook
// payload lane and the auth lane (rewriting) and on the HTTP endpoint's loop (verifying).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxgate::links {

enum class Mode {
  Off,        // nothing rewritten
  SafeLinks,  // links rewritten; clicks recorded without recipient identity
  Track,      // links rewritten and an open pixel (/o/...) appended to the HTML body
  OpenPixel,  // only the open pixel (outbound tracking with opens but not clicks)
};

struct Key {
  std::string id;      // 1..16 characters of [A-Za-z0-9_-]
  std::string secret;  // raw bytes, at least 32

  bool operator==(const Key&) const = default;
};

// A key id: 1..16 characters of [A-Za-z0-9_-] (it appears in every link).
bool validKeyId(std::string_view id);

// Signing keys: the first signs new links, all of them verify.
struct KeyRing {
  std::vector<Key> keys;
  const Key* find(std::string_view id) const;
};

// What the links of a tenant's outbound message carry besides their target: the sender's tags
// and metadata (HTTP send API), so that its click, open and unsubscribe events name them even
// after the message has left the spool. Inbound links carry none (outbound false).
struct Context {
  bool outbound = false;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> metadata;

  bool operator==(const Context&) const = default;
};

// The most bytes a context takes in a link (its JSON form); a larger one is not carried.
constexpr size_t kMaxContextBytes = 1024;
// True when the context's tags and metadata fit in kMaxContextBytes.
bool contextFits(const Context& context);

// What a signed link, open pixel or unsubscribe URL carries.
struct LinkTarget {
  std::string url;       // the original target (empty for an open pixel, the recipient for 'u')
  std::string queue_id;  // the message's queue id text
  uint32_t index = 0;    // link index within the message (0 for the pixel)
  std::string tenant;    // whose message it is: clicks and opens become that tenant's events
  Context context;

  bool operator==(const LinkTarget&) const = default;
};

// https://<host>/l/<key id>/<payload>/<mac> (kind 'l'), .../o/... (kind 'o', the open pixel) or
// .../u/... (kind 'u', one-click unsubscribe; target.url is the recipient address). A target
// url must not hold a NUL byte (the rewriter never rewrites such a link).
std::string signLink(char kind, std::string_view host, const Key& key, const LinkTarget& target);

enum class VerifyStatus { Ok, Malformed, UnknownKey, BadMac };
struct Verified {
  VerifyStatus status = VerifyStatus::Malformed;
  // Filled whenever the payload decodes (also for UnknownKey and BadMac, so the interstitial
  // page can show the decoded target without redirecting).
  LinkTarget target;
};
// Verifies the path after "/l/", "/o/" or "/u/": "<key id>/<payload>/<mac>".
Verified verifyLink(char kind, std::string_view path, const KeyRing& keys);

struct Settings {
  Mode mode = Mode::Off;
  std::string host;                      // link host, e.g. "links.example.test[:port]"
  std::string tenant;                    // carried in every link (LinkTarget::tenant)
  const Key* key = nullptr;              // signing key (required unless mode is Off)
  std::vector<std::string> allow_hosts;  // host names (and their subdomains) never rewritten
  bool rewrite_text = true;              // text/plain parts too, not only HTML
  uint32_t max_links = 1000;             // links rewritten per message at most
  Context context;                       // carried in every link (an outbound message's tags, metadata)
};

struct Result {
  std::string message;    // the rewritten message; empty when unchanged
  uint32_t rewritten = 0;  // links rewritten
  bool changed = false;
};

// Rewrites the links of a whole message (CRLF line ends in and out).
Result rewriteMessage(std::string_view message, std::string_view queue_id, const Settings& settings);

// The building blocks, exposed for tests and fuzzing. next_index is the index the next
// rewritten link gets; it is advanced for every link rewritten.
std::string rewriteHtml(std::string_view html, std::string_view queue_id, const Settings& settings,
                        const std::vector<std::string>& skip_urls, uint32_t& next_index);
std::string rewriteText(std::string_view text, std::string_view queue_id, const Settings& settings,
                        const std::vector<std::string>& skip_urls, uint32_t& next_index);

// The URLs of a List-Unsubscribe field value (RFC 2369 §2: <url>, <url>).
std::vector<std::string> listUnsubscribeUrls(std::string_view value);

}  // namespace mxgate::links
