// Helpers shared by the auth unit tests: reading the shared corpora, DNS data files turned
// into answers (zone-file TXT lines, Mail::DKIM's FAKE_DNS.dat format), and feeding a
// verifier in pieces. Test-only; single thread.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/auth/dkim.h"
#include "mxgate/auth/dmarc.h"
#include "mxgate/dns/resolver.h"

namespace mxgate::auth {

// For Boost.Test messages.
inline std::ostream& operator<<(std::ostream& out, DkimResult result) { return out << name(result); }
inline std::ostream& operator<<(std::ostream& out, DmarcResult result) { return out << name(result); }

}  // namespace mxgate::auth

namespace mxgate::auth::test {

std::string shared(std::string_view relative);  // MXGATE_SHARED_DIR "/corpora/" + relative
std::string readFile(const std::string& path);
std::string toCrlf(std::string_view text);      // LF or CRLF line ends -> CRLF
std::string headerSection(std::string_view message);  // up to and including the empty line

dns::AnswerPtr txtAnswer(std::vector<std::string> texts);
dns::AnswerPtr failureAnswer(dns::Status status);

// Name (lower-cased, no trailing dot) -> answer. Missing names are NXDOMAIN.
class FakeDns {
 public:
  void add(const std::string& name, dns::AnswerPtr answer);
  void addText(const std::string& name, const std::string& text);
  // Lines "<name>. IN TXT "<s1>" "<s2>"..." (comments ';').
  void loadZone(const std::string& path);
  // Lines "<name> <TXT data>", with NXDOMAIN, ~~Query timed out~~, ~~SERVFAIL~~ and "" (empty).
  void loadFakeDnsDat(const std::string& path);
  dns::AnswerPtr lookup(const std::string& name) const;
  KeyLookup keyLookup() const;
  std::vector<std::string>& queries() const { return queries_; }

 private:
  std::map<std::string, dns::AnswerPtr> answers_;
  mutable std::vector<std::string> queries_;  // every name looked up, in order
};

// Feeds message to verifier in pieces of 1..max_piece bytes (deterministic for a seed).
void feedInPieces(DkimVerifier& verifier, std::string_view message, uint32_t seed, size_t max_piece);

std::vector<DkimSignature> verify(std::string_view message, const FakeDns& dns, const DkimSettings& settings = {});

}  // namespace mxgate::auth::test
