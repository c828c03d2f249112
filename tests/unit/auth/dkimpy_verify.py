#!/usr/bin/python3
# Verifies every DKIM-Signature of a message with dkimpy (Debian python3-dkim; python3-nacl for
# ed25519-sha256), the independent verifier of the DKIM signing tests (dkim_signer_test.cpp).
# Usage: dkimpy_verify.py <message file> <records file>
# The records file holds one key record per line, "<name> <TXT data>", e.g.
# "sel._domainkey.example.com v=DKIM1; k=ed25519; p=...". Prints one line per signature,
# "<index> a=<algorithm> d=<domain> s=<selector> pass|fail", and exits 0 only when the message
# has at least one signature and every signature verifies.
import sys

import dkim
from dkim.util import parse_tag_value

message_file, records_file = sys.argv[1:3]
with open(message_file, "rb") as f:
    message = f.read()
records = {}
with open(records_file, "rb") as f:
    for line in f.read().splitlines():
        if line.strip():
            name, record = line.split(b" ", 1)
            records[name.lower()] = record


def dnsfunc(name, timeout=5):
    return records.get(name.rstrip(b".").lower())


verifier = dkim.DKIM(message)
signatures = [value for (field, value) in verifier.headers if field.lower() == b"dkim-signature"]
all_pass = bool(signatures)
for index, value in enumerate(signatures):
    tags = parse_tag_value(value)
    ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
    all_pass = all_pass and ok
    print("%d a=%s d=%s s=%s %s" % (index, tags[b"a"].decode(), tags[b"d"].decode(), tags[b"s"].decode(),
                                    "pass" if ok else "fail"))
sys.exit(0 if all_pass else 1)
