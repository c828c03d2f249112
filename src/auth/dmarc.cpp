// DMARC evaluation (RFC 7489): record discovery from answers our resolver fetched (§6.6.3),
// the record parsed by libopendmarc (the only file that includes <opendmarc/dmarc.h>; it never
// does DNS here), identifier alignment (§3.1) and the policy that applies (p=, or sp= when the
// record came from the Organizational Domain, §6.3). Pure apart from libopendmarc; any thread.
//
// Alignment is computed here, not with libopendmarc 1.4.2: its opendmarc_reverse_domain() drops
// a one-character leftmost label, so opendmarc_policy_check_alignment("x.com", "evil.com",
// relaxed) says aligned and a signature by any .com domain passes DMARC for From: x.com; its
// strict mode also matches a parent domain (upstream PR #354), and its opendmarc_get_tld()
// ignores wildcard and exception rules and letter case. The Organizational Domain comes from
// our public suffix list reader instead.
//
// libopendmarc's record parser copies into fixed buffers with an off-by-one in
// opendmarc_util_cleanup(): a value of exactly 512 bytes (256 for a rua/ruf/fo item, 32 for an
// rf item) is left without its terminating NUL. Records that come near those sizes, or that
// are not a tag-list at all (RFC 7489 §6.4), are a permerror before the library sees them.
// fetch_rua/fetch_ruf are never called.
#include <opendmarc/dmarc.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "mxgate/auth/dmarc.h"
#include "mxgate/base/ascii.h"
#include "public_suffix.h"
#include "tag_list.h"

namespace mxgate::auth {
namespace {

// libopendmarc's buffer sizes (opendmarc_policy_parse_dmarc): the record copy, a tag name or
// value, one rua/ruf/fo list item, one rf list item.
constexpr size_t kLibraryRecord = BUFSIZ;
constexpr size_t kLibraryValue = 512;
constexpr size_t kLibraryItem = 256;
constexpr size_t kLibraryRfItem = 32;

std::atomic<std::shared_ptr<const PublicSuffixList>> g_suffixes;

// RFC 7489 §6.6.3 step 5: a record starts with the version tag v=DMARC1.
bool isDmarcRecord(std::string_view text) {
  size_t pos = 0;
  auto skipWsp = [&] {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) {
      ++pos;
    }
  };
  if (text.empty() || ascii::toLower(text[0]) != 'v') {
    return false;
  }
  ++pos;
  skipWsp();
  if (pos == text.size() || text[pos] != '=') {
    return false;
  }
  ++pos;
  skipWsp();
  if (text.substr(pos, 6) != "DMARC1") {
    return false;
  }
  pos += 6;
  return pos == text.size() || text[pos] == ';' || text[pos] == ' ' || text[pos] == '\t';
}

enum class Discovery { Temporary, NoRecord, Found, Several };

Discovery findRecord(const dns::AnswerPtr& answer, std::string& record) {
  if (answer == nullptr || answer->temporary()) {
    return Discovery::Temporary;
  }
  if (answer->status != dns::Status::Ok) {
    return Discovery::NoRecord;
  }
  size_t found = 0;
  for (const std::string& text : answer->texts) {
    if (isDmarcRecord(text)) {
      record = text;
      ++found;
    }
  }
  return found == 0 ? Discovery::NoRecord : (found == 1 ? Discovery::Found : Discovery::Several);
}

// Whether every item of a list value (split as libopendmarc splits it) is shorter than limit.
bool itemsFit(std::string_view value, char separator, size_t limit) {
  for (size_t start = 0;;) {
    const size_t end = value.find(separator, start);
    std::string_view item = value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (withoutFoldingWhitespace(item).size() >= limit) {
      return false;
    }
    if (end == std::string_view::npos) {
      return true;
    }
    start = end + 1;
  }
}

// Why the record cannot be handed to libopendmarc, or "".
std::string recordProblem(std::string_view record) {
  if (record.size() >= kLibraryRecord) {
    return "DMARC record too long";
  }
  const TagList tags = parseTagList(record);
  if (!tags.valid()) {
    return "DMARC record syntax error: " + tags.error;
  }
  for (const Tag& tag : tags.tags) {
    bool fits = tag.name.size() < kLibraryValue && tag.value.size() < kLibraryValue;
    if (ascii::equalsIgnoreCase(tag.name, "rua") || ascii::equalsIgnoreCase(tag.name, "ruf")) {
      fits = fits && itemsFit(tag.value, ',', kLibraryItem);
    } else if (ascii::equalsIgnoreCase(tag.name, "fo")) {
      fits = fits && itemsFit(tag.value, ':', kLibraryItem);
    } else if (ascii::equalsIgnoreCase(tag.name, "rf")) {
      fits = fits && itemsFit(tag.value, ',', kLibraryRfItem);
    }
    if (!fits) {
      return "DMARC record tag " + std::string(tag.name) + " too long";
    }
  }
  return "";
}

std::string policyName(int policy) {
  switch (policy) {
    case DMARC_RECORD_P_NONE:
      return "none";
    case DMARC_RECORD_P_QUARANTINE:
      return "quarantine";
    case DMARC_RECORD_P_REJECT:
      return "reject";
    default:
      return "";
  }
}

// A DNS name for comparison: lower-case, without dots at either end.
std::string comparable(std::string_view domain) {
  while (!domain.empty() && domain.front() == '.') {
    domain.remove_prefix(1);
  }
  while (!domain.empty() && domain.back() == '.') {
    domain.remove_suffix(1);
  }
  return ascii::toLowerCopy(domain);
}

// RFC 7489 §3.1.1/§3.1.2: strict = the same name; relaxed = the same Organizational Domain.
bool aligned(std::string_view identifier, std::string_view from_domain, bool strict) {
  const std::string a = comparable(identifier);
  const std::string b = comparable(from_domain);
  if (a.empty() || b.empty()) {
    return false;
  }
  if (a == b) {
    return true;
  }
  if (strict) {
    return false;
  }
  const std::string org = organizationalDomain(a);
  return !org.empty() && org == organizationalDomain(b);
}

struct PolicyDeleter {
  void operator()(DMARC_POLICY_T* context) const { opendmarc_policy_connect_shutdown(context); }
};

}  // namespace

