// The link signing key file (links.keys_file, default <spool>/link.keys): one
// "<key id> <base64 secret>" per line, newest first; '#' lines and blank lines are ignored.
// The newest key signs new links; all of them verify, so a key is rotated by adding a line at
// the top and removed only once the links it signed no longer matter. Created with one random
// 32-byte key on first run. Blocking file access; main thread, at start-up and reload.
#pragma once

#include <memory>
#include <string>

#include "mxgate/links/rewriter.h"

namespace mxgate::links {

// nullptr with the reason (file and line) in error. A missing file is created when create.
std::shared_ptr<const KeyRing> loadKeyFile(const std::string& path, bool create, std::string& error);

}  // namespace mxgate::links
