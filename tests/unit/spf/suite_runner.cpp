// The openspf YAML suite runner (see suite_runner.h). Test support only.
#include "suite_runner.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "yaml_reader.h"

namespace mxgate::spf::test {
namespace {

std::string field(const YamlNode& test, std::string_view key) {
  const YamlNode* node = test.find(key);
  return node == nullptr ? std::string() : node->scalar;
}

}  // namespace

size_t SuiteReport::passed() const {
  return static_cast<size_t>(std::count_if(cases.begin(), cases.end(), [](const CaseReport& c) { return c.pass; }));
}

SuiteReport runSuite(const std::string& path, ZoneDns::Mode mode) {
  SuiteReport report;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    report.error = "cannot read " + path;
    return report;
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<YamlNode> scenarios = parseYamlDocuments(text.str(), report.error);
  if (!report.error.empty()) {
    return report;
  }
  for (const YamlNode& scenario : scenarios) {
    const YamlNode* tests = scenario.find("tests");
    const YamlNode* zonedata = scenario.find("zonedata");
    if (tests == nullptr || zonedata == nullptr) {
      report.error = "a scenario without tests or zonedata";
      return report;
    }
    for (const auto& [name, test] : tests->entries) {
      ZoneDns dns(mode);
      if (!dns.load(*zonedata, report.error)) {
        return report;
      }
      CaseReport one;
      one.name = name;
      one.scenario = field(scenario, "description");
      const YamlNode* result = test.find("result");
      if (result != nullptr && result->kind == YamlNode::Kind::List) {
        for (const YamlNode& item : result->items) {
          one.expected.push_back(item.scalar);
        }
      } else if (result != nullptr) {
        one.expected.push_back(result->scalar);
      }
      one.expected_explanation = field(test, "explanation");
      Request request;
      request.client_ip = field(test, "host");
      request.sender = field(test, "mailfrom");
      request.helo = field(test, "helo");
      check(dns, request, [&one](Outcome outcome) {
        ++one.done_calls;
        one.outcome = std::move(outcome);
      });
      dns.runPending();
      const std::string got(spf::name(one.outcome.result));
      const bool result_ok = std::find(one.expected.begin(), one.expected.end(), got) != one.expected.end();
      const bool explanation_ok =
          one.expected_explanation.empty() ||
          (one.expected_explanation == "DEFAULT" ? one.outcome.explanation.empty()
                                                 : one.outcome.explanation == one.expected_explanation);
      one.pass = one.done_calls == 1 && result_ok && explanation_ok;
      report.cases.push_back(std::move(one));
    }
  }
  return report;
}

std::string describe(const CaseReport& report) {
  std::string expected;
  for (const std::string& result : report.expected) {
    expected += (expected.empty() ? "" : "|") + result;
  }
  std::string text = report.name + " (" + report.scenario + "): expected " + expected + ", got " +
                     std::string(name(report.outcome.result));
  if (!report.expected_explanation.empty()) {
    text += "; explanation expected \"" + report.expected_explanation + "\", got \"" + report.outcome.explanation + "\"";
  }
  if (!report.outcome.problem.empty()) {
    text += "; problem: " + report.outcome.problem;
  }
  if (report.done_calls != 1) {
    text += "; done called " + std::to_string(report.done_calls) + " times";
  }
  return text;
}

}  // namespace mxgate::spf::test
