// Tag=value lists (RFC 6376 §3.2):
//   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
//   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//   tag-name  = ALPHA *ALNUMPUNC            ; ALNUMPUNC = ALPHA / DIGIT / "_"
//   tag-value = [ tval *( 1*(WSP / FWS) tval ) ]   ; tval = 1*VALCHAR, VALCHAR = %x21-3A / %x3C-7E
// The text may still be folded (header field values): CR and LF count as FWS. Pure; any thread.
#include "tag_list.h"

#include "mxgate/base/ascii.h"

namespace mxgate::auth {
namespace {

// More tags than any DKIM signature, key record or DMARC record defines; keeps the duplicate
// check cheap on hostile input.
constexpr size_t kMaxTags = 64;

bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool isValChar(unsigned char c) { return (c >= 0x21 && c <= 0x3A) || (c >= 0x3C && c <= 0x7E); }

bool isNameChar(unsigned char c) { return ascii::isAlpha(c) || ascii::isDigit(c) || c == '_'; }

void skipFws(std::string_view text, size_t& pos) {
  while (pos < text.size() && isFws(text[pos])) {
    ++pos;
  }
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
  for (const Tag& tag : tags) {
    if (tag.name == name) {
      return &tag;
    }
  }
  return nullptr;
}

TagList parseTagList(std::string_view text) {
  TagList list;
  size_t pos = 0;
  skipFws(text, pos);
  if (pos == text.size()) {
    list.error = "empty tag list";
    return list;
  }
  for (;;) {
    const size_t name_start = pos;
    if (pos == text.size() || !ascii::isAlpha(static_cast<unsigned char>(text[pos]))) {
      list.error = "tag name expected";
      return list;
    }
    while (pos < text.size() && isNameChar(static_cast<unsigned char>(text[pos]))) {
      ++pos;
    }
    const std::string_view name = text.substr(name_start, pos - name_start);
    skipFws(text, pos);
    if (pos == text.size() || text[pos] != '=') {
      list.error = "'=' expected after tag " + std::string(name);
      return list;
    }
    ++pos;
    skipFws(text, pos);
    const size_t value_start = pos;
    size_t value_end = pos;
    while (pos < text.size() && text[pos] != ';') {
      const auto c = static_cast<unsigned char>(text[pos]);
      if (isValChar(c)) {
        value_end = pos + 1;
      } else if (!isFws(text[pos])) {
        list.error = "invalid character in tag " + std::string(name);
        return list;
      }
      ++pos;
    }
    if (list.tags.size() == kMaxTags) {
      list.error = "too many tags";
      return list;
    }
    if (list.find(name) != nullptr) {
      list.error = "duplicate tag " + std::string(name);
      return list;
    }
    list.tags.push_back(Tag{name, text.substr(value_start, value_end - value_start)});
    if (pos == text.size()) {
      return list;
    }
    ++pos;  // the ';'
    skipFws(text, pos);
    if (pos == text.size()) {
      return list;
    }
  }
}

std::string withoutFoldingWhitespace(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!isFws(c)) {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace mxgate::auth
