// GMime's process-wide initialization (g_mime_init), run once before any thread parses or
// rewrites MIME. Called from the node's start-up and from every entry point that parses.
#include <gmime/gmime.h>

#include <mutex>

#include "mxgate/mime/message.h"

namespace mxgate::mime {

void initialize() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

}  // namespace mxgate::mime
