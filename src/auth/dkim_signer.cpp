// DKIM signing (see include/mxgate/auth/dkim_signer.h). The header section is held until it
// ends, because the signing domain (the From domain) and so the keys are known only then; then
// each key's signature gets the section and the body chunks. RSA signatures are made by
// libopendkim, whose dkim_chunk() splits fields and lines itself; one DKIM_LIB for all signers,
// since the signed and over-signed header lists are per library (outbound.md §6) and the same
// for every tenant. Ed25519 signatures are made by dkim_ed25519.cpp: libopendkim leaks the
// private key of each Ed25519 signature it makes. Runs on a lane thread.
#include "mxgate/auth/dkim_signer.h"

#include <mutex>

#include "dkim_ed25519.h"
#include "header_fields.h"
#include "mxgate/auth/dmarc.h"
#include "opendkim.h"

namespace mxgate::auth {
namespace {

// RFC 6376 §5.4.1, plus Message-ID, MIME-Version, Content-Type and List-Unsubscribe-Post (RFC
// 8058 §4: both one-click fields must be covered by a valid signature). Null-terminated for
// libopendkim.
constexpr const char* kSignedHeaders[] = {
    "From",         "Reply-To",    "Subject",         "Date",         "To",           "Cc",
    "Resent-Date",  "Resent-From", "Resent-To",       "Resent-Cc",    "In-Reply-To",  "References",
    "List-Id",      "List-Help",   "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner",
    "List-Archive", "Message-ID",  "MIME-Version",    "Content-Type", "List-Unsubscribe-Post", nullptr};
// What a recipient sees and acts on: an added instance of these must break the signature.
constexpr const char* kOversignedHeaders[] = {"From",       "To",
                                              "Cc",         "Subject",
                                              "Date",       "Reply-To",
                                              "Message-ID", "List-Unsubscribe",
                                              "List-Unsubscribe-Post", nullptr};
constexpr std::string_view kFieldName = "DKIM-Signature: ";

// The process's signing library, or nullptr when libopendkim refused the options.
DKIM_LIB* signingLibrary() {
  static DKIM_LIB* const library = [] {
    DKIM_LIB* lib = dkim_init(nullptr, nullptr);
    if (lib == nullptr) {
      return lib;
    }
    // No DKIM_LIBFLAGS_FIXCRLF: with it, libopendkim aborts on an assertion for some header
    // sections with bare LFs (found by tests/fuzz/dkim_sign), and it keeps an unterminated last
    // line's trailing WSP out of the relaxed rules. finish() adds the missing final CRLF.
    // dkim_options() copies both lists; it takes them as a char** in a non-const void*.
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, const_cast<char**>(kSignedHeaders), sizeof(char**)) !=
            DKIM_STAT_OK ||
        !dkim_libfeature(lib, DKIM_FEATURE_OVERSIGN) ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, const_cast<char**>(kOversignedHeaders),
                     sizeof(char**)) != DKIM_STAT_OK) {
      dkim_close(lib);
      return static_cast<DKIM_LIB*>(nullptr);
    }
    return lib;
  }();
  return library;
}

const u_char* bytes(const std::string& text) { return reinterpret_cast<const u_char*>(text.c_str()); }

}  // namespace

std::span<const char* const> dkimSignedHeaders() { return std::span(kSignedHeaders).first(std::size(kSignedHeaders) - 1); }

std::span<const char* const> dkimOversignedHeaders() {
  return std::span(kOversignedHeaders).first(std::size(kOversignedHeaders) - 1);
}

