// DKIM signatures by our own code (see dkim_signing_handle.h): RFC 6376 §3.4.2 relaxed header
// and §3.4.4 relaxed body canonicalization, §3.7 hash computation, then rsa-sha256 (§3.3.1) or
// RFC 8463 §3 Ed25519 over the SHA-256 of the header hash input (PureEdDSA), on OpenSSL's EVP
// interface with keys decoded once per configured key. A lane thread.
#include "dkim_signing_handle.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>
#include <map>
#include <mutex>
#include <vector>

#include "header_fields.h"
#include "mxgate/auth/dkim_signer.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/base64.h"

namespace mxgate::auth {
namespace {

constexpr size_t kFoldWidth = 72;  // characters of h= and b= per line of the field we write

bool isWsp(char c) { return c == ' ' || c == '\t'; }

// Runs of WSP become one SP; with trim, WSP at both ends goes (RFC 6376 §3.4.2, §3.4.4).
std::string compressWsp(std::string_view text, bool trim_front) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (isWsp(c)) {
      space = true;
      continue;
    }
    if (space && (!out.empty() || !trim_front)) {
      out.push_back(' ');
    }
    space = false;
    out.push_back(c);
  }
  return out;
}

// RFC 6376 §3.4.2: lower-case name, unfolded value (CRLF pairs removed) with WSP runs as one
// SP, no WSP around the colon or at the end; without the CRLF.
std::string relaxedField(std::string_view name, std::string_view unfolded_value) {
  std::string value;
  value.reserve(unfolded_value.size());
  for (size_t i = 0; i < unfolded_value.size(); ++i) {
    if (unfolded_value.substr(i, 2) == "\r\n") {
      ++i;  // a line break; a lone CR or LF is field content
    } else {
      value.push_back(unfolded_value[i]);
    }
  }
  return ascii::toLowerCopy(name) + ":" + compressWsp(value, true);
}

// The fields of a header section (each with its CRLF), in order; the empty line is not one.
std::vector<std::string_view> splitFields(std::string_view section) {
  std::vector<std::string_view> fields;
  uint8_t state = kHeaderScanStart;
  size_t start = std::string_view::npos;
  for (size_t i = 0; i < section.size(); ++i) {
    const HeaderByte kind = scanHeaderByte(state, section[i]);
    if (kind == HeaderByte::FieldStart) {
      if (start != std::string_view::npos) {
        fields.push_back(section.substr(start, i - start));
      }
      start = i;
    } else if (kind == HeaderByte::SectionEnd) {
      return fields;  // the "field" under way was the empty line's CR
    }
  }
  if (start != std::string_view::npos) {
    fields.push_back(section.substr(start));
  }
  return fields;
}

bool listed(std::span<const char* const> names, std::string_view name) {
  for (const char* candidate : names) {
    if (ascii::equalsIgnoreCase(candidate, name)) {
      return true;
    }
  }
  return false;
}

// text cut into lines of kFoldWidth, continued with CRLF TAB SP (split is where a cut may go:
// after each ':' for h=, anywhere for b=).
std::string fold(std::string_view text, bool at_colons) {
  std::string out;
  size_t line = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t piece = at_colons ? std::min(text.find(':', i), text.size() - 1) + 1 - i : std::min(kFoldWidth, text.size() - i);
    if (line > 0 && line + piece > kFoldWidth) {
      out += "\r\n\t ";
      line = 0;
    }
    out.append(text.substr(i, piece));
    line += piece;
    i += piece;
  }
  return out;
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestContext newSha256() {
  DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (context && EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    context.reset();
  }
  return context;
}

using PrivateKey = std::shared_ptr<EVP_PKEY>;

// The decoded private key of a configured key's PEM (config::DkimKey::private_key), decoded on
// its first use and kept while that PEM is alive (until the configuration that loaded it is
// gone); nullptr when the PEM is not a key. Any thread; EVP_PKEY signing is thread-safe.
PrivateKey signingKey(const std::shared_ptr<const std::string>& pem) {
  static std::mutex mutex;
  static std::map<std::weak_ptr<const std::string>, PrivateKey, std::owner_less<>> decoded;
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto found = decoded.find(pem); found != decoded.end()) {
    return found->second;
  }
  std::erase_if(decoded, [](const auto& entry) { return entry.first.expired(); });
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  // An empty passphrase: an encrypted key fails (config::load refuses those) instead of prompting.
  PrivateKey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")) : nullptr,
                 EVP_PKEY_free);
  if (!key) {
    ERR_clear_error();
    return key;
  }
  decoded.emplace(pem, key);
  return key;
}

