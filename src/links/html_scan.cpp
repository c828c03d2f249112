// Tokenizer-level scan of HTML (WHATWG HTML §13.2.5, scripting disabled as in gumbo): finds the
// <a>/<area> start tags and the first </body>, and estimates nesting with a small stack model
// (void elements, <p> closed by blocks, same-name implied end tags, end tags matched within
// the top of the stack). Linear in the input; the model's stack is capped. See html_scan.h.
// Pure; any thread.
#include "html_scan.h"

#include <algorithm>
#include <initializer_list>

#include "mxgate/base/ascii.h"

namespace mxgate::links::detail {
namespace {

constexpr size_t kStackCap = 4096;  // the depth estimate saturates here
constexpr size_t kMatchWindow = 16;  // how far down an end tag or implied end tag looks

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool oneOf(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(), [name](std::string_view n) { return ascii::equalsIgnoreCase(name, n); });
}

bool heading(std::string_view name) {
  return name.size() == 2 && ascii::toLower(name[0]) == 'h' && name[1] >= '1' && name[1] <= '6';
}

bool voidElement(std::string_view name) {
  return oneOf(name, {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
                      "input", "keygen", "link", "meta", "param", "source", "track", "wbr"});
}

// Start tags that close an open <p> (WHATWG HTML §13.2.6.4.7).
bool closesParagraph(std::string_view name) {
  return heading(name) ||
         oneOf(name, {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
                      "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr", "li", "dd", "dt",
                      "listing", "main", "menu", "nav", "ol", "p", "plaintext", "pre", "section", "summary", "table",
                      "ul", "xmp"});
}

// Start tags that close an open element of the same kind.
bool closesSame(std::string_view name) {
  return heading(name) || oneOf(name, {"a", "button", "dd", "dt", "li", "nobr", "option", "optgroup", "p", "rb", "rp",
                                       "rt", "rtc", "tbody", "td", "tfoot", "th", "thead", "tr"});
}

bool sameKind(std::string_view a, std::string_view b) {
  return ascii::equalsIgnoreCase(a, b) || (heading(a) && heading(b));
}

class DepthModel {
 public:
  void start(std::string_view name) {
    if (voidElement(name)) {
      return;
    }
    if (!open_.empty() && ascii::equalsIgnoreCase(open_.back(), "p") && closesParagraph(name)) {
      open_.pop_back();
    }
    if (closesSame(name)) {
      popTo(name);
    }
    if (open_.size() < kStackCap) {
      open_.push_back(name);
    }
    depth_ = std::max(depth_, open_.size());
  }
  void end(std::string_view name) { popTo(name); }
  size_t depth() const { return depth_; }

 private:
  void popTo(std::string_view name) {
    const size_t window = std::min(open_.size(), kMatchWindow);
    for (size_t i = 1; i <= window; ++i) {
      if (sameKind(open_[open_.size() - i], name)) {
        open_.resize(open_.size() - i);
        return;
      }
    }
  }

