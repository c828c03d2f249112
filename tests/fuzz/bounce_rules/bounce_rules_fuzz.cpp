// libFuzzer target for bounce rules files (conf/bounce_rules.toml format) and the classifier:
// the input up to its first NUL is a rules file, the rest a reply. A file that reads without
// errors yields only rules with a compiled expression, a class and a valid label; one with errors
// names the file in each; the reply is classified by the built-in rules, and a classification
// always has a label. The rules read are compiled but not run: a fuzzed expression may backtrack
// exponentially (as an operator's could; the rules file is trusted configuration), which would
// only stall the fuzzer. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/bounce/classifier.h"
#include "mxgate/config/config.h"

namespace {

const mxgate::bounce::Rules& builtIn() {
  static const mxgate::bounce::Rules rules = [] {
    mxgate::bounce::Rules out;
    if (!mxgate::config::parseBounceRules("<built-in>", std::string(mxgate::bounce::defaultRulesText()), out).empty()) {
      __builtin_trap();
    }
    return out;
  }();
  return rules;
}

void checkClassification(const mxgate::bounce::Classification& result) {
  if (!mxgate::bounce::checkLabel(result.label).empty()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  const std::string_view reply = nul == std::string_view::npos ? input : input.substr(nul + 1);

  mxgate::bounce::Rules rules;
  const std::vector<mxgate::config::ConfigError> errors = mxgate::config::parseBounceRules("fuzz.toml", text, rules);
  for (const mxgate::config::ConfigError& error : errors) {
    if (error.file != "fuzz.toml" || error.message.empty() || error.line < 0) {
      __builtin_trap();
    }
  }
  if (errors.empty() && rules.rules.empty()) {
    __builtin_trap();
  }
  if (rules.rules.size() > mxgate::bounce::kMaxRules) {
    __builtin_trap();
  }
  for (const mxgate::bounce::Rule& rule : rules.rules) {
    if (rule.match.empty() || !mxgate::bounce::checkLabel(rule.label).empty() || rule.line <= 0) {
      __builtin_trap();
    }
  }
  checkClassification(mxgate::bounce::classify(builtIn(), reply, !rules.rules.empty()));
  return 0;
}
