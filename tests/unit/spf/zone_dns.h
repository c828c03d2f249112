// An in-memory Dns for the SPF tests that answers like a recursive resolver would: names are
// case-insensitive (a trailing dot aside), CNAMEs are followed (a loop is SERVFAIL), an
// unknown name is NXDOMAIN, a known name without the type is NODATA, and a name marked
// TIMEOUT times out for every type not listed before the mark (the openspf suite's rule).
// Type SPF (99) records are served as TXT when the name has no TXT entry, as the suite's
// drivers do; "TXT: NONE" suppresses that. Answers come back inside lookup() (Immediate) or
// when runPending() is called (Deferred). Names no query can be built for (empty or long
// labels) never reach a Dns: the evaluator answers them as NXDOMAIN itself. Test support only.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mxgate/spf/spf.h"

namespace mxgate::spf::test {

struct YamlNode;

class ZoneDns : public Dns {
 public:
  enum class Mode { Immediate, Deferred };

  explicit ZoneDns(Mode mode = Mode::Immediate) : mode_(mode) {}

  // type: "TXT", "SPF", "A", "AAAA", "PTR", "CNAME" (value: the text, address or name) or
  // "MX" (value: the host, with `preference`).
  void add(std::string_view owner, std::string type, std::string value, uint16_t preference = 0);
  // "TXT: NONE": the name has no TXT record and its SPF records are not copied to TXT.
  void addNoTxt(std::string_view owner);
  void addTimeout(std::string_view owner);
  // Loads a scenario's zonedata map (see shared/corpora/spf/PROVENANCE.md); false and `error`
  // on an entry it does not understand.
  bool load(const YamlNode& zonedata, std::string& error);

  void lookup(const std::string& name, dns::RrType type, dns::Callback done) override;

  // Deferred mode: answers the queued lookups, and those their callbacks start, in order.
  // Returns how many were answered.
  size_t runPending();

  size_t lookups() const { return lookups_; }
  const std::vector<std::string>& log() const { return log_; }  // "TYPE name" per lookup

 private:
  struct Entry {
    std::string type;  // as in add(), or "TIMEOUT" / "NOTXT"
    std::string value;
    uint16_t preference = 0;
  };

  dns::Answer resolve(const std::string& name, dns::RrType type, int depth) const;

  Mode mode_;
  std::map<std::string, std::vector<Entry>> zone_;
  std::deque<std::pair<dns::Callback, dns::AnswerPtr>> pending_;
  size_t lookups_ = 0;
  std::vector<std::string> log_;
};

}  // namespace mxgate::spf::test
