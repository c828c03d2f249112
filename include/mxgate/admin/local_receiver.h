// The local webhook receiver on the admin listener: POST /receiver/<tenant> takes a webhook
// the way a tenant's CRM should (Standard Webhooks: the signature over id.timestamp.body
// checked against the tenant's delivery.secrets, a timestamp within 5 minutes, deduplication
// on webhook-id) and stores the body as <spool>/received/<tenant>/<webhook-id>.json. It is the
// embedded defaults' delivery target (policies/example.toml) and a reference for receivers.
// Answers: 200 stored (also for a duplicate), 401 bad or missing signature or stale
// timestamp, 404 no such webhook tenant, 400 malformed headers, 500 the file could not be written.
//
// handle() runs on the admin server's loop; files are written on the given lane.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mxgate/config/config.h"
#include "mxgate/http/server.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"

namespace mxgate::admin {

class LocalReceiver {
 public:
  using ConfigFn = std::function<std::shared_ptr<const config::Config>()>;
  LocalReceiver(ConfigFn config, std::string directory, io::Lane& lane, io::Loop& loop);
  void handle(const http::Request& request, http::Respond respond);

  static constexpr std::string_view kPrefix = "/receiver/";

 private:
  ConfigFn config_;
  std::string directory_;
  io::Lane& lane_;
  io::Loop& loop_;
};

// True when one of the space-separated "v1,<base64>" signatures in header is the HMAC-SHA256
// of "id.timestamp.body" under one of keys (constant-time comparisons).
bool signatureMatches(std::string_view header, std::string_view id, uint64_t timestamp, std::string_view body,
                      const std::vector<std::string>& keys);

}  // namespace mxgate::admin
