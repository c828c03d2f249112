// Helpers shared by the auth unit tests: reading the shared corpora, DNS data files turned
// into answers (zone-file TXT lines, Mail::DKIM's FAKE_DNS.dat format), and feeding a
// verifier in pieces. Test-only; single thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <ostream>
#include <memory>
#include <random>
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

// Feeds message to a verifier or signer in pieces of 1..max_piece bytes (deterministic for a seed).
template <class Consumer>
void feedInPieces(Consumer& consumer, std::string_view message, uint32_t seed, size_t max_piece) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<size_t> size(1, max_piece);
  while (!message.empty()) {
    const size_t take = std::min(size(random), message.size());
    consumer.feed(message.substr(0, take));
    message.remove_prefix(take);
  }
}

// Writes content to a new file in the temporary directory and returns its path.
std::string writeTempFile(const std::string& name, std::string_view content);
// Runs command through the shell; its standard output, and its exit status in status.
std::string runCommand(const std::string& command, int& status);

std::vector<DkimSignature> verify(std::string_view message, const FakeDns& dns, const DkimSettings& settings = {});

}  // namespace mxgate::auth::test
