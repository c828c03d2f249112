// Owning pointers for GMime / GLib objects and the shared CRLF format options, for the
// components that work on GMime trees directly (the MIME parser and the link rewriter).
// Any thread once mime::initialize() ran; the format options are never modified.
#pragma once

#include <gmime/gmime.h>

#include <memory>

namespace mxgate::mime {

struct GObjectUnref {
  void operator()(gpointer object) const { g_object_unref(object); }
};
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer memory) const { g_free(memory); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

// Format options writing CRLF line ends (GMIME_NEWLINE_FORMAT_DOS): an unmodified CRLF message
// serializes byte for byte as it came.
GMimeFormatOptions* dosFormat();

}  // namespace mxgate::mime