// The signature of a header hash input under key: RSASSA-PKCS1-v1_5 with SHA-256 over the input
// (rsa-sha256), or Ed25519 over its SHA-256 (RFC 8463 §3); "" when OpenSSL fails.
std::string sign(const config::DkimKey& key, EVP_PKEY* pkey, std::string_view input) {
  const bool ed25519 = key.algorithm == config::DkimAlgorithm::Ed25519Sha256;
  if (EVP_PKEY_get_base_id(pkey) != (ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA)) {
    return "";
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (ed25519) {
    if (EVP_Digest(input.data(), input.size(), digest, &digest_length, EVP_sha256(), nullptr) != 1) {
      return "";
    }
    input = std::string_view(reinterpret_cast<const char*>(digest), digest_length);
  }
  DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(static_cast<size_t>(EVP_PKEY_get_size(pkey)), '\0');
  size_t length = signature.size();
  if (!context || EVP_DigestSignInit(context.get(), nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return "";
  }
  signature.resize(length);
  return signature;
}

}  // namespace

class DkimSigningHandle::Impl {
 public:
  explicit Impl(config::DkimKey key) : key_(std::move(key)), body_hash_(newSha256()) {}

  void headers(std::string_view section) { fields_ = splitFields(section_ = std::string(section)); }
  void body(std::string_view bytes);
  std::string finish(std::string& error);

 private:
  void hashBody(std::string_view bytes) {
    if (body_hash_) {
      EVP_DigestUpdate(body_hash_.get(), bytes.data(), bytes.size());
    }
  }
  void endLine();

  config::DkimKey key_;
  std::string section_;
  std::vector<std::string_view> fields_;  // into section_
  DigestContext body_hash_;
  std::string line_;            // the body line under way, without its line end
  size_t empty_lines_ = 0;      // empty lines not yet hashed: dropped if nothing follows them
};

// RFC 6376 §3.4.4: WSP at line ends removed, WSP runs as one SP, empty lines at the end dropped.
void DkimSigningHandle::Impl::body(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n' && !line_.empty() && line_.back() == '\r') {
      line_.pop_back();
      endLine();
    } else {
      line_.push_back(c);
    }
  }
}

void DkimSigningHandle::Impl::endLine() {
  std::string canonical = compressWsp(line_, false);
  if (!canonical.empty() && canonical.back() == ' ') {
    canonical.pop_back();
  }
  line_.clear();
  if (canonical.empty()) {
    ++empty_lines_;
    return;
  }
  for (; empty_lines_ > 0; --empty_lines_) {
    hashBody("\r\n");
  }
  hashBody(canonical);
  hashBody("\r\n");
}

std::string DkimSigningHandle::Impl::finish(std::string& error) {
  if (!line_.empty()) {
    if (line_.back() == '\r') {
      line_.pop_back();
    }
    endLine();
  }
  unsigned char body_digest[EVP_MAX_MD_SIZE];
  unsigned int body_digest_length = 0;
  if (!body_hash_ || EVP_DigestFinal_ex(body_hash_.get(), body_digest, &body_digest_length) != 1) {
    error = "SHA-256 of the body failed";
    return "";
  }

  // h=: the signed fields present, in message order, then the over-signed names once more.
  std::string signed_names;
  for (std::string_view field : fields_) {
    const std::optional<std::string_view> name = fieldName(field);
    if (name && listed(dkimSignedHeaders(), *name)) {
      signed_names += (signed_names.empty() ? "" : ":") + std::string(*name);
    }
  }
  for (const char* name : dkimOversignedHeaders()) {
    signed_names += (signed_names.empty() ? "" : ":") + std::string(name);
  }

  const std::string value_before_b =
      " v=1; a=" + std::string(key_.algorithm == config::DkimAlgorithm::Ed25519Sha256 ? "ed25519-sha256" : "rsa-sha256") +
      "; c=relaxed/relaxed; d=" + key_.domain + ";\r\n\ts=" + key_.selector +
      "; t=" + std::to_string(std::time(nullptr)) + ";\r\n\tbh=" +
      base64::encode(std::string_view(reinterpret_cast<const char*>(body_digest), body_digest_length)) +
      ";\r\n\th=" + fold(signed_names, true) + ";\r\n\tb=";

  // RFC 6376 §5.4.2: each name of h= takes the last instance not taken yet, bottom up; a name
  // with no instance left contributes nothing. Then the signature field itself, b= empty.
  std::string hashed;
  std::vector<bool> used(fields_.size(), false);
  std::string_view names = signed_names;
  while (!names.empty()) {
    const size_t colon = names.find(':');
    const std::string_view name = names.substr(0, colon);
    names = colon == std::string_view::npos ? std::string_view() : names.substr(colon + 1);
    for (size_t i = fields_.size(); i-- > 0;) {
      const std::optional<std::string_view> field_name = fieldName(fields_[i]);
      if (!used[i] && field_name && ascii::equalsIgnoreCase(*field_name, name)) {
        used[i] = true;
        hashed += relaxedField(*field_name, unfoldedBody(fields_[i])) + "\r\n";
        break;
      }
    }
  }
  hashed += relaxedField("DKIM-Signature", value_before_b);

  const PrivateKey pkey = signingKey(key_.private_key);
  const std::string signature = pkey ? sign(key_, pkey.get(), hashed) : std::string();
  if (signature.empty()) {
    ERR_clear_error();  // the lane thread's OpenSSL error queue stays empty for the next user
    error = "signing with selector " + key_.selector + " failed (not a PEM key of its algorithm?)";
    return "";
  }
  return "DKIM-Signature:" + value_before_b +
         fold(base64::encode(signature), false) +
         "\r\n";
}

DkimSigningHandle::DkimSigningHandle(config::DkimKey key) : impl_(std::make_unique<Impl>(std::move(key))) {}

DkimSigningHandle::~DkimSigningHandle() = default;

void DkimSigningHandle::headers(std::string_view section) { impl_->headers(section); }

void DkimSigningHandle::body(std::string_view bytes) { impl_->body(bytes); }

std::string DkimSigningHandle::finish(std::string& error) { return impl_->finish(error); }

}  // namespace mxgate::auth
