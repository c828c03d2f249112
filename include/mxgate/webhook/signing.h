// Standard Webhooks signing (standardwebhooks.com spec 1.0): the headers webhook-id (the
// idempotency key, the same on every retry), webhook-timestamp (Unix seconds of the attempt)
// and webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per secret,
// space-separated, so receivers keep verifying while a tenant rotates its secret).
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::webhook {

// The webhook-signature header value for the given key bytes (config::decodeWebhookSecret
// decodes the "whsec_" secrets of a tenant policy).
std::string signatureHeader(std::string_view id, uint64_t timestamp, std::string_view body,
                            const std::vector<std::string>& keys);

// The idempotency key of a message's delivery to a tenant: "msg_<queue id>_<tenant>".
std::string messageWebhookId(std::string_view queue_id, std::string_view tenant);

}  // namespace mxgate::webhook
