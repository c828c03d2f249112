// DKIM signing (see include/mxgate/auth/dkim_signer.h). The header section is held until it
// ends, because the signing domain (the From domain) and so the keys are known only then; then
// each key's signature (dkim_signing_handle.h, which says why it is not libopendkim's) gets the
// section and the body chunks. Runs on a lane thread.
#include "mxgate/auth/dkim_signer.h"

#include "dkim_signing_handle.h"
#include "header_fields.h"
#include "mxgate/auth/dmarc.h"

namespace mxgate::auth {
namespace {

// RFC 6376 §5.4.1, plus Message-ID, MIME-Version, Content-Type and List-Unsubscribe-Post (RFC
// 8058 §4: both one-click fields must be covered by a valid signature).
constexpr const char* kSignedHeaders[] = {
    "From",         "Reply-To",    "Subject",         "Date",         "To",           "Cc",
    "Resent-Date",  "Resent-From", "Resent-To",       "Resent-Cc",    "In-Reply-To",  "References",
    "List-Id",      "List-Help",   "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner",
    "List-Archive", "Message-ID",  "MIME-Version",    "Content-Type", "List-Unsubscribe-Post"};
// What a recipient sees and acts on: an added instance of these must break the signature.
constexpr const char* kOversignedHeaders[] = {"From",       "To",
                                              "Cc",         "Subject",
                                              "Date",       "Reply-To",
                                              "Message-ID", "List-Unsubscribe",
                                              "List-Unsubscribe-Post"};

}  // namespace

std::span<const char* const> dkimSignedHeaders() { return kSignedHeaders; }

std::span<const char* const> dkimOversignedHeaders() { return kOversignedHeaders; }

class DkimSigner::Impl {
 public:
  explicit Impl(const config::DkimPolicy& policy) : policy_(policy) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void feed(std::string_view bytes);
  DkimSigning finish();

 private:
  void start();
  void feedBody(std::string_view bytes) {
    for (const std::unique_ptr<DkimSigningHandle>& signature : signatures_) {
      signature->body(bytes);
    }
  }

  config::DkimPolicy policy_;
  uint8_t scan_ = kHeaderScanStart;
  bool started_ = false;
  std::string header_section_;
  std::vector<std::unique_ptr<DkimSigningHandle>> signatures_;  // one per signing key
  DkimSigning result_;
};

void DkimSigner::Impl::feed(std::string_view bytes) {
  if (started_) {
    feedBody(bytes);
    return;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (scanHeaderByte(scan_, bytes[i]) == HeaderByte::SectionEnd) {
      header_section_.append(bytes.substr(0, i + 1));
      start();
      feedBody(bytes.substr(i + 1));
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
    signatures_.push_back(std::make_unique<DkimSigningHandle>(key));
    signatures_.back()->headers(header_section_);
  }
  header_section_ = std::string();
}

DkimSigning DkimSigner::Impl::finish() {
  if (!started_) {
    start();
  }
  for (const std::unique_ptr<DkimSigningHandle>& signature : signatures_) {
    std::string error;
    const std::string field = signature->finish(error);
    if (field.empty()) {
      result_.status = DkimSigning::Status::Failed;
      result_.error = error;
      result_.header_fields.clear();
      return result_;
    }
    result_.header_fields += field;
  }
  if (!signatures_.empty()) {
    result_.status = DkimSigning::Status::Signed;
  }
  return result_;
}

DkimSigner::DkimSigner(const config::DkimPolicy& policy) : impl_(std::make_unique<Impl>(policy)) {}

DkimSigner::~DkimSigner() = default;

void DkimSigner::feed(std::string_view bytes) { impl_->feed(bytes); }

DkimSigning DkimSigner::finish() { return impl_->finish(); }

}  // namespace mxgate::auth
