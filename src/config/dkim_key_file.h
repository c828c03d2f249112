// Reading a DKIM private key file named by a tenant policy ([[dkim.keys]] key_file). Internal
// to src/config; runs where the configuration loads (start-up, reload, `mxgate check`).
#pragma once

#include <string>

#include "mxgate/config/config.h"

namespace mxgate::config {

// Checks key.key_file and reads it into key.private_key: a regular file, no read or write
// permission for group or others, a PEM private key without passphrase whose type matches
// key.algorithm (RSA of kMinRsaBits..kMaxRsaBits bits, or Ed25519). Returns "" or the reason,
// naming the file.
std::string loadDkimKeyFile(DkimKey& key);

}  // namespace mxgate::config
