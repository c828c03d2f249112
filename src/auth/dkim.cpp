// DKIM verification (RFC 6376 §6, RFC 8463 Ed25519, RFC 8301 algorithm and key-size rules) with
// libopendkim (through opendkim.h, shared with the signer). feed() runs on the session's loop thread
// and only hashes (DKIM_LIBFLAGS_DELAYSIGPROC keeps key lookups out of end-of-headers);
// finish() runs on a lane and may block in the KeyLookup.
//
// Alongside libopendkim, feed() splits the header section itself to parse every
// DKIM-Signature field with our own tag-list parser (RFC 6376 §3.2, §3.5). libopendkim runs with
// DKIM_LIBFLAGS_BADSIGHANDLES: without it dkim_chunk() abandons the rest of a chunk at the
// first malformed field, and with it the library also evaluates signatures whose tag list it
// found malformed. Our parse decides those (permerror) and matches libopendkim's signature list
// one to one: both hold one entry per field named DKIM-Signature, in header order.
//
// Result mapping (RFC 8601 §2.7.1), per signature:
//   good signature and body hash, key size ok         -> pass
//   signature mismatch (DKIM_SIGERROR_BADSIG)         -> fail "signature verification failed"
//   body hash mismatch                                -> fail "body hash mismatch"
//   KeyLookup ServFail/Timeout/no answer/exception    -> temperror (DKIM_SIGERROR_KEYFAIL too)
//   verification interrupted inside libopendkim       -> temperror
//   tag-list syntax, missing required tag, v != 1     -> permerror (our parser)
//   a=rsa-sha1                                        -> permerror: RFC 8301 §3.1 says such
//        signatures "have permanently failed evaluation" (RFC 6376 §6.1 PERMFAIL), so they are
//        neither looked up nor verified
//   RSA key below DkimSettings::min_rsa_bits          -> permerror (RFC 8301 §3.2)
//   no key (NXDOMAIN/NODATA), revoked, bad key record -> permerror (RFC 6376 §6.1.2 PERMFAIL)
//   key record longer than libopendkim's buffer       -> permerror
//   expired x=, t= in the future, x= < t=, bad d=/i=,
//   unknown a=/c=/q=, h= without From, l= too large   -> permerror: dkimpy raises the same
//        ValidationError for these as for syntax errors, i.e. RFC 6376 §6.1.1 PERMFAIL
// The minimum RSA size is per verifier while the DKIM_LIB is per process, so the library's own
// DKIM_OPTS_MINKEYBITS is 0 and the rule is applied here (Ed25519 keys report 0 bits).
#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "mxgate/auth/dkim.h"
#include "mxgate/base/ascii.h"
#include "opendkim.h"
#include "tag_list.h"

