#!/usr/bin/python3
# Parses Authentication-Results fields with the reference parser in Debian's python3-authres
# (RFC 8601) for authres_test.cpp. Input file: fields separated by a line "\0\n". Output: one
# JSON object per field, {"id": ..., "results": [[method, result, reason, [[ptype, property,
# value], ...]], ...]} or {"error": "..."}.
import json
import sys

import authres

with open(sys.argv[1], "rb") as f:
    fields = f.read().decode("utf-8").split("\0\n")
for field in fields:
    if not field:
        continue
    try:
        header = authres.AuthenticationResultsHeader.parse(field)
        results = [
            [r.method, r.result, r.reason, [[p.type, p.name, p.value] for p in r.properties]]
            for r in header.results
        ]
        print(json.dumps({"id": header.authserv_id, "results": results}))
    except Exception as e:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
