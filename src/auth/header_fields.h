// Header section structure (RFC 5322 §2.2, §2.2.3, §3.5): fields are a first line plus the
// continuation lines that start with WSP; an empty line ends the section. Input is canonical
// CRLF text and may arrive split anywhere. Private to the auth component (its public face is
// mxgate/auth/header_section.h); pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxgate::auth {

enum class HeaderByte {
  FieldStart,  // begins a new field (the previous one, if any, is complete)
  InField,     // continues the current field
  SectionEnd,  // the LF of the empty line; the current "field" was that line's CR
  Body,        // after the section
};

// The scanner's whole state, a plain byte so that public classes can hold it.
constexpr uint8_t kHeaderScanStart = 0;

// Classifies the next byte of a header section and advances state.
HeaderByte scanHeaderByte(uint8_t& state, char c);

// The field name of a complete field: the text before its first ':' with trailing WSP removed
// (RFC 5322 §4.5 obs-optional), or nullopt when there is no ':' on the first line.
std::optional<std::string_view> fieldName(std::string_view field);

// The field body after the first ':', with every CRLF that precedes WSP removed (§2.2.3) and
// the CRLF that ends the field dropped.
std::string unfoldedBody(std::string_view field);

// Calls field(name, field) for every complete field of the header section, in order.
template <typename Fn>
void forEachHeaderField(std::string_view header_section, Fn field) {
  uint8_t scan = kHeaderScanStart;
  size_t field_start = 0;
  bool in_field = false;
  auto closeField = [&](size_t end) {
    if (in_field) {
      const std::string_view text = header_section.substr(field_start, end - field_start);
      if (const auto name = fieldName(text)) {
        field(*name, text);
      }
    }
    in_field = false;
  };
  size_t pos = 0;
  for (; pos < header_section.size(); ++pos) {
    const HeaderByte byte = scanHeaderByte(scan, header_section[pos]);
    if (byte == HeaderByte::FieldStart) {
      closeField(pos);
      field_start = pos;
      in_field = true;
    } else if (byte != HeaderByte::InField) {
      in_field = false;  // the empty line that ends the section
      break;
    }
  }
  closeField(pos);
}

}  // namespace mxgate::auth
