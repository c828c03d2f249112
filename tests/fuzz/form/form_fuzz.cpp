// libFuzzer target for form field lookup (http/form.h): the input up to its first NUL is a
// Content-Type, the rest a body; both encodings are tried for the one-click unsubscribe field.
// A value found is never longer than the body, and a urlencoded value never longer than its
// encoded form. Invariants are checked with __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mxgate/http/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view content_type = input.substr(0, nul);
  const std::string_view body = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  for (std::string_view type : {content_type, std::string_view("application/x-www-form-urlencoded")}) {
    const std::optional<std::string> value = mxgate::http::formField(type, body, "List-Unsubscribe");
    if (value && value->size() > body.size()) {
      __builtin_trap();
    }
  }
  return 0;
}
