// The sender identities of a header section, for sender binding (an authenticated tenant may
// use only its own domains): the domain of every mailbox of every From and Sender field (RFC
// 5322 §3.6.2, parsed with the same address grammar as the DMARC From domain), and the d= of
// every DKIM-Signature field already present (RFC 6376 §3.5). Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxgate::auth {

struct SenderDomains {
  std::vector<std::string> from;    // every From mailbox's domain, lower-cased
  std::vector<std::string> sender;  // every Sender mailbox's domain, lower-cased
  std::vector<std::string> dkim;    // every DKIM-Signature d=, lower-cased
  // The first field that could not be read ("From", "Sender", "DKIM-Signature"), "" when
  // every one could: an unreadable identity cannot be shown to be the sender's own.
  std::string unreadable;
};

SenderDomains extractSenderDomains(std::string_view header_section);

}  // namespace mxgate::auth
