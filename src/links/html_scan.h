// A linear scan of HTML at the level of the HTML5 tokenizer (WHATWG HTML §13.2.5: tags with
// their attributes, comments, bogus comments, RCDATA/RAWTEXT/script/PLAINTEXT elements), with
// no tree construction. It locates the <a> and <area> start tags and the first </body> tag,
// and estimates the element nesting depth. Gumbo's tree construction costs time proportional
// to the depth for every tag (and clones formatting elements without bound), so deep
// documents are rewritten from this scan instead of a full parse.
// Private to the links component; pure, any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace mxgate::links::detail {

struct TagSpan {
  size_t begin = 0;  // offset of '<'
  size_t end = 0;    // offset after '>'
};

struct HtmlScan {
  std::vector<TagSpan> link_tags;  // <a ...> and <area ...> start tags, in source order
  size_t body_end = std::string_view::npos;  // offset of the first </body> end tag
  size_t depth = 0;  // estimated deepest nesting: open start tags, common implied end tags applied
};

HtmlScan scanHtml(std::string_view html);

}  // namespace mxgate::links::detail
