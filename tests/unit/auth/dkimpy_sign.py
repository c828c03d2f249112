#!/usr/bin/python3
# Signs a message with dkimpy (Debian python3-dkim) for the DKIM interop tests in dkim_test.cpp.
# Usage: dkimpy_sign.py <rsa-sha256|ed25519-sha256> <relaxed|simple> <key file> <selector>
#        <domain> <message file>; writes the signed message (CRLF) to stdout.
import sys

import dkim

algorithm, canon, key_file, selector, domain, message_file = sys.argv[1:7]
with open(key_file, "rb") as f:
    key = f.read().strip()
with open(message_file, "rb") as f:
    message = f.read()
signature = dkim.sign(
    message,
    selector.encode(),
    domain.encode(),
    key,
    canonicalize=(canon.encode(), canon.encode()),
    signature_algorithm=algorithm.encode(),
    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    linesep=b"\r\n",
)
sys.stdout.buffer.write(signature + message)
