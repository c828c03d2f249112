// HTML form submissions in a request body: the value of one field, from
// application/x-www-form-urlencoded (the WHATWG URL Standard's parser: '&'-separated name=value
// pairs, '+' for a space, %XX escapes) or multipart/form-data (RFC 7578: parts between
// "--boundary" delimiter lines, each named by its Content-Disposition: form-data; name="...").
// Used for RFC 8058 one-click unsubscribe POSTs. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxgate::http {

// The value of the first field called name, or nullopt when there is none or the body does not
// parse as its content type says. A content type other than multipart/form-data (also none)
// is read as urlencoded.
std::optional<std::string> formField(std::string_view content_type, std::string_view body, std::string_view name);

}  // namespace mxgate::http
