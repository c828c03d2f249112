// Header section structure (RFC 5322 §2.2, §2.2.3, §3.5) for the From parser, the
// Authentication-Results stripper and fieldBodies (mxgate/auth/header_section.h). Pure; any thread.
#include "header_fields.h"

#include "mxgate/auth/header_section.h"
#include "mxgate/base/ascii.h"

namespace mxgate::auth {

namespace {

enum State : uint8_t {
  kLineStart = kHeaderScanStart,
  kInLine,
  kInLineAfterCr,
  kCrAtLineStart,
  kBody,
};

}  // namespace

HeaderByte scanHeaderByte(uint8_t& state, char c) {
  switch (state) {
    case kLineStart:
      if (c == ' ' || c == '\t') {
        state = kInLine;
        return HeaderByte::InField;
      }
      state = c == '\r' ? kCrAtLineStart : kInLine;
      return HeaderByte::FieldStart;
    case kCrAtLineStart:
      if (c == '\n') {
        state = kBody;
        return HeaderByte::SectionEnd;
      }
      state = c == '\r' ? kInLineAfterCr : kInLine;
      return HeaderByte::InField;
    case kInLine:
      state = c == '\r' ? kInLineAfterCr : kInLine;
      return HeaderByte::InField;
    case kInLineAfterCr:
      state = c == '\n' ? kLineStart : (c == '\r' ? kInLineAfterCr : kInLine);
      return HeaderByte::InField;
    default:
      return HeaderByte::Body;
  }
}

std::optional<std::string_view> fieldName(std::string_view field) {
  const size_t colon = field.find(':');
  const size_t line_end = field.find("\r\n");
  if (colon == std::string_view::npos || (line_end != std::string_view::npos && line_end < colon)) {
    return std::nullopt;
  }
  std::string_view name = field.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    name.remove_suffix(1);
  }
  return name;
}

std::string unfoldedBody(std::string_view field) {
  const size_t colon = field.find(':');
  std::string_view body = colon == std::string_view::npos ? std::string_view() : field.substr(colon + 1);
  if (body.ends_with("\r\n")) {
    body.remove_suffix(2);
  }
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 2 < body.size() && body[i + 1] == '\n' && (body[i + 2] == ' ' || body[i + 2] == '\t')) {
      ++i;  // skip the CRLF, keep the WSP
      continue;
    }
    out.push_back(body[i]);
  }
  return out;
}

std::vector<std::string> fieldBodies(std::string_view header_section, std::string_view name) {
  std::vector<std::string> bodies;
  forEachHeaderField(header_section, [&bodies, name](std::string_view field_name, std::string_view field) {
    if (ascii::equalsIgnoreCase(field_name, name)) {
      bodies.push_back(unfoldedBody(field));
    }
  });
  return bodies;
}

}  // namespace mxgate::auth
