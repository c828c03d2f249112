// libFuzzer target for DMARC (RFC 7489): extractFromDomain and extractSenderDomains (every From
// and Sender mailbox and DKIM-Signature d=, for sender binding) over the input as a header
// section (RFC 5322 §3.4, §3.6.2), evaluateDmarc with the input as the DMARC record (RFC 7489 §6.4 tag
// list, then libopendmarc's parser) and fixed other facts, and organizationalDomain of the
// input (Public Suffix List, RFC 3492 Punycode). Invariants (trap on failure): every extracted
// domain is non-empty, lower-case, at most 255 bytes, without empty labels, and a single From
// mailbox's domain is the DMARC From domain; an Organizational
// Domain is a label-aligned suffix of the lower-cased name and its own Organizational Domain.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/dmarc.h"
#include "mxgate/auth/sender_domains.h"
#include "mxgate/base/ascii.h"

namespace {

using namespace mxgate;

bool wellFormed(const std::string& domain) {
  return !domain.empty() && domain.size() <= 255 && ascii::toLowerCopy(domain) == domain && domain.front() != '.' &&
         domain.back() != '.' && domain.find("..") == std::string::npos;
}

bool loadList() {
  std::string error;
  return auth::initializeDmarc("/usr/share/publicsuffix/public_suffix_list.dat", error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool list_loaded = loadList();
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const auth::FromDomain from = auth::extractFromDomain(input);
  if (from.status == auth::FromDomain::Status::Ok && !wellFormed(from.domain)) {
    __builtin_trap();
  }
  const auth::SenderDomains senders = auth::extractSenderDomains(input);
  for (const auto* domains : {&senders.from, &senders.sender, &senders.dkim}) {
    for (const std::string& domain : *domains) {
      if (!wellFormed(domain)) {
        __builtin_trap();
      }
    }
  }
  if (from.status == auth::FromDomain::Status::Ok && senders.unreadable.empty() &&
      senders.from != std::vector<std::string>{from.domain}) {
    __builtin_trap();
  }

  auto answer = std::make_shared<dns::Answer>();
  answer->status = dns::Status::Ok;
  answer->texts.emplace_back(input);
  spf::Outcome spf;
  spf.result = spf::Result::Pass;
  auth::DkimSignature dkim;
  dkim.result = auth::DkimResult::Pass;
  dkim.domain = "mail.example.com";
  const auth::DmarcOutcome outcome = auth::evaluateDmarc(auth::FromDomain{auth::FromDomain::Status::Ok, "example.com"},
                                                         answer, answer, spf, "example.org", {dkim});
  if (outcome.result == auth::DmarcResult::Pass && !(list_loaded && outcome.dkim_aligned)) {
    __builtin_trap();
  }

  const std::string org = auth::organizationalDomain(input);
  if (!org.empty()) {
    std::string name = ascii::toLowerCopy(input);
    if (!name.empty() && name.back() == '.') {
      name.pop_back();
    }
    if (!name.ends_with(org) || (name.size() > org.size() && name[name.size() - org.size() - 1] != '.') ||
        auth::organizationalDomain(org) != org) {
      __builtin_trap();
    }
  }
  return 0;
}