class DkimSigner::Impl {
 public:
  Impl(const config::DkimPolicy& policy, std::string job_id) : policy_(policy), job_id_(std::move(job_id)) {}
  ~Impl() {
    for (Signature& signature : signatures_) {
      if (signature.rsa != nullptr) {
        dkim_free(signature.rsa);
      }
    }
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void feed(std::string_view bytes);
  DkimSigning finish();

 private:
  void start();
  void feedHandles(std::string_view bytes);
  void feedLibrary(DKIM* handle, std::string_view bytes);
  void fail(DKIM* handle, std::string_view step);

  // One per signing key: a libopendkim handle (RSA) or our Ed25519 signature.
  struct Signature {
    DKIM* rsa = nullptr;
    std::unique_ptr<Ed25519DkimSignature> ed25519;
  };

  config::DkimPolicy policy_;
  std::string job_id_;  // libopendkim keeps the pointer
  uint8_t scan_ = kHeaderScanStart;
  bool started_ = false;
  bool failed_ = false;
  bool body_line_open_ = false;  // the body fed so far ends inside a line
  std::string header_section_;
  std::vector<Signature> signatures_;
  DkimSigning result_;
};

void DkimSigner::Impl::feed(std::string_view bytes) {
  if (started_) {
    feedHandles(bytes);
    return;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (scanHeaderByte(scan_, bytes[i]) == HeaderByte::SectionEnd) {
      header_section_.append(bytes.substr(0, i + 1));
      start();
      feedHandles(bytes.substr(i + 1));
      return;
    }
  }
  header_section_.append(bytes);
}

// The header section is complete (or the message ended inside it).
void DkimSigner::Impl::start() {
  started_ = true;
  const FromDomain from = extractFromDomain(header_section_);
  if (from.status != FromDomain::Status::Ok) {
    result_.error = from.status == FromDomain::Status::Missing    ? "the message has no From field"
                    : from.status == FromDomain::Status::Multiple ? "the message has more than one From mailbox"
                                                                  : "the From field cannot be parsed";
    return;
  }
  result_.domain = from.domain;
  const std::vector<config::DkimKey> keys = policy_.signingKeys(from.domain);
  if (keys.empty()) {
    result_.error = "no active DKIM key for " + from.domain;
    return;
  }
  for (const config::DkimKey& key : keys) {
    Signature& signature = signatures_.emplace_back();
    if (key.algorithm == config::DkimAlgorithm::Ed25519Sha256) {
      signature.ed25519 = std::make_unique<Ed25519DkimSignature>(key);
      signature.ed25519->headers(header_section_);
      continue;
    }
    DKIM_LIB* library = signingLibrary();
    if (library == nullptr) {
      failed_ = true;
      result_.error = "libopendkim refused the signing options";
      return;
    }
    DKIM_STAT status = DKIM_STAT_OK;
    // dkim_sign() copies key, selector and domain; the key parameter is not const in its prototype.
    auto* secret = const_cast<u_char*>(bytes(*key.private_key));
    signature.rsa = dkim_sign(library, bytes(job_id_), nullptr, secret, bytes(key.selector), bytes(key.domain),
                              DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &status);
    if (signature.rsa == nullptr) {
      failed_ = true;
      result_.error = "libopendkim: dkim_sign failed for selector " + key.selector + ": " + dkim_getresultstr(status);
      return;
    }
    feedLibrary(signature.rsa, header_section_);
  }
  header_section_ = std::string();
}

void DkimSigner::Impl::feedHandles(std::string_view bytes) {
  if (bytes.empty()) {
    return;
  }
  body_line_open_ = bytes.back() != '\n';
  for (Signature& signature : signatures_) {
    if (signature.ed25519) {
      signature.ed25519->body(bytes);
    } else {
      feedLibrary(signature.rsa, bytes);
    }
  }
}

void DkimSigner::Impl::feedLibrary(DKIM* handle, std::string_view bytes) {
  if (failed_) {
    return;
  }
  // dkim_chunk() does not keep the pointer; the cast only satisfies its non-const prototype.
  auto* data = reinterpret_cast<u_char*>(const_cast<char*>(bytes.data()));
  if (dkim_chunk(handle, data, bytes.size()) != DKIM_STAT_OK) {
    fail(handle, "dkim_chunk");
  }
}

void DkimSigner::Impl::fail(DKIM* handle, std::string_view step) {
  failed_ = true;
  const char* reason = dkim_geterror(handle);
  result_.error = "libopendkim: " + std::string(step) + ": " + (reason != nullptr ? reason : "failed");
}

DkimSigning DkimSigner::Impl::finish() {
  if (!started_) {
    start();
  }
  for (Signature& signature : signatures_) {
    if (failed_) {
      break;
    }
    if (signature.ed25519) {
      std::string error;
      const std::string field = signature.ed25519->finish(error);
      if (field.empty()) {
        failed_ = true;
        result_.error = error;
      }
      result_.header_fields += field;
      continue;
    }
    DKIM* handle = signature.rsa;
    u_char* field = nullptr;
    size_t length = 0;
    if (body_line_open_) {
      feedLibrary(handle, "\r\n");  // the CRLF SMTP adds before the DATA terminator
    }
    if (failed_) {
      break;
    }
    if (dkim_chunk(handle, nullptr, 0) != DKIM_STAT_OK) {
      fail(handle, "dkim_chunk");
    } else if (dkim_eom(handle, nullptr) != DKIM_STAT_OK) {
      fail(handle, "dkim_eom");
    } else if (dkim_getsighdr_d(handle, kFieldName.size(), &field, &length) != DKIM_STAT_OK) {
      fail(handle, "dkim_getsighdr_d");
    } else {
      result_.header_fields.append(kFieldName);
      result_.header_fields.append(reinterpret_cast<const char*>(field), length);
      result_.header_fields.append("\r\n");
    }
  }
  if (failed_) {
    result_.status = DkimSigning::Status::Failed;
    result_.header_fields.clear();
  } else if (!signatures_.empty()) {
    result_.status = DkimSigning::Status::Signed;
  }
  return result_;
}

DkimSigner::DkimSigner(const config::DkimPolicy& policy, std::string job_id)
    : impl_(std::make_unique<Impl>(policy, std::move(job_id))) {}

DkimSigner::~DkimSigner() = default;

void DkimSigner::feed(std::string_view bytes) { impl_->feed(bytes); }

DkimSigning DkimSigner::finish() { return impl_->finish(); }

}  // namespace mxgate::auth
