// The local webhook receiver (see include/mxgate/admin/local_receiver.h). handle() on the
// admin loop; the file write on the lane, its answer back on the loop.
#include "mxgate/admin/local_receiver.h"

#include <openssl/crypto.h>

#include <charconv>
#include <filesystem>
#include <fstream>

#include "mxgate/base/clock.h"
#include "mxgate/base/log.h"
#include "mxgate/webhook/signing.h"

namespace mxgate::admin {
namespace {

constexpr uint64_t kToleranceSeconds = 300;

http::Response text(int status, std::string body) {
  return http::Response{status, "text/plain; charset=utf-8", std::move(body) + "\n", {}};
}

// webhook-id values become file names: letters, digits, '_' and '-' only.
bool safeId(std::string_view id) {
  if (id.empty() || id.size() > 200) {
    return false;
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool signatureMatches(std::string_view header, std::string_view id, uint64_t timestamp, std::string_view body,
                      const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    const std::string expected = webhook::signatureHeader(id, timestamp, body, {key});
    std::string_view rest = header;
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      const std::string_view given = rest.substr(0, space);
      if (given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0) {
        return true;
      }
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
  }
  return false;
}

LocalReceiver::LocalReceiver(ConfigFn config, std::string directory, io::Lane& lane, io::Loop& loop)
    : config_(std::move(config)), directory_(std::move(directory)), lane_(lane), loop_(loop) {}

void LocalReceiver::handle(const http::Request& request, http::Respond respond) {
  if (request.method != "POST") {
    respond(text(405, "use POST"));
    return;
  }
  const std::string tenant_id = request.path.substr(kPrefix.size());
  const std::shared_ptr<const config::Config> config = config_();
  const config::Tenant* tenant = config->tenantById(tenant_id);
  if (tenant == nullptr || tenant->delivery.kind != config::DeliveryKind::Webhook) {
    respond(text(404, "no webhook tenant " + tenant_id));
    return;
  }
  const std::string id(request.header("webhook-id"));
  const std::string_view timestamp_text = request.header("webhook-timestamp");
  uint64_t timestamp = 0;
  const auto [end, error] =
      std::from_chars(timestamp_text.data(), timestamp_text.data() + timestamp_text.size(), timestamp);
  if (!safeId(id) || error != std::errc() || end != timestamp_text.data() + timestamp_text.size()) {
    respond(text(400, "webhook-id and webhook-timestamp required"));
    return;
  }
  const uint64_t now = nowMicros() / 1000000;
  if ((now > timestamp ? now - timestamp : timestamp - now) > kToleranceSeconds) {
    respond(text(401, "timestamp outside the 5 minute tolerance"));
    return;
  }
  if (!signatureMatches(request.header("webhook-signature"), id, timestamp, request.body,
                        tenant->delivery.secret_keys)) {
    log::warn("-", "receiver_bad_signature").kv("tenant", tenant_id).kv("id", id);
    respond(text(401, "signature does not verify"));
    return;
  }
  const std::string directory = directory_ + "/" + tenant_id;
  auto body = std::make_shared<std::string>(request.body);
  const bool queued = lane_.submit([this, directory, id, body, respond] {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    const std::string path = directory + "/" + id + ".json";
    const std::string temp = path + ".tmp";
    bool ok = false;
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << *body;
      ok = static_cast<bool>(out);
    }
    ok = ok && !ec && std::rename(temp.c_str(), path.c_str()) == 0;
    loop_.post([respond, ok, path] { respond(ok ? text(200, "stored " + path) : text(500, "cannot write " + path)); });
  });
  if (!queued) {
    respond(text(503, "busy"));
  }
}

}  // namespace mxgate::admin
