// Plain-text link rewriting: a linear scanner finds http:// and https:// URLs (scheme
// case-insensitive, at a word start) the way mail clients linkify them: a URL ends at white
// space, a control character, '<', '>' or '"', and loses trailing sentence punctuation and
// closing brackets that are not balanced inside it. Also the List-Unsubscribe URL list
// (RFC 2369 §2: angle-bracketed URLs, comma separated, comments allowed).
// Pure; any thread.
#include <array>

#include "body_rewriters.h"
#include "mxgate/base/ascii.h"

namespace mxgate::links {
namespace detail {
namespace {

bool endsUrl(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"'; }

bool wordCharacter(unsigned char c) { return ascii::isAlpha(c) || ascii::isDigit(c); }

// Length of the "http://" or "https://" at the start of text, 0 when there is none.
size_t schemeLength(std::string_view text) {
  if (ascii::startsWithIgnoreCase(text, "http://")) {
    return 7;
  }
  if (ascii::startsWithIgnoreCase(text, "https://")) {
    return 8;
  }
  return 0;
}

// The URL without trailing punctuation and without closing brackets that have no partner
// inside it. Linear: the bracket counts are taken once.
std::string_view trimTrail(std::string_view url, size_t keep) {
  constexpr std::string_view kOpeners = "([{";
  constexpr std::string_view kClosers = ")]}";
  std::array<size_t, 3> opened{};
  std::array<size_t, 3> closed{};
  for (char c : url) {
    if (const size_t i = kOpeners.find(c); i != std::string_view::npos) {
      ++opened[i];
    } else if (const size_t j = kClosers.find(c); j != std::string_view::npos) {
      ++closed[j];
    }
  }
  while (url.size() > keep) {
    const char last = url.back();
    if (std::string_view(".,;:!?'").find(last) != std::string_view::npos) {
      url.remove_suffix(1);
      continue;
    }
    const size_t i = kClosers.find(last);
    if (i != std::string_view::npos && closed[i] > opened[i]) {
      --closed[i];
      url.remove_suffix(1);
      continue;
    }
    break;
  }
  return url;
}

}  // namespace

bool rewriteTextInto(std::string_view text, LinkPolicy& policy, std::string& out) {
  if (!policy.active()) {
    return false;
  }
  std::string result;
  size_t copied = 0;
  bool changed = false;
  size_t pos = text.find_first_of("hH");
  while (pos != std::string_view::npos) {
    const size_t scheme = pos > 0 && wordCharacter(static_cast<unsigned char>(text[pos - 1]))
                              ? 0
                              : schemeLength(text.substr(pos));
    if (scheme == 0) {
      pos = text.find_first_of("hH", pos + 1);
      continue;
    }
    size_t end = pos + scheme;
    while (end < text.size() && !endsUrl(static_cast<unsigned char>(text[end]))) {
      ++end;
    }
    const std::string_view url = trimTrail(text.substr(pos, end - pos), scheme);
    if (url.size() > scheme) {
      if (auto link = policy.rewrite(url)) {
        if (!changed) {
          result.reserve(text.size() + text.size() / 4);
          changed = true;
        }
        result.append(text.substr(copied, pos - copied));
        result += *link;
        copied = pos + url.size();
      }
    }
    pos = text.find_first_of("hH", pos + url.size());
  }
  if (!changed) {
    return false;
  }
  result.append(text.substr(copied));
  out = std::move(result);
  return true;
}

}  // namespace detail

std::string rewriteText(std::string_view text, std::string_view queue_id, const Settings& settings,
                        const std::vector<std::string>& skip_urls, uint32_t& next_index) {
  detail::LinkPolicy policy(queue_id, settings, skip_urls, next_index);
  std::string out;
  if (!detail::rewriteTextInto(text, policy, out)) {
    out = std::string(text);
  }
  return out;
}

std::vector<std::string> listUnsubscribeUrls(std::string_view value) {
  std::vector<std::string> urls;
  size_t pos = 0;
  while (pos < value.size()) {
    const char c = value[pos];
    if (c == '(') {
      // A comment (RFC 5322 §3.2.2): nested parentheses, backslash quotes the next character.
      size_t depth = 0;
      for (; pos < value.size(); ++pos) {
        if (value[pos] == '\\') {
          ++pos;
        } else if (value[pos] == '(') {
          ++depth;
        } else if (value[pos] == ')' && --depth == 0) {
          break;
        }
      }
      ++pos;
    } else if (c == '<') {
      const size_t close = value.find('>', pos + 1);
      if (close == std::string_view::npos) {
        break;
      }
      std::string url;
      for (char u : value.substr(pos + 1, close - pos - 1)) {
        if (u != ' ' && u != '\t' && u != '\r' && u != '\n') {
          url += u;
        }
      }
      if (!url.empty()) {
        urls.push_back(std::move(url));
      }
      pos = close + 1;
    } else {
      ++pos;
    }
  }
  return urls;
}

}  // namespace mxgate::links