namespace mxgate::auth {
namespace {

constexpr std::string_view kSignatureField = "DKIM-Signature";
constexpr size_t kHeaderBLength = 8;  // RFC 8601 §2.7.1 header.b: a prefix of b=

DKIM_LIB* g_library = nullptr;
bool g_ed25519 = false;
std::once_flag g_library_once;

// What the key-lookup callback reaches through the DKIM handle's user context.
struct KeyContext {
  const KeyLookup* lookup = nullptr;
  std::vector<const DKIM_SIGINFO*> temporary;  // lookups that failed temporarily
  std::vector<const DKIM_SIGINFO*> oversized;  // records that did not fit libopendkim's buffer
};

bool contains(const std::vector<const DKIM_SIGINFO*>& list, const DKIM_SIGINFO* sig) {
  return std::find(list.begin(), list.end(), sig) != list.end();
}

// libopendkim's key lookup hook: runs inside dkim_eom() on the lane thread.
DKIM_CBSTAT lookupKey(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  auto* context = static_cast<KeyContext*>(dkim_get_user_context(dkim));
  const auto* selector = reinterpret_cast<const char*>(dkim_sig_getselector(sig));
  const auto* domain = reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
  if (context == nullptr || selector == nullptr || domain == nullptr || buflen == 0) {
    return DKIM_CBSTAT_ERROR;
  }
  dns::AnswerPtr answer;
  try {
    answer = (*context->lookup)(std::string(selector) + "._domainkey." + domain);
  } catch (...) {
    answer = nullptr;
  }
  if (answer == nullptr || answer->temporary()) {
    context->temporary.push_back(sig);
    return DKIM_CBSTAT_TRYAGAIN;
  }
  if (answer->status != dns::Status::Ok || answer->texts.empty()) {
    return DKIM_CBSTAT_NOTFOUND;
  }
  // RFC 6376 §3.6.2.2 leaves several records undefined: take the first that parses as a key.
  const std::string* chosen = &answer->texts.front();
  for (const std::string& text : answer->texts) {
    std::string copy = text;
    if (dkim_key_syntax(dkim, reinterpret_cast<u_char*>(copy.data()), copy.size()) == DKIM_STAT_OK) {
      chosen = &text;
      break;
    }
  }
  if (chosen->size() >= buflen) {
    context->oversized.push_back(sig);
    return DKIM_CBSTAT_ERROR;
  }
  std::memcpy(buf, chosen->data(), chosen->size());
  buf[chosen->size()] = '\0';
  return DKIM_CBSTAT_CONTINUE;
}

// Our reading of one DKIM-Signature field value (RFC 6376 §3.5).
struct ParsedSignature {
  std::string problem;  // empty when the tag list is valid and has every required tag
  std::string domain;
  std::string selector;
  std::string algorithm;
  std::string header_b;
};

ParsedSignature parseSignature(std::string_view value) {
  const TagList tags = parseTagList(value);
  ParsedSignature parsed;
  auto tag = [&](std::string_view name) {
    const Tag* found = tags.find(name);
    return found == nullptr ? std::string() : withoutFoldingWhitespace(found->value);
  };
  parsed.domain = tag("d");
  parsed.selector = tag("s");
  parsed.algorithm = ascii::toLowerCopy(tag("a"));
  parsed.header_b = tag("b").substr(0, kHeaderBLength);
  if (!tags.valid()) {
    parsed.problem = "signature syntax error: " + tags.error;
    return parsed;
  }
  for (std::string_view required : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (tags.find(required) == nullptr) {
      parsed.problem = "signature has no " + std::string(required) + "= tag";
      return parsed;
    }
  }
  if (tag("v") != "1") {
    parsed.problem = "unsupported signature version";
  }
  return parsed;
}

bool isRsaSha1(const ParsedSignature& parsed) { return parsed.algorithm == "rsa-sha1"; }

}  // namespace

std::string_view name(DkimResult result) {
  switch (result) {
    case DkimResult::Pass:
      return "pass";
    case DkimResult::Fail:
      return "fail";
    case DkimResult::Neutral:
      return "neutral";
    case DkimResult::Policy:
      return "policy";
    case DkimResult::TempError:
      return "temperror";
    case DkimResult::PermError:
      return "permerror";
  }
  return "permerror";
}

void initializeDkim() {
  std::call_once(g_library_once, [] {
    DKIM_LIB* library = dkim_init(nullptr, nullptr);
    if (library == nullptr) {
      throw std::runtime_error("libopendkim: dkim_init failed");
    }
    uint32_t flags = DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_DELAYSIGPROC;
    u_int min_bits = 0;
    if (dkim_options(library, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
        dkim_options(library, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits) != DKIM_STAT_OK ||
        dkim_set_key_lookup(library, lookupKey) != DKIM_STAT_OK) {
      dkim_close(library);
      throw std::runtime_error("libopendkim: setting the verifier options failed");
    }
    g_ed25519 = dkim_libfeature(library, DKIM_FEATURE_ED25519);
    g_library = library;
  });
}

class DkimVerifier::Impl {
 public:
  Impl(const DkimSettings& settings, KeyLookup lookup) : settings_(settings), lookup_(std::move(lookup)) {
    key_context_.lookup = &lookup_;
  }
  ~Impl() {
    if (handle_ != nullptr) {
      dkim_free(handle_);
    }
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void feed(std::string_view bytes);
  bool headersComplete() const { return scan_ == Scan::Body; }
  std::vector<std::string> keyNames() const;
  std::vector<DkimSignature> finish();

 private:
  enum class Scan { LineStart, CrAtLineStart, InLine, Body };
  enum class Field { Name, Signature, Other };

  void scan(char c);
  void startField(char c);
  void appendToField(char c);
  void endField();
  // The library's signature list when it matches our parse one to one, else empty.
  std::pair<DKIM_SIGINFO**, size_t> signatureList() const;
  bool evaluable(size_t index, DKIM_SIGINFO* sig) const;
  DkimSignature describe(size_t index, DKIM_SIGINFO* sig) const;

  DkimSettings settings_;
  KeyLookup lookup_;
  KeyContext key_context_;
  DKIM* handle_ = nullptr;
  bool library_running_ = true;  // false once libopendkim stopped accepting the message
  Scan scan_ = Scan::LineStart;
  bool previous_cr_ = false;
  Field field_ = Field::Other;
  size_t name_length_ = 0;
  std::string value_;  // the DKIM-Signature field value being collected
  std::vector<ParsedSignature> signatures_;
  bool finished_ = false;
  std::vector<DkimSignature> results_;
};

void DkimVerifier::Impl::feed(std::string_view bytes) {
  if (finished_ || bytes.empty()) {
    return;
  }
  if (handle_ == nullptr && library_running_) {
    DKIM_STAT status = DKIM_STAT_OK;
    handle_ = dkim_verify(g_library, reinterpret_cast<const unsigned char*>("mxgate"), nullptr, &status);
    if (handle_ == nullptr || dkim_set_user_context(handle_, &key_context_) != DKIM_STAT_OK) {
      library_running_ = false;
    }
  }
  if (library_running_) {
    // dkim_chunk() splits the header fields itself and runs end-of-headers at the blank line.
    // It does not keep the pointer; the cast only satisfies its non-const prototype.
    auto* data = reinterpret_cast<u_char*>(const_cast<char*>(bytes.data()));
    if (dkim_chunk(handle_, data, bytes.size()) != DKIM_STAT_OK) {
      library_running_ = false;  // e.g. DKIM_STAT_NOSIG at the end of an unsigned header section
    }
  }
  for (size_t i = 0; i < bytes.size() && scan_ != Scan::Body; ++i) {
    scan(bytes[i]);
  }
}

// The header section exactly as dkim_chunk() splits it: a field ends at CRLF followed by
// anything but WSP; CRLF at the start of a line ends the section.
void DkimVerifier::Impl::scan(char c) {
  switch (scan_) {
    case Scan::LineStart:
      if (c == '\r') {
        scan_ = Scan::CrAtLineStart;
      } else if (c == ' ' || c == '\t') {
        appendToField(c);
        scan_ = Scan::InLine;
      } else {
        endField();
        startField(c);
        scan_ = Scan::InLine;
      }
      return;
    case Scan::CrAtLineStart:
      endField();
      if (c == '\n') {
        scan_ = Scan::Body;
        return;
      }
      // dkim_chunk() starts a field with both bytes and forgets that c may be a CR.
      startField('\r');
      appendToField(c);
      scan_ = Scan::InLine;
      previous_cr_ = false;
      return;
    case Scan::InLine:
      appendToField(c);
      if (c == '\n' && previous_cr_) {
        scan_ = Scan::LineStart;
      }
      previous_cr_ = c == '\r';
      return;
    case Scan::Body:
      return;
  }
}

void DkimVerifier::Impl::startField(char c) {
  field_ = Field::Name;
  name_length_ = 0;
  value_.clear();
  appendToField(c);
}

// libopendkim makes a signature of a field whose name (printable ASCII before the first ':',
// trailing spaces dropped) is DKIM-Signature in any case; mirror exactly that.
void DkimVerifier::Impl::appendToField(char c) {
  switch (field_) {
    case Field::Name:
      if (c == ':') {
        field_ = name_length_ >= kSignatureField.size() ? Field::Signature : Field::Other;
      } else if (name_length_ < kSignatureField.size() ? ascii::toLower(c) != ascii::toLower(kSignatureField[name_length_])
                                                        : c != ' ') {
        field_ = Field::Other;
      }
      ++name_length_;
      return;
    case Field::Signature:
      value_.push_back(c);
      return;
    case Field::Other:
      return;
  }
}

void DkimVerifier::Impl::endField() {
  if (field_ == Field::Signature) {
    signatures_.push_back(parseSignature(value_));
  }
  field_ = Field::Other;
  value_.clear();
}

std::pair<DKIM_SIGINFO**, size_t> DkimVerifier::Impl::signatureList() const {
  DKIM_SIGINFO** sigs = nullptr;
  int count = 0;
  if (handle_ == nullptr || !library_running_ || dkim_getsiglist(handle_, &sigs, &count) != DKIM_STAT_OK ||
      count < 0 || static_cast<size_t>(count) != signatures_.size()) {
    return {nullptr, 0};
  }
  return {sigs, signatures_.size()};
}

bool DkimVerifier::Impl::evaluable(size_t index, DKIM_SIGINFO* sig) const {
  const ParsedSignature& parsed = signatures_[index];
  return index < settings_.max_signatures && parsed.problem.empty() && !isRsaSha1(parsed) &&
         dkim_sig_geterror(sig) == DKIM_SIGERROR_UNKNOWN && dkim_sig_getselector(sig) != nullptr &&
         dkim_sig_getdomain(sig) != nullptr;
}

std::vector<std::string> DkimVerifier::Impl::keyNames() const {
  std::vector<std::string> names;
  if (!headersComplete()) {
    return names;
  }
  const auto [sigs, count] = signatureList();
  for (size_t i = 0; i < count; ++i) {
    if (!evaluable(i, sigs[i])) {
      continue;
    }
    std::string key = reinterpret_cast<const char*>(dkim_sig_getselector(sigs[i]));
    key += "._domainkey.";
    key += reinterpret_cast<const char*>(dkim_sig_getdomain(sigs[i]));
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      names.push_back(std::move(key));
    }
  }
  return names;
}

DkimSignature DkimVerifier::Impl::describe(size_t index, DKIM_SIGINFO* sig) const {
  const ParsedSignature& parsed = signatures_[index];
  DkimSignature out;
  out.domain = parsed.domain;
  out.selector = parsed.selector;
  out.algorithm = parsed.algorithm;
  out.header_b = parsed.header_b;
  auto verdict = [&](DkimResult result, std::string reason) {
    out.result = result;
    out.reason = std::move(reason);
    return out;
  };
  if (!parsed.problem.empty()) {
    return verdict(DkimResult::PermError, parsed.problem);
  }
  if (sig == nullptr) {
    return verdict(DkimResult::PermError, "message could not be processed");
  }
  const int error = dkim_sig_geterror(sig);
  if (isRsaSha1(parsed) && error == DKIM_SIGERROR_UNKNOWN) {
    // Never verified (ignored before dkim_eom); errors in the signature itself take precedence.
    return verdict(DkimResult::PermError, "rsa-sha1 is not accepted (RFC 8301)");
  }
  if (contains(key_context_.temporary, sig)) {
    return verdict(DkimResult::TempError, "key lookup failed temporarily");
  }
  if (contains(key_context_.oversized, sig)) {
    return verdict(DkimResult::PermError, "key record too long");
  }
  const bool rsa = ascii::startsWithIgnoreCase(parsed.algorithm, "rsa-");
  unsigned int bits = 0;
  if (rsa && dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) {
    out.key_bits = bits;
  }
  const bool passed = (dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) != 0;
  if (passed && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH && error == DKIM_SIGERROR_OK) {
    if (rsa && out.key_bits < settings_.min_rsa_bits) {
      return verdict(DkimResult::PermError, "key too small (" + std::to_string(out.key_bits) + " bits)");
    }
    return verdict(DkimResult::Pass, "");
  }
  switch (error) {
    case DKIM_SIGERROR_BADSIG:
      return verdict(DkimResult::Fail, dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ? "body hash mismatch"
                                                                                 : "signature verification failed");
    case DKIM_SIGERROR_KEYFAIL:
      return verdict(DkimResult::TempError, "key lookup failed temporarily");
    case DKIM_SIGERROR_NOKEY:
      return verdict(DkimResult::PermError, "no key for signature");
    case DKIM_SIGERROR_INVALID_A:
      if (!g_ed25519 && parsed.algorithm == "ed25519-sha256") {
        return verdict(DkimResult::PermError, "ed25519 not supported by libopendkim");
      }
      break;
    case DKIM_SIGERROR_UNKNOWN:
    case DKIM_SIGERROR_OK:
      return verdict(DkimResult::TempError, "verification did not complete");
    default:
      break;
  }
  const char* text = dkim_sig_geterrorstr(error);
  return verdict(DkimResult::PermError, text != nullptr ? text : "signature error");
}

std::vector<DkimSignature> DkimVerifier::Impl::finish() {
  if (finished_) {
    return results_;
  }
  finished_ = true;
  if (handle_ != nullptr && library_running_ && dkim_chunk(handle_, nullptr, 0) != DKIM_STAT_OK) {
    library_running_ = false;
  }
  if (scan_ != Scan::Body) {
    endField();  // a message that ended inside its header section
  }
  const auto [sigs, count] = signatureList();
  if (sigs != nullptr) {
    for (size_t i = 0; i < count; ++i) {
      if (!evaluable(i, sigs[i])) {
        dkim_sig_ignore(sigs[i]);  // no key lookup for what we will not report as verified
      }
    }
    dkim_eom(handle_, nullptr);  // per-signature outcomes are read below
  }
  const size_t reported = std::min(signatures_.size(), settings_.max_signatures);
  for (size_t i = 0; i < reported; ++i) {
    results_.push_back(describe(i, sigs != nullptr ? sigs[i] : nullptr));
  }
  return results_;
}

DkimVerifier::DkimVerifier(const DkimSettings& settings, KeyLookup lookup)
    : impl_(std::make_unique<Impl>(settings, std::move(lookup))) {
  initializeDkim();
}

DkimVerifier::~DkimVerifier() = default;

void DkimVerifier::feed(std::string_view bytes) { impl_->feed(bytes); }

bool DkimVerifier::headersComplete() const { return impl_->headersComplete(); }

std::vector<std::string> DkimVerifier::keyNames() const { return impl_->keyNames(); }

std::vector<DkimSignature> DkimVerifier::finish() { return impl_->finish(); }

}  // namespace mxgate::auth
