// Tag=value lists (RFC 6376 §3.2): the syntax of DKIM-Signature fields and DKIM key records,
// which RFC 7489 §6.4 reuses for DMARC records. Private to the auth component; pure, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxgate::auth {

struct Tag {
  std::string_view name;   // case-sensitive (RFC 6376 §3.2)
  std::string_view value;  // without the surrounding FWS; inner FWS kept
};

struct TagList {
  std::vector<Tag> tags;  // in order, as far as the text parsed
  std::string error;      // empty when the whole text is a valid tag-list

  bool valid() const { return error.empty(); }
  // The tag with exactly this name, or nullptr.
  const Tag* find(std::string_view name) const;
};

// Parses text as tag-list = tag-spec *( ";" tag-spec ) [ ";" ]. A duplicated tag name makes the
// whole list invalid (§3.2). The views point into text.
TagList parseTagList(std::string_view text);

// The value with every FWS byte (SP, HTAB, CR, LF) removed.
std::string withoutFoldingWhitespace(std::string_view value);

}  // namespace mxgate::auth