bool initializeDmarc(const std::string& public_suffix_list, std::string& error) {
  std::shared_ptr<const PublicSuffixList> list = PublicSuffixList::load(public_suffix_list, error);
  if (list == nullptr) {
    return false;
  }
  g_suffixes.store(std::move(list));
  return true;
}

std::string organizationalDomain(std::string_view domain) {
  const std::shared_ptr<const PublicSuffixList> list = g_suffixes.load();
  return list == nullptr ? "" : list->registrableDomain(domain);
}

std::string_view name(DmarcResult result) {
  switch (result) {
    case DmarcResult::None:
      return "none";
    case DmarcResult::Pass:
      return "pass";
    case DmarcResult::Fail:
      return "fail";
    case DmarcResult::TempError:
      return "temperror";
    case DmarcResult::PermError:
      return "permerror";
  }
  return "permerror";
}

DmarcOutcome evaluateDmarc(const FromDomain& from, const dns::AnswerPtr& from_answer, const dns::AnswerPtr& org_answer,
                           const spf::Outcome& spf, const std::string& mail_from_domain,
                           const std::vector<DkimSignature>& dkim) {
  DmarcOutcome out;
  auto verdict = [&](DmarcResult result, std::string reason) {
    out.result = result;
    out.reason = std::move(reason);
    return out;
  };
  switch (from.status) {
    case FromDomain::Status::Ok:
      break;
    case FromDomain::Status::Missing:
      return verdict(DmarcResult::Fail, "no From field");
    case FromDomain::Status::Multiple:
      return verdict(DmarcResult::Fail, "multiple From fields or mailboxes");
    case FromDomain::Status::Unparseable:
      return verdict(DmarcResult::Fail, "unusable From address");
  }
  if (from.domain.empty()) {
    return verdict(DmarcResult::Fail, "unusable From address");
  }
  out.from_domain = from.domain;

  std::string record;
  std::string record_org;  // the Organizational Domain when the record came from there
  switch (findRecord(from_answer, record)) {
    case Discovery::Temporary:
      return verdict(DmarcResult::TempError, "DNS failure looking up the DMARC record");
    case Discovery::Several:
      return verdict(DmarcResult::None, "multiple DMARC records");
    case Discovery::Found:
      break;
    case Discovery::NoRecord: {
      const std::string org = organizationalDomain(from.domain);
      if (org.empty() || org == comparable(from.domain)) {
        return verdict(DmarcResult::None, "no DMARC record");
      }
      switch (findRecord(org_answer, record)) {
        case Discovery::Temporary:
          return verdict(DmarcResult::TempError, "DNS failure looking up the DMARC record");
        case Discovery::Several:
          return verdict(DmarcResult::None, "multiple DMARC records");
        case Discovery::NoRecord:
          return verdict(DmarcResult::None, "no DMARC record");
        case Discovery::Found:
          record_org = org;
          break;
      }
      break;
    }
  }
  if (std::string problem = recordProblem(record); !problem.empty()) {
    return verdict(DmarcResult::PermError, problem);
  }

  std::string address = "0.0.0.0";  // the library wants a client address; it only reports it
  std::unique_ptr<DMARC_POLICY_T, PolicyDeleter> context(
      opendmarc_policy_connect_init(reinterpret_cast<u_char*>(address.data()), 0));
  if (context == nullptr) {
    return verdict(DmarcResult::TempError, "libopendmarc: out of memory");
  }
  std::string from_domain = from.domain;
  const int status = opendmarc_policy_store_dmarc(
      context.get(), reinterpret_cast<u_char*>(record.data()), reinterpret_cast<u_char*>(from_domain.data()),
      record_org.empty() ? nullptr : reinterpret_cast<u_char*>(record_org.data()));
  if (status == DMARC_PARSE_ERROR_NO_REQUIRED_P) {
    return verdict(DmarcResult::None, "DMARC record has no p= tag");  // §6.6.3: not applied
  }
  if (status != DMARC_PARSE_OKAY) {
    return verdict(DmarcResult::PermError, std::string("invalid DMARC record: ") + opendmarc_policy_status_to_str(status));
  }
  int p = DMARC_RECORD_P_UNSPECIFIED;
  int sp = DMARC_RECORD_P_UNSPECIFIED;
  int adkim = DMARC_RECORD_A_UNSPECIFIED;
  int aspf = DMARC_RECORD_A_UNSPECIFIED;
  opendmarc_policy_fetch_p(context.get(), &p);
  opendmarc_policy_fetch_sp(context.get(), &sp);
  opendmarc_policy_fetch_adkim(context.get(), &adkim);
  opendmarc_policy_fetch_aspf(context.get(), &aspf);
  out.policy = policyName(opendmarc_get_policy_token_used(context.get()) == DMARC_USED_POLICY_IS_SP ? sp : p);

  out.spf_aligned = spf.result == spf::Result::Pass && aligned(mail_from_domain, from.domain, aspf == DMARC_RECORD_A_STRICT);
  for (const DkimSignature& signature : dkim) {
    if (signature.result == DkimResult::Pass && aligned(signature.domain, from.domain, adkim == DMARC_RECORD_A_STRICT)) {
      out.dkim_aligned = true;
    }
  }
  if (out.spf_aligned || out.dkim_aligned) {
    return verdict(DmarcResult::Pass, "");
  }
  return verdict(DmarcResult::Fail, "no aligned SPF or DKIM pass");
}

}  // namespace mxgate::auth
