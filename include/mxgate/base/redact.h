// Redaction of URLs before they are shown, logged or stored for display: webhook URLs often
// carry credentials (RFC 3986 §3.2.1 userinfo, tokens in the query or the fragment), so every
// log line, listing, last reply and event that names an endpoint uses redactUrl(). The
// scheme, host, port and path stay, so an operator still sees which endpoint it is. Pure;
// any thread.
#pragma once

#include <string>
#include <string_view>

namespace mxgate {

// What replaces a query or a fragment.
inline constexpr std::string_view kRedacted = "[redacted]";

// "https://user:pw@host:8443/hook?token=x#y" → "https://host:8443/hook?[redacted]#[redacted]".
// Text without "://" is treated as a path: its query and fragment are replaced all the same.
std::string redactUrl(std::string_view url);

}  // namespace mxgate