  std::vector<std::string_view> open_;
  size_t depth_ = 0;
};

// Position after the '>' of a tag whose name ends at pos, stepping over attributes (quoted
// values may hold '>'); npos when the input ends inside the tag (the tokenizer drops it).
size_t tagEnd(std::string_view html, size_t pos) {
  const size_t n = html.size();
  while (pos < n) {
    while (pos < n && (space(html[pos]) || html[pos] == '/')) {
      ++pos;
    }
    if (pos >= n) {
      break;
    }
    if (html[pos] == '>') {
      return pos + 1;
    }
    // Attribute name ('=' may start one).
    ++pos;
    while (pos < n && !space(html[pos]) && html[pos] != '/' && html[pos] != '>' && html[pos] != '=') {
      ++pos;
    }
    while (pos < n && space(html[pos])) {
      ++pos;
    }
    if (pos >= n || html[pos] != '=') {
      continue;
    }
    ++pos;
    while (pos < n && space(html[pos])) {
      ++pos;
    }
    if (pos >= n) {
      break;
    }
    if (html[pos] == '"' || html[pos] == '\'') {
      const size_t close = html.find(html[pos], pos + 1);
      if (close == std::string_view::npos) {
        break;
      }
      pos = close + 1;
    } else if (html[pos] != '>') {
      while (pos < n && !space(html[pos]) && html[pos] != '>') {
        ++pos;
      }
    }
  }
  return std::string_view::npos;
}

size_t nameEnd(std::string_view html, size_t pos) {
  while (pos < html.size() && !space(html[pos]) && html[pos] != '/' && html[pos] != '>') {
    ++pos;
  }
  return pos;
}

// End of a comment that starts at pos ("<!--"), per the comment states: "<!-->" and "<!--->"
// close at once, otherwise "-->" or "--!>" ends it.
size_t commentEnd(std::string_view html, size_t pos) {
  const std::string_view rest = html.substr(pos + 4);
  if (rest.starts_with(">")) {
    return pos + 5;
  }
  if (rest.starts_with("->")) {
    return pos + 6;
  }
  size_t dashes = html.find("--", pos + 4);
  while (dashes != std::string_view::npos) {
    if (dashes + 2 < html.size() && html[dashes + 2] == '>') {
      return dashes + 3;
    }
    if (dashes + 3 < html.size() && html[dashes + 2] == '!' && html[dashes + 3] == '>') {
      return dashes + 4;
    }
    dashes = html.find("--", dashes + 1);
  }
  return html.size();
}

size_t bogusCommentEnd(std::string_view html, size_t pos) {
  const size_t close = html.find('>', pos);
  return close == std::string_view::npos ? html.size() : close + 1;
}

// Where the text of a raw-text element named name ends: at its "</name" end tag.
size_t rawTextEnd(std::string_view html, size_t pos, std::string_view name) {
  size_t candidate = html.find("</", pos);
  while (candidate != std::string_view::npos) {
    const size_t after = candidate + 2 + name.size();
    if (after <= html.size() && ascii::equalsIgnoreCase(html.substr(candidate + 2, name.size()), name) &&
        (after == html.size() || space(html[after]) || html[after] == '/' || html[after] == '>')) {
      return candidate;
    }
    candidate = html.find("</", candidate + 2);
  }
  return html.size();
}

}  // namespace

HtmlScan scanHtml(std::string_view html) {
  HtmlScan scan;
  DepthModel model;
  const size_t n = html.size();
  size_t pos = 0;
  while (pos < n) {
    const size_t lt = html.find('<', pos);
    if (lt == std::string_view::npos || lt + 1 >= n) {
      break;
    }
    const char next = html[lt + 1];
    if (next == '!') {
      pos = html.substr(lt + 2).starts_with("--") ? commentEnd(html, lt) : bogusCommentEnd(html, lt + 2);
    } else if (next == '?') {
      pos = bogusCommentEnd(html, lt + 2);
    } else if (next == '/') {
      if (lt + 2 < n && ascii::isAlpha(static_cast<unsigned char>(html[lt + 2]))) {
        const size_t name_end = nameEnd(html, lt + 2);
        const std::string_view name = html.substr(lt + 2, name_end - lt - 2);
        const size_t end = tagEnd(html, name_end);
        if (end == std::string_view::npos) {
          break;
        }
        model.end(name);
        if (scan.body_end == std::string_view::npos && ascii::equalsIgnoreCase(name, "body")) {
          scan.body_end = lt;
        }
        pos = end;
      } else if (lt + 2 < n && html[lt + 2] == '>') {
        pos = lt + 3;
      } else {
        pos = bogusCommentEnd(html, lt + 2);
      }
    } else if (ascii::isAlpha(static_cast<unsigned char>(next))) {
      const size_t name_end = nameEnd(html, lt + 1);
      const std::string_view name = html.substr(lt + 1, name_end - lt - 1);
      const size_t end = tagEnd(html, name_end);
      if (end == std::string_view::npos) {
        break;
      }
      model.start(name);
      if (ascii::equalsIgnoreCase(name, "a") || ascii::equalsIgnoreCase(name, "area")) {
        scan.link_tags.push_back({lt, end});
      }
      pos = end;
      if (ascii::equalsIgnoreCase(name, "plaintext")) {
        break;
      }
      if (oneOf(name, {"title", "textarea", "style", "xmp", "iframe", "noembed", "noframes", "script"})) {
        pos = rawTextEnd(html, pos, name);
      }
    } else {
      pos = lt + 1;
    }
  }
  scan.depth = model.depth();
  return scan;
}

}  // namespace mxgate::links::detail
