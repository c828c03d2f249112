// The click, open and one-click unsubscribe endpoint (see include/mxgate/admin/link_endpoint.h;
// RFC 8058 for /u/). Its own loop thread.
#include "mxgate/admin/link_endpoint.h"

#include <optional>

#include "mxgate/base/clock.h"
#include "mxgate/base/html.h"
#include "mxgate/base/log.h"
#include "mxgate/events/event.h"
#include "mxgate/http/form.h"
#include "mxgate/http/forwarded.h"

namespace mxgate::admin {
namespace {

// GIF89a, 1×1, one transparent pixel.
constexpr unsigned char kPixel[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00,
                                    0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
                                    0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

constexpr size_t kClick = 0;
constexpr size_t kOpen = 1;
constexpr size_t kUnsubscribe = 2;

size_t resultIndex(links::VerifyStatus status) {
  switch (status) {
    case links::VerifyStatus::Ok: return 0;
    case links::VerifyStatus::BadMac: return 1;
    case links::VerifyStatus::UnknownKey: return 2;
    case links::VerifyStatus::Malformed: break;
  }
  return 3;
}

// The target as a Location value: controls, space and non-ASCII bytes, which may not appear
// raw in a header field or a URI, are percent-encoded (RFC 3986 §2.1); the rest is kept as the
// browser would have read the href.
std::string locationOf(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(url.size());
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

http::Response noStore(http::Response response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

http::Response page(int status, std::string_view title, std::string_view body) {
  return noStore(http::Response{status, "text/html; charset=utf-8",
                                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + std::string(title) +
                                    "</title></head><body>\n" + std::string(body) + "</body></html>\n",
                                {}});
}

// RFC 8058 §3.1: the body is List-Unsubscribe=One-Click, form-urlencoded or as a
// multipart/form-data field.
bool oneClickBody(const http::Request& request) {
  return http::formField(request.header("content-type"), request.body, "List-Unsubscribe") == "One-Click";
}

}  // namespace

LinkEndpoint::LinkEndpoint(std::shared_ptr<const links::KeyRing> keys, LinkCounters& counters, spool::Store& store,
                           spool::SuppressionList& suppressions, io::Loop& loop, ConfigFn config)
    : keys_(std::move(keys)),
      counters_(counters),
      store_(store),
      suppressions_(suppressions),
      loop_(loop),
      config_(std::move(config)) {}

events::Fields LinkEndpoint::fieldsOf(const links::LinkTarget& target, const http::Request& request,
                                      const std::shared_ptr<const config::Config>& config) {
  events::Fields fields;
  fields.queue_id = target.queue_id;
  fields.outbound = target.context.outbound;
  fields.tags = target.context.tags;
  fields.metadata = target.context.metadata;
  fields.client_ip =
      http::clientAddress(request.peer, request.headerValues("x-forwarded-for"), trustedProxies(config));
  fields.user_agent = std::string(request.header("user-agent"));
  return fields;
}

void LinkEndpoint::record(char kind, const links::LinkTarget& target, const http::Request& request) {
  const char* type = kind == 'l' ? "message.clicked" : "message.opened";
  log::info(target.queue_id, kind == 'l' ? "clicked" : "opened").kv("tenant", target.tenant).kv("link", target.index);
  const std::shared_ptr<const config::Config> config = config_();
  if (!events::wanted(config.get(), target.tenant)) {
    return;
  }
  events::Fields fields = fieldsOf(target, request, config);
  fields.url = target.url;
  fields.link_index = target.index;
  const events::Event event = events::make(type, target.tenant, nowMicros(), fields);
  spool::Batch batch;
  batch.putEvent(event.key, event.record);
  store_.submit(std::move(batch), false, nullptr);
}

const std::vector<IpNetwork>& LinkEndpoint::trustedProxies(const std::shared_ptr<const config::Config>& config) {
  if (config != proxies_of_) {
    trusted_proxies_ = parseNetworks(config->links.trusted_proxies);
    proxies_of_ = config;
  }
  return trusted_proxies_;
}

void LinkEndpoint::handle(const http::Request& request, http::Respond respond) {
  const std::string& path = request.path;
  if (path == "/healthz") {
    respond(http::Response{200, "text/plain; charset=utf-8", "ok\n", {}});
    return;
  }
  if (path.starts_with("/u/")) {
    unsubscribe(request, std::move(respond));
    return;
  }
  const bool click = path.starts_with("/l/");
  if (!click && !path.starts_with("/o/")) {
    respond(http::Response{404, "text/plain; charset=utf-8", "not found\n", {}});
    return;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    respond(http::Response{405, "text/plain; charset=utf-8", "use GET\n", {}});
    return;
  }
  const char kind = click ? 'l' : 'o';
  const links::Verified verified = links::verifyLink(kind, std::string_view(path).substr(3), *keys_);
  counters_.requests[click ? kClick : kOpen][resultIndex(verified.status)].fetch_add(1, std::memory_order_relaxed);
  if (verified.status == links::VerifyStatus::Ok) {
    record(kind, verified.target, request);
  }
  if (!click) {
    respond(noStore(http::Response{200, "image/gif", std::string(reinterpret_cast<const char*>(kPixel), sizeof kPixel), {}}));
    return;
  }
  if (verified.status == links::VerifyStatus::Ok) {
    http::Response response{302, "text/plain; charset=utf-8", "", {}};
    response.headers.emplace_back("Location", locationOf(verified.target.url));
    respond(noStore(std::move(response)));
    return;
  }
  if (verified.status == links::VerifyStatus::Malformed) {
    respond(noStore(http::Response{404, "text/plain; charset=utf-8", "unknown link\n", {}}));
    return;
  }
  log::warn(verified.target.queue_id.empty() ? "-" : verified.target.queue_id, "link_not_verified")
      .kv("reason", verified.status == links::VerifyStatus::BadMac ? "bad_mac" : "unknown_key");
  respond(page(400, "Link not verified",
               "<h1>This link could not be verified</h1>\n<p>It may have been altered. It claims to lead to:</p>\n"
               "<p><code>" +
                   html::escaped(verified.target.url) +
                   "</code></p>\n<p>Copy the address into your browser only if you trust it.</p>\n"));
}

void LinkEndpoint::unsubscribe(const http::Request& request, http::Respond respond) {
  const bool post = request.method == "POST";
  if (!post && request.method != "GET" && request.method != "HEAD") {
    respond(http::Response{405, "text/plain; charset=utf-8", "use GET or POST\n", {}});
    return;
  }
  const links::Verified verified = links::verifyLink('u', std::string_view(request.path).substr(3), *keys_);
  counters_.requests[kUnsubscribe][resultIndex(verified.status)].fetch_add(1, std::memory_order_relaxed);
  if (verified.status == links::VerifyStatus::Malformed || verified.target.url.empty()) {
    respond(noStore(http::Response{404, "text/plain; charset=utf-8", "unknown link\n", {}}));
    return;
  }
  if (verified.status != links::VerifyStatus::Ok) {
    log::warn(verified.target.queue_id.empty() ? "-" : verified.target.queue_id, "unsubscribe_not_verified")
        .kv("reason", verified.status == links::VerifyStatus::BadMac ? "bad_mac" : "unknown_key");
    respond(page(400, "Link not verified",
                 "<h1>This unsubscribe link could not be verified</h1>\n<p>It may have been altered; nothing was "
                 "changed.</p>\n"));
    return;
  }
  const links::LinkTarget& target = verified.target;
  const std::string address = html::escaped(target.url);
  if (!post) {
    respond(page(200, "Unsubscribe",
                 "<h1>Unsubscribe</h1>\n<p>Stop mail to <code>" + address +
                     "</code>?</p>\n<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
                     "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>\n"));
    return;
  }
  if (!oneClickBody(request)) {
    respond(noStore(http::Response{400, "text/plain; charset=utf-8",
                                   "expected the body List-Unsubscribe=One-Click (RFC 8058)\n", {}}));
    return;
  }
  const std::shared_ptr<const config::Config> config = config_();
  std::optional<events::Fields> fields;
  if (events::wanted(config.get(), target.tenant)) {
    fields = fieldsOf(target, request, config);
    fields->recipients = {target.url};
  }
  auto with_event = [fields, tenant = target.tenant](uint64_t now_us, spool::Batch& batch) {
    if (fields) {
      const events::Event event = events::make("message.unsubscribed", tenant, now_us, *fields);
      batch.putEvent(event.key, event.record);
    }
  };
  auto answer = [respond, address, queue_id = target.queue_id,
                 tenant = target.tenant](spool::SuppressionList::Change change) {
    if (!change.ok) {
      log::error(queue_id, "unsubscribe_failed").kv("tenant", tenant).kv("error", change.error);
      respond(noStore(http::Response{503, "text/plain; charset=utf-8", "try again later\n", {}}));
      return;
    }
    log::info(queue_id, "unsubscribed").kv("tenant", tenant).kv("new", !change.changed.empty());
    respond(page(200, "Unsubscribed", "<h1>Unsubscribed</h1>\n<p>No more mail goes to <code>" + address +
                                          "</code>.</p>\n"));
  };
  suppressions_.unsubscribe(loop_, target.tenant, target.url, target.queue_id, std::move(with_event),
                            std::move(answer));
}

}  // namespace mxgate::admin
