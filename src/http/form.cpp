// Form field lookup (see include/mxgate/http/form.h; WHATWG URL Standard §5.1
// application/x-www-form-urlencoded parsing, RFC 7578 multipart/form-data with the RFC 2046
// §5.1.1 delimiter syntax). Any thread.
#include "mxgate/http/form.h"

#include "mxgate/base/ascii.h"

namespace mxgate::http {
namespace {

// '+' is a space, %XX a byte; a '%' not followed by two hex digits stays as it is.
std::string formDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int high = i + 2 < text.size() ? ascii::hexValue(static_cast<unsigned char>(text[i + 1])) : -1;
    const int low = i + 2 < text.size() ? ascii::hexValue(static_cast<unsigned char>(text[i + 2])) : -1;
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && high >= 0 && low >= 0) {
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::string> urlencodedField(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    const size_t equals = pair.find('=');
    if (formDecode(pair.substr(0, equals)) == name) {
      return formDecode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    }
  }
  return std::nullopt;
}

// The value of parameter `parameter` in a header value such as `form-data; name="x"` or
// `multipart/form-data; boundary=abc` (quoted, where a backslash escapes, or a token).
std::optional<std::string> headerParameter(std::string_view value, std::string_view parameter) {
  size_t i = value.find(';');
  while (i != std::string_view::npos) {
    const size_t equals = value.find('=', i + 1);
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    const bool wanted = ascii::equalsIgnoreCase(ascii::trim(value.substr(i + 1, equals - i - 1)), parameter);
    size_t at = equals + 1;
    while (at < value.size() && (value[at] == ' ' || value[at] == '\t')) {
      ++at;
    }
    std::string found;
    if (at < value.size() && value[at] == '"') {
      for (++at; at < value.size() && value[at] != '"'; ++at) {
        if (value[at] == '\\' && at + 1 < value.size()) {
          ++at;
        }
        found += value[at];
      }
      if (at == value.size()) {
        return std::nullopt;  // unterminated quotes
      }
      ++at;
    } else {
      const size_t end = value.find(';', at);
      found = std::string(ascii::trim(value.substr(at, end == std::string_view::npos ? end : end - at)));
      at = end == std::string_view::npos ? value.size() : end;
    }
    if (wanted) {
      return found;
    }
    i = value.find(';', at);
  }
  return std::nullopt;
}

std::optional<std::string> multipartField(std::string_view content_type, std::string_view body, std::string_view name) {
  const std::optional<std::string> boundary = headerParameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) {
    return std::nullopt;
  }
  const std::string delimiter = "--" + *boundary;
  // Every delimiter but a first one at the very start follows a CRLF (RFC 2046 §5.1.1).
  size_t at = body.starts_with(delimiter) ? 0 : body.find("\r\n" + delimiter);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  at += at == 0 ? delimiter.size() : delimiter.size() + 2;
  while (at < body.size() && !body.substr(at).starts_with("--")) {
    const size_t line_end = body.find("\r\n", at);
    const size_t headers_end = line_end == std::string_view::npos ? line_end : body.find("\r\n\r\n", line_end);
    if (headers_end == std::string_view::npos) {
      return std::nullopt;
    }
    const size_t content_start = headers_end + 4;
    const size_t next = body.find("\r\n" + delimiter, headers_end + 2);
    if (next == std::string_view::npos) {
      return std::nullopt;  // no closing delimiter
    }
    std::string_view headers = body.substr(line_end + 2, headers_end + 2 - (line_end + 2));
    while (!headers.empty()) {
      const size_t end = headers.find("\r\n");
      const std::string_view header = headers.substr(0, end);
      headers = end == std::string_view::npos ? std::string_view() : headers.substr(end + 2);
      const size_t colon = header.find(':');
      if (colon == std::string_view::npos ||
          !ascii::equalsIgnoreCase(ascii::trim(header.substr(0, colon)), "content-disposition")) {
        continue;
      }
      const std::string_view disposition = ascii::trim(header.substr(colon + 1));
      if (ascii::startsWithIgnoreCase(disposition, "form-data") && headerParameter(disposition, "name") == name) {
        return std::string(body.substr(content_start, next >= content_start ? next - content_start : 0));
      }
    }
    at = next + 2 + delimiter.size();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> formField(std::string_view content_type, std::string_view body, std::string_view name) {
  if (ascii::startsWithIgnoreCase(ascii::trim(content_type), "multipart/form-data")) {
    return multipartField(content_type, body, name);
  }
  return urlencodedField(body, name);
}

}  // namespace mxgate::http
