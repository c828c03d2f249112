// The Public Suffix List algorithm (publicsuffix.org/list "Formal Algorithm"): the prevailing
// rule is an exception rule if one matches, else the matching rule with the most labels, else
// the implicit "*"; the public suffix is the name's labels matched by it (one fewer for an
// exception); the registrable domain adds one label. IDN rules are listed in UTF-8, so A-labels
// in a name are decoded with Punycode (RFC 3492 §6.2) before matching. Loaded once, then
// read-only; any thread.
#include "public_suffix.h"

#include <cstdint>
#include <fstream>
#include <vector>

#include "mxgate/base/ascii.h"

namespace mxgate::auth {
namespace {

// Longer than the UTF-8 form of any 253-octet domain name needs to be, short enough that the
// quadratic suffix walk stays cheap on hostile input.
constexpr size_t kMaxNameLength = 1024;

std::vector<std::string_view> splitLabels(std::string_view name) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  for (;;) {
    const size_t dot = name.find('.', start);
    labels.push_back(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) {
      return labels;
    }
    start = dot + 1;
  }
}

std::string join(const std::vector<std::string>& labels, size_t first) {
  std::string out;
  for (size_t i = first; i < labels.size(); ++i) {
    if (i != first) {
      out.push_back('.');
    }
    out += labels[i];
  }
  return out;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// RFC 3492 §6.1 bias adaptation.
uint32_t adapt(uint32_t delta, uint32_t points, bool first) {
  constexpr uint32_t kBase = 36, kTMin = 1, kTMax = 26, kSkew = 38, kDamp = 700;
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / points;
  uint32_t k = 0;
  while (delta > ((kBase - kTMin) * kTMax) / 2) {
    delta /= kBase - kTMin;
    k += kBase;
  }
  return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
}

}  // namespace

std::string decodePunycode(std::string_view encoded) {
  constexpr uint32_t kBase = 36, kTMin = 1, kTMax = 26, kMax = UINT32_MAX;
  std::vector<uint32_t> output;
  size_t in = 0;
  if (const size_t delimiter = encoded.rfind('-'); delimiter != std::string_view::npos) {
    for (size_t j = 0; j < delimiter; ++j) {
      if (static_cast<unsigned char>(encoded[j]) >= 0x80) {
        return "";
      }
      output.push_back(static_cast<unsigned char>(encoded[j]));
    }
    in = delimiter + 1;
  }
  uint32_t n = 0x80;
  uint32_t i = 0;
  uint32_t bias = 72;
  while (in < encoded.size()) {
    const uint32_t old_i = i;
    uint32_t w = 1;
    for (uint32_t k = kBase;; k += kBase) {
      if (in == encoded.size()) {
        return "";
      }
      const auto c = static_cast<unsigned char>(encoded[in++]);
      uint32_t digit = kBase;
      if (ascii::isDigit(c)) {
        digit = c - '0' + 26;
      } else if (ascii::isAlpha(c)) {
        digit = static_cast<uint32_t>(ascii::toLower(static_cast<char>(c)) - 'a');
      }
      if (digit >= kBase || digit > (kMax - i) / w) {
        return "";
      }
      i += digit * w;
      const uint32_t t = k <= bias ? kTMin : (k >= bias + kTMax ? kTMax : k - bias);
      if (digit < t) {
        break;
      }
      if (w > kMax / (kBase - t)) {
        return "";
      }
      w *= kBase - t;
    }
    const auto points = static_cast<uint32_t>(output.size() + 1);
    bias = adapt(i - old_i, points, old_i == 0);
    if (i / points > kMax - n) {
      return "";
    }
    n += i / points;
    i %= points;
    if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) {
      return "";
    }
    output.insert(output.begin() + i, n);
    ++i;
  }
  std::string utf8;
  for (uint32_t cp : output) {
    appendUtf8(utf8, cp);
  }
  return utf8;
}

std::shared_ptr<const PublicSuffixList> PublicSuffixList::load(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot be opened";
    return nullptr;
  }
  auto list = std::make_shared<PublicSuffixList>();
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line.compare(start, 2, "//") == 0) {
      continue;
    }
    const size_t end = line.find_first_of(" \t\r", start);
    std::string rule = ascii::toLowerCopy(std::string_view(line).substr(start, end - start));
    if (rule.starts_with("!")) {
      list->exceptions_.insert(rule.substr(1));
    } else if (rule.starts_with("*.")) {
      list->wildcards_.insert(rule.substr(2));
    } else {
      list->rules_.insert(std::move(rule));
    }
  }
  if (in.bad() || (list->rules_.empty() && list->wildcards_.empty())) {
    error = path + ": no public suffix rules read";
    return nullptr;
  }
  return list;
}

std::string PublicSuffixList::registrableDomain(std::string_view domain) const {
  if (domain.ends_with('.')) {
    domain.remove_suffix(1);
  }
  if (domain.empty() || domain.size() > kMaxNameLength) {
    return "";
  }
  std::vector<std::string> labels;   // as given, lower-cased
  std::vector<std::string> matched;  // A-labels decoded, for matching
  for (std::string_view label : splitLabels(domain)) {
    if (label.empty()) {
      return "";
    }
    labels.push_back(ascii::toLowerCopy(label));
    const std::string& lower = labels.back();
    std::string decoded = lower.starts_with("xn--") ? decodePunycode(std::string_view(lower).substr(4)) : "";
    matched.push_back(decoded.empty() ? lower : std::move(decoded));
  }
  const size_t count = labels.size();
  size_t suffix_labels = 1;  // the implicit "*" rule
  for (size_t k = 1; k <= count; ++k) {
    const std::string suffix = join(matched, count - k);
    if (exceptions_.count(suffix) != 0) {
      suffix_labels = k - 1;
      break;
    }
    if (rules_.count(suffix) != 0 || (k >= 2 && wildcards_.count(join(matched, count - k + 1)) != 0)) {
      suffix_labels = k;
    }
  }
  if (count <= suffix_labels) {
    return "";
  }
  return join(labels, count - suffix_labels - 1);
}

}  // namespace mxgate::auth
