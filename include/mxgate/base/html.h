// HTML escaping for text and attribute values (HTML Living Standard §13.1.2.5/§13.1.4): the
// five characters & < > " ' become character references, so untrusted text (a link target on
// the click endpoint's page) and generated attribute values (rewritten links) cannot end an
// element or an attribute. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate::html {

void appendEscaped(std::string& out, std::string_view text);
std::string escaped(std::string_view text);

}  // namespace mxgate::html
