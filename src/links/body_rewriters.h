// The HTML and plain-text rewriters behind rewriteHtml, rewriteText and rewriteMessage, in the
// form the message rewriter needs: no copy when nothing changes, and the HTML rewriter reports
// the targets of no-track links so the text part can skip them too.
// Private to the links component; pure, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "link_policy.h"

namespace mxgate::links::detail {

// Rewrites the links of an HTML document (and appends the open pixel when the policy wants
// one). Returns false and leaves out alone when nothing changed. When no_track_urls is given,
// the http/https targets of links marked no-track are appended to it.
bool rewriteHtmlInto(std::string_view html, LinkPolicy& policy, std::string& out,
                     std::vector<std::string>* no_track_urls);

// Rewrites the http/https URLs of plain text. Returns false and leaves out alone when nothing
// changed.
bool rewriteTextInto(std::string_view text, LinkPolicy& policy, std::string& out);

}  // namespace mxgate::links::detail
