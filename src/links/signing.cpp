// Signed link tokens: <key id>/<payload>/<mac> where payload is the base64url (RFC 4648 §5,
// no padding) of "<queue id>\n<tenant>\n<index>\n<url>", for an outbound message's links
// followed by a NUL byte and the context as compact JSON (RFC 8259) [[tag, ...], [[key, value],
// ...]], and mac the base64url of the first 16 bytes of
// HMAC-SHA256 (RFC 2104, FIPS 180-4) over "<kind>/<key id>/<payload>". Verification compares
// in constant time. Pure; any thread (signing on the payload lane, verifying on the HTTP loop).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "link_policy.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"
#include "mxgate/links/rewriter.h"

namespace mxgate::links {
namespace {

constexpr size_t kMacBytes = 16;
constexpr size_t kMaxKeyIdBytes = 16;

using Mac = std::array<unsigned char, kMacBytes>;

// The truncated HMAC-SHA256 over "<kind>/<key id>/<payload>"; nullopt when OpenSSL fails.
std::optional<Mac> macOf(char kind, const Key& key, std::string_view payload) {
  std::string input;
  input.reserve(payload.size() + key.id.size() + 3);
  input += kind;
  input += '/';
  input += key.id;
  input += '/';
  input += payload;
  std::array<unsigned char, EVP_MAX_MD_SIZE> full{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), full.data(), &length) == nullptr ||
      length < kMacBytes) {
    return std::nullopt;
  }
  Mac mac{};
  std::copy_n(full.begin(), kMacBytes, mac.begin());
  return mac;
}

std::string_view view(const Mac& mac) { return {reinterpret_cast<const char*>(mac.data()), mac.size()}; }

// base64url without padding: '=' is refused even where the codec would accept it, so every
// token has exactly one spelling.
std::optional<std::string> decodeSegment(std::string_view text) {
  if (text.find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  return base64::decode(text, base64::Alphabet::Url);
}

using json = nlohmann::json;

std::string contextJson(const Context& context) {
  json metadata = json::array();
  for (const auto& [key, value] : context.metadata) {
    metadata.push_back(json::array({key, value}));
  }
  return json::array({context.tags, std::move(metadata)}).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool isStringPair(const json& entry) {
  return entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string();
}

// The context after the NUL byte: exactly [[strings], [[string, string], ...]].
bool parseContext(std::string_view text, Context& context) {
  if (text.size() > kMaxContextBytes) {
    return false;
  }
  const json document = json::parse(text, nullptr, false);
  if (!document.is_array() || document.size() != 2 || !document[0].is_array() || !document[1].is_array()) {
    return false;
  }
  const json& tags = document[0];
  const json& metadata = document[1];
  if (!std::all_of(tags.begin(), tags.end(), [](const json& tag) { return tag.is_string(); }) ||
      !std::all_of(metadata.begin(), metadata.end(), isStringPair)) {
    return false;
  }
  context.outbound = true;
  for (const json& tag : tags) {
    context.tags.push_back(tag.get<std::string>());
  }
  for (const json& entry : metadata) {
    context.metadata.emplace_back(entry[0].get<std::string>(), entry[1].get<std::string>());
  }
  return true;
}

// "<queue id>\n<tenant>\n<index>\n<url>[\0<context>]" into target.
bool parsePayload(std::string_view payload, LinkTarget& target) {
  const size_t queue_end = payload.find('\n');
  if (queue_end == std::string_view::npos) {
    return false;
  }
  const size_t first = payload.find('\n', queue_end + 1);
  if (first == std::string_view::npos) {
    return false;
  }
  const size_t second = payload.find('\n', first + 1);
  if (second == std::string_view::npos) {
    return false;
  }
  const std::string_view index = payload.substr(first + 1, second - first - 1);
  std::string_view url = payload.substr(second + 1);
  if (const size_t nul = url.find('\0'); nul != std::string_view::npos) {
    if (!parseContext(url.substr(nul + 1), target.context)) {
      return false;
    }
    url = url.substr(0, nul);
  }
  if (index.empty() || !std::all_of(index.begin(), index.end(), [](char c) { return ascii::isDigit(c); }) ||
      url.size() > detail::kMaxUrlBytes) {
    return false;
  }
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(index.data(), index.data() + index.size(), value);
  if (error != std::errc() || end != index.data() + index.size()) {
    return false;
  }
  target.queue_id = std::string(payload.substr(0, queue_end));
  target.tenant = std::string(payload.substr(queue_end + 1, first - queue_end - 1));
  target.index = value;
  target.url = std::string(url);
  return true;
}

}  // namespace

namespace detail {

std::string sign(char kind, std::string_view host, const Key& key, std::string_view queue_id, std::string_view tenant,
                 uint32_t index, std::string_view url, const Context& context) {
  std::array<char, 10> digits{};
  const auto [digits_end, error] = std::to_chars(digits.data(), digits.data() + digits.size(), index);
  std::string payload;
  payload.reserve(queue_id.size() + tenant.size() + url.size() + 13);
  payload += queue_id;
  payload += '\n';
  payload += tenant;
  payload += '\n';
  payload.append(digits.data(), digits_end);
  payload += '\n';
  payload += url;
  if (context.outbound) {
    std::string carried = contextJson(context);
    payload += '\0';
    payload += carried.size() <= kMaxContextBytes ? carried : contextJson(Context{true, {}, {}});
  }
  const std::string encoded = base64::encode(payload, base64::Alphabet::Url);
  // A failed HMAC leaves an all-zero tag, which verifyLink never accepts (it fails the same way).
  const Mac mac = macOf(kind, key, encoded).value_or(Mac{});
  std::string link;
  link.reserve(host.size() + key.id.size() + encoded.size() + 40);
  link += "https://";
  link += host;
  link += '/';
  link += kind;
  link += '/';
  link += key.id;
  link += '/';
  link += encoded;
  link += '/';
  link += base64::encode(view(mac), base64::Alphabet::Url);
  return link;
}

}  // namespace detail

bool contextFits(const Context& context) { return contextJson(context).size() <= kMaxContextBytes; }

bool validKeyId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxKeyIdBytes && std::all_of(id.begin(), id.end(), [](char c) {
           return ascii::isAlpha(static_cast<unsigned char>(c)) || ascii::isDigit(static_cast<unsigned char>(c)) ||
                  c == '_' || c == '-';
         });
}

