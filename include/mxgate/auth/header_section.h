// Reading named fields of an RFC 5322 header section (§2.2, §2.2.3 unfolding) for stages
// outside the auth component. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxgate::auth {

// The unfolded bodies (after the ':', folding CRLFs removed) of every field whose name is
// `name` (case-insensitive), in order. The section is canonical CRLF text; an empty line ends it.
std::vector<std::string> fieldBodies(std::string_view header_section, std::string_view name);

}  // namespace mxgate::auth
