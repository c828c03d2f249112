// Ed25519-SHA256 DKIM signatures (see dkim_ed25519.h): RFC 6376 §3.4.2 relaxed header and
// §3.4.4 relaxed body canonicalization, §3.7 hash computation, RFC 8463 §3 Ed25519 over the
// SHA-256 of the header hash input (PureEdDSA), on OpenSSL's EVP interface. A lane thread.
#include "dkim_ed25519.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>
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

}  // namespace

class Ed25519DkimSignature::Impl {
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
void Ed25519DkimSignature::Impl::body(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n' && !line_.empty() && line_.back() == '\r') {
      line_.pop_back();
      endLine();
    } else {
      line_.push_back(c);
    }
  }
}

void Ed25519DkimSignature::Impl::endLine() {
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

std::string Ed25519DkimSignature::Impl::finish(std::string& error) {
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
      " v=1; a=ed25519-sha256; c=relaxed/relaxed; d=" + key_.domain + ";\r\n\ts=" + key_.selector +
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

  unsigned char header_digest[EVP_MAX_MD_SIZE];
  unsigned int header_digest_length = 0;
  if (EVP_Digest(hashed.data(), hashed.size(), header_digest, &header_digest_length, EVP_sha256(), nullptr) != 1) {
    error = "SHA-256 of the header fields failed";
    return "";
  }
  const std::string& pem = *key_.private_key;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  // An empty passphrase: an encrypted key fails (config::load refuses those) instead of prompting.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")) : nullptr, EVP_PKEY_free);
  DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char signature[64];
  size_t signature_length = sizeof signature;
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519 || !context ||
      EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(context.get(), signature, &signature_length, header_digest, header_digest_length) != 1) {
    ERR_clear_error();  // the lane thread's OpenSSL error queue stays empty for the next user
    error = "Ed25519 signing with selector " + key_.selector + " failed (not an Ed25519 PEM key?)";
    return "";
  }
  return "DKIM-Signature:" + value_before_b +
         fold(base64::encode(std::string_view(reinterpret_cast<const char*>(signature), signature_length)), false) +
         "\r\n";
}

Ed25519DkimSignature::Ed25519DkimSignature(config::DkimKey key) : impl_(std::make_unique<Impl>(std::move(key))) {}

Ed25519DkimSignature::~Ed25519DkimSignature() = default;

void Ed25519DkimSignature::headers(std::string_view section) { impl_->headers(section); }

void Ed25519DkimSignature::body(std::string_view bytes) { impl_->body(bytes); }

std::string Ed25519DkimSignature::finish(std::string& error) { return impl_->finish(error); }

}  // namespace mxgate::auth
