// Runs an openspf YAML suite (rfc7208-tests.yml, rfc4408-tests.yml) against spf::check():
// each scenario's zonedata becomes a ZoneDns, each case one check (HELO identity when
// mailfrom is empty), compared with the acceptable results and, when given, the explanation
// ("DEFAULT" = no exp= explanation). Test support only.
#pragma once

#include <string>
#include <vector>

#include "zone_dns.h"

namespace mxgate::spf::test {

struct CaseReport {
  std::string name;
  std::string scenario;
  std::vector<std::string> expected;  // acceptable results
  std::string expected_explanation;   // "" when the case gives none
  Outcome outcome;
  int done_calls = 0;
  bool pass = false;
};

struct SuiteReport {
  std::string error;  // the file could not be read or understood
  std::vector<CaseReport> cases;
  size_t passed() const;
};

SuiteReport runSuite(const std::string& path, ZoneDns::Mode mode);

// One line per case for a failure message.
std::string describe(const CaseReport& report);

}  // namespace mxgate::spf::test
