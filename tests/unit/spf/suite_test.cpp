// The RFC 7208 conformance suite (shared/corpora/spf/rfc7208-tests.yml, 16 scenarios, 203
// cases) against spf::check(), with answers delivered inside lookup() and, again, later from a
// queue; and the older RFC 4408 suite (191 cases). Where RFC 7208 changed a result (mx-limit,
// exists-dnserr, the type SPF cases of "Record lookup", ...) the 4408 file accepts the RFC 7208
// result as well, so every one of its cases must pass too.
#include <boost/test/unit_test.hpp>

#include <iostream>

#include "suite_runner.h"

using mxgate::spf::test::describe;
using mxgate::spf::test::runSuite;
using mxgate::spf::test::SuiteReport;
using mxgate::spf::test::ZoneDns;

namespace {

const std::string kRfc7208 = MXGATE_SHARED_DIR "/corpora/spf/rfc7208-tests.yml";
const std::string kRfc4408 = MXGATE_SHARED_DIR "/corpora/spf/rfc4408-tests.yml";

void requireAll(const SuiteReport& report, const std::string& label, size_t cases) {
  BOOST_TEST_REQUIRE(report.error.empty(), report.error);
  for (const auto& one : report.cases) {
    BOOST_TEST(one.pass, describe(one));
  }
  std::cout << label << ": " << report.passed() << "/" << report.cases.size() << " pass" << std::endl;
  BOOST_TEST(report.cases.size() == cases);
  BOOST_TEST(report.passed() == report.cases.size());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spf_suite)

BOOST_AUTO_TEST_CASE(rfc7208_suite_passes_every_case) {
  requireAll(runSuite(kRfc7208, ZoneDns::Mode::Immediate), "RFC 7208 suite", 203);
}

BOOST_AUTO_TEST_CASE(rfc7208_suite_passes_with_deferred_answers) {
  requireAll(runSuite(kRfc7208, ZoneDns::Mode::Deferred), "RFC 7208 suite (deferred answers)", 203);
}

BOOST_AUTO_TEST_CASE(rfc4408_suite_passes_every_case) {
  requireAll(runSuite(kRfc4408, ZoneDns::Mode::Immediate), "RFC 4408 suite", 191);
}

BOOST_AUTO_TEST_SUITE_END()
