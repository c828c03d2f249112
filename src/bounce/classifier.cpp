// Bounce classification (see include/mxgate/bounce/classifier.h). Pure; any thread.
#include "mxgate/bounce/classifier.h"

#include "mxgate/base/ascii.h"

namespace mxgate::bounce {

std::string_view className(Class value) {
  switch (value) {
    case Class::Hard: return "hard";
    case Class::Soft: return "soft";
    case Class::Block: return "block";
  }
  return "soft";
}

std::optional<Class> parseClass(std::string_view text) {
  for (Class value : {Class::Hard, Class::Soft, Class::Block}) {
    if (text == className(value)) {
      return value;
    }
  }
  return std::nullopt;
}

std::string compileReplyPattern(const std::string& pattern, std::regex& out) {
  if (pattern.empty()) {
    return "must not be empty";
  }
  if (pattern.size() > kMaxPatternLength) {
    return "longer than " + std::to_string(kMaxPatternLength) + " bytes";
  }
  try {
    out = std::regex(pattern, std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return std::string("not a valid regular expression: ") + e.what();
  }
  return "";
}

bool replyMatches(const std::regex& pattern, std::string_view reply) {
  const std::string_view text = reply.substr(0, kMaxClassifiedLength);
  try {
    return std::regex_search(text.begin(), text.end(), pattern);
  } catch (const std::regex_error&) {
    return false;  // the expression is too complex for this reply
  }
}

std::string compileMatch(Rule& rule) { return compileReplyPattern(rule.match, rule.regex); }

std::string checkLabel(std::string_view text) {
  if (text.empty() || text.size() > kMaxLabelLength) {
    return "must be 1 to " + std::to_string(kMaxLabelLength) + " characters";
  }
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || ascii::isDigit(static_cast<unsigned char>(c)) || c == '_')) {
      return "may hold only a-z, 0-9 and '_'";
    }
  }
  return "";
}

Classification classify(const Rules& rules, std::string_view reply, bool permanent) {
  const std::string_view text = reply.substr(0, kMaxClassifiedLength);
  for (const Rule& rule : rules.rules) {
    if (replyMatches(rule.regex, text)) {
      return Classification{rule.cls, rule.label};
    }
  }
  const bool coded = text.size() >= 3 && ascii::isDigit(static_cast<unsigned char>(text[0])) &&
                     ascii::isDigit(static_cast<unsigned char>(text[1])) && ascii::isDigit(static_cast<unsigned char>(text[2])) &&
                     (text.size() == 3 || text[3] == ' ' || text[3] == '-');
  if (coded && (text[0] == '4' || text[0] == '5')) {
    permanent = text[0] == '5';
  }
  return Classification{permanent ? Class::Hard : Class::Soft, std::string(kUnclassified)};
}

}  // namespace mxgate::bounce
