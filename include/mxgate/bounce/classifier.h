// Bounce classification: what a remote server's reply to a delivery attempt says about the
// recipient. Ordered rules (a regular expression over "<code> <enhanced code> <text>", RFC 5321
// §4.2 and RFC 3463 / the IANA enhanced status code registry) each give a class (hard: the
// address is bad; soft: a passing condition; block: the message or the sender was refused) and a
// label; the first match wins, and a reply no rule matches is classified by its code. The rules
// come from conf/bounce_rules.toml, compiled into the binary (defaultRulesText), or from the file
// `bounces.rules_file` names; src/config reads the file and reports its errors.
// Pure functions on immutable rules; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace mxgate::bounce {

enum class Class : uint8_t { Hard, Soft, Block };

std::string_view className(Class value);
std::optional<Class> parseClass(std::string_view text);

constexpr size_t kMaxRules = 1000;
constexpr size_t kMaxPatternLength = 1000;
constexpr size_t kMaxLabelLength = 64;
// Replies are classified by their first bytes (an RFC 5321 reply line is at most 512 octets;
// the bound also keeps the backtracking of std::regex shallow).
constexpr size_t kMaxClassifiedLength = 2048;

struct Rule {
  std::string match;  // the regular expression as written
  std::regex regex;   // ECMAScript, case-insensitive
  Class cls = Class::Hard;
  std::string label;
  int line = 0;  // where the rule starts in its file
};

// Compiles a pattern over replies (ECMAScript, case-insensitive, at most kMaxPatternLength
// bytes) into out; "" or why the expression is not usable. Also used by the back-off rules of
// traffic shaping.
std::string compileReplyPattern(const std::string& pattern, std::regex& out);
// Whether pattern occurs in the first kMaxClassifiedLength bytes of reply (false when the
// expression is too complex for it).
bool replyMatches(const std::regex& pattern, std::string_view reply);
// Sets rule.regex from rule.match; "" or why the expression is not usable.
std::string compileMatch(Rule& rule);
// "" or why text is not a label (1 to kMaxLabelLength of a-z, 0-9 and '_').
std::string checkLabel(std::string_view text);

struct Rules {
  std::string source;  // the file the rules came from, or "<built-in>"
  std::vector<Rule> rules;
};

struct Classification {
  Class cls = Class::Soft;
  std::string label;

  bool operator==(const Classification&) const = default;
};

// The label of a reply no rule matches.
constexpr std::string_view kUnclassified = "unclassified";

// The first rule matching reply, else by the reply's code (5xx hard, 4xx soft) or, for a reply
// without a code (a connection error), by permanent (hard when the failure is final).
Classification classify(const Rules& rules, std::string_view reply, bool permanent);

// The text of the shipped conf/bounce_rules.toml, compiled into the binary.
std::string_view defaultRulesText();

}  // namespace mxgate::bounce
