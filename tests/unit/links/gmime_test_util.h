// GMime helpers for the links unit tests: an unmodified CRLF round trip, the part tree of a
// message and the decoded bytes of its leaf parts, to check rewriteMessage's output
// independently of the rewriter. Test-only; single thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxgate::links::test {

struct LeafPart {
  std::string content_type;  // "type/subtype", lower case
  std::string charset;       // "" when absent
  std::string encoding;      // Content-Transfer-Encoding value as GMime names it, "" when absent
  std::string decoded;       // transfer-decoded bytes (charset untouched)
};

// Whether GMime parses text into a message at all.
bool parses(std::string_view message);
// Parse and serialise without changes, with CRLF format options.
std::string roundTrip(std::string_view message);
// "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf,message/rfc822[text/plain])".
std::string partTree(std::string_view message);
// The leaf parts, in order, not descending into message/rfc822 parts.
std::vector<LeafPart> leafParts(std::string_view message);
// The header section (up to and including the empty line).
std::string headerSection(std::string_view message);

}  // namespace mxgate::links::test