const Key* KeyRing::find(std::string_view id) const {
  const auto it = std::find_if(keys.begin(), keys.end(), [id](const Key& key) { return key.id == id; });
  return it == keys.end() ? nullptr : &*it;
}

std::string signLink(char kind, std::string_view host, const Key& key, const LinkTarget& target) {
  return detail::sign(kind, host, key, target.queue_id, target.tenant, target.index, target.url, target.context);
}

Verified verifyLink(char kind, std::string_view path, const KeyRing& keys) {
  Verified verified;
  const size_t first = path.find('/');
  if (first == std::string_view::npos) {
    return verified;
  }
  const size_t second = path.find('/', first + 1);
  if (second == std::string_view::npos || path.find('/', second + 1) != std::string_view::npos) {
    return verified;
  }
  const std::string_view key_id = path.substr(0, first);
  const std::string_view payload = path.substr(first + 1, second - first - 1);
  const std::string_view mac_text = path.substr(second + 1);
  if (!validKeyId(key_id) || payload.empty() || mac_text.empty()) {
    return verified;
  }
  const auto decoded = decodeSegment(payload);
  const auto mac = decodeSegment(mac_text);
  if (!decoded || !mac || !parsePayload(*decoded, verified.target)) {
    verified.target = {};
    return verified;
  }
  const Key* key = keys.find(key_id);
  if (key == nullptr) {
    verified.status = VerifyStatus::UnknownKey;
    return verified;
  }
  const auto expected = macOf(kind, *key, payload);
  const bool match = expected && mac->size() == kMacBytes && CRYPTO_memcmp(expected->data(), mac->data(), kMacBytes) == 0;
  verified.status = match ? VerifyStatus::Ok : VerifyStatus::BadMac;
  return verified;
}

}  // namespace mxgate::links
