// Strict charset conversion of text parts to UTF-8 and back (RFC 2046 §4.1.2); see charset.h.
// iconv (through GMime's charset name table) for everything but UTF-8, US-ASCII and
// ISO-8859-1. Pure; any thread (each call opens its own conversion descriptor).
#include "charset.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cerrno>

#include "mxgate/base/ascii.h"
#include "mxgate/base/utf8.h"

namespace mxgate::links::detail {
namespace {

constexpr std::string_view kUtf8 = "utf-8";
constexpr std::string_view kAscii = "us-ascii";
constexpr std::string_view kLatin1 = "iso-8859-1";

enum class Builtin { Utf8, Ascii, Latin1, None };

Builtin builtinOf(std::string_view name) {
  for (std::string_view utf8_name : {"utf-8", "utf8"}) {
    if (ascii::equalsIgnoreCase(name, utf8_name)) {
      return Builtin::Utf8;
    }
  }
  for (std::string_view ascii_name : {"us-ascii", "ascii", "ansi_x3.4-1968"}) {
    if (ascii::equalsIgnoreCase(name, ascii_name)) {
      return Builtin::Ascii;
    }
  }
  for (std::string_view latin1_name : {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1"}) {
    if (ascii::equalsIgnoreCase(name, latin1_name)) {
      return Builtin::Latin1;
    }
  }
  return Builtin::None;
}

// Charsets whose bytes are not ASCII-compatible: ASCII must not be spliced into their bytes.
bool wideCharset(std::string_view name) {
  for (std::string_view prefix : {"utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2", "ucs-4", "ucs4", "unicode"}) {
    if (ascii::startsWithIgnoreCase(name, prefix)) {
      return true;
    }
  }
  return false;
}

bool allAscii(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string latin1ToUtf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() + bytes.size() / 8);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      text += c;
    } else {
      text += static_cast<char>(0xC0 | (byte >> 6));
      text += static_cast<char>(0x80 | (byte & 0x3F));
    }
  }
  return text;
}

std::optional<std::string> utf8ToLatin1(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      bytes += text[i];
    } else if ((byte == 0xC2 || byte == 0xC3) && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      bytes += static_cast<char>(((byte & 0x03) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F));
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return bytes;
}

// One iconv pass; false on an invalid or unconvertible sequence or an irreversible conversion.
bool convertChunk(iconv_t cd, char** in, size_t* in_left, std::string& out, size_t& used) {
  for (;;) {
    if (out.size() - used < 16) {
      if (out.size() > out.max_size() / 2) {
        return false;
      }
      out.resize(out.size() * 2 + 64);
    }
    char* out_ptr = out.data() + used;
    size_t out_left = out.size() - used;
    const size_t result = iconv(cd, in, in_left, &out_ptr, &out_left);
    used = static_cast<size_t>(out_ptr - out.data());
    if (result != static_cast<size_t>(-1)) {
      return result == 0;
    }
    if (errno != E2BIG) {
      return false;
    }
    out.resize(out.size() * 2 + 64);
  }
}

std::optional<std::string> convert(std::string_view input, const char* to, const char* from) {
  iconv_t cd = g_mime_iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return std::nullopt;
  }
  std::string out(input.size() + input.size() / 2 + 64, '\0');
  size_t used = 0;
  char* in = const_cast<char*>(input.data());  // iconv's prototype; the input is not written
  size_t in_left = input.size();
  // The second pass writes the shift sequence that returns a stateful charset to its initial state.
  const bool ok = convertChunk(cd, &in, &in_left, out, used) && in_left == 0 &&
                  convertChunk(cd, nullptr, nullptr, out, used);
  g_mime_iconv_close(cd);
  if (!ok) {
    return std::nullopt;
  }
  out.resize(used);
  return out;
}

// Byte-transparent decoding for text whose declared charset cannot be used.
DecodedText transparent(std::string_view bytes) {
  if (utf8::isWellFormed(bytes)) {
    return {std::string(kUtf8), std::string(bytes)};
  }
  return {std::string(kLatin1), latin1ToUtf8(bytes)};
}

}  // namespace

std::optional<DecodedText> decodeText(std::string_view bytes, const char* charset) {
  const std::string_view name = charset == nullptr ? std::string_view() : std::string_view(charset);
  switch (name.empty() ? Builtin::Utf8 : builtinOf(name)) {
    case Builtin::Utf8:
      return transparent(bytes);
    case Builtin::Ascii:
      if (allAscii(bytes)) {
        return DecodedText{std::string(kAscii), std::string(bytes)};
      }
      return transparent(bytes);
    case Builtin::Latin1:
      return DecodedText{std::string(kLatin1), latin1ToUtf8(bytes)};
    case Builtin::None:
      break;
  }
  if (auto text = convert(bytes, "UTF-8", charset)) {
    return DecodedText{std::string(name), std::move(*text)};
  }
  if (wideCharset(name)) {
    return std::nullopt;
  }
  return transparent(bytes);
}

std::optional<std::string> fromUtf8(std::string_view text, const std::string& charset) {
  switch (builtinOf(charset)) {
    case Builtin::Utf8:
      return std::string(text);
    case Builtin::Ascii:
      if (allAscii(text)) {
        return std::string(text);
      }
      return std::nullopt;
    case Builtin::Latin1:
      return utf8ToLatin1(text);
    case Builtin::None:
      break;
  }
  return convert(text, charset.c_str(), "UTF-8");
}

}  // namespace mxgate::links::detail
