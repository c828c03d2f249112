"""T23 (reliability.md): testssl.sh (Debian's testssl.sh 3.0.8) against every TLS listener of a
node on its defaults: the inbound listener's STARTTLS (port 25 style), the submission
listener's STARTTLS (587), an implicit-TLS submission listener (465) and the HTTP send API
with api.tls. Protocols, standard cipher lists, forward secrecy and the vulnerability checks
(-p -s -f -U) run, two listeners at a time.
- SSLv2, SSLv3, TLS 1.0 and 1.1 are not offered; TLS 1.2 and 1.3 are.
- No finding of severity MEDIUM, HIGH or CRITICAL, apart from the certificate's (cert_*: the
  node's self-signed certificate, which a deployment replaces) and DNS CAA (DNS_*: loopback).
The time each scan took is printed.
"""
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Gateway, free_port

ALLOWED_PREFIXES = ("cert_", "DNS_")
BAD = ("MEDIUM", "HIGH", "CRITICAL")


def scan(name, port, starttls, out_dir, results):
    json_file = os.path.join(out_dir, name + ".json")
    command = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "-p", "-s", "-f", "-U",
               "--jsonfile", json_file]
    if starttls:
        command[1:1] = ["-t", "smtp"]
    began = time.monotonic()
    run = subprocess.run(command + [f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - began
    try:
        with open(json_file) as f:
            findings = json.load(f)
    except (OSError, ValueError) as error:
        findings = None
        run = f"{error}: {run.stdout[-2000:]} {run.stderr[-2000:]}"
    results[name] = (findings, elapsed, run)


class TlsBaselineTest(unittest.TestCase):
    def test_every_tls_listener(self):
        implicit_port = free_port()
        gw = Gateway(overrides={"api": {"tls": True}})
        gw.listeners.append({"name": "smtps", "role": "submission", "address": "127.0.0.1", "port": implicit_port,
                             "tls": "implicit"})
        gw.write_config()
        self.addCleanup(gw.cleanup)
        gw.start()
        targets = [("inbound", gw.smtp_port, True), ("submission", gw.submission_port, True),
                   ("implicit", implicit_port, False), ("api", gw.api_port, False)]
        out_dir = tempfile.mkdtemp(prefix="mxgate-testssl-", dir=gw.dir)
        results = {}
        for pair in (targets[:2], targets[2:]):
            threads = [threading.Thread(target=scan, args=(name, port, starttls, out_dir, results))
                       for name, port, starttls in pair]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for name, _, _ in targets:
            findings, elapsed, run = results[name]
            with self.subTest(listener=name):
                self.assertIsNotNone(findings, f"testssl gave no JSON for {name}: {run}")
                by_id = {finding["id"]: finding for finding in findings}
                for protocol in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
                    self.assertEqual(by_id[protocol]["finding"], "not offered", by_id[protocol])
                self.assertEqual(by_id["TLS1_2"]["finding"], "offered", by_id["TLS1_2"])
                self.assertTrue(by_id["TLS1_3"]["finding"].startswith("offered"), by_id["TLS1_3"])
                bad = [f"{finding['id']} {finding['severity']}: {finding['finding']}" for finding in findings
                       if finding["severity"] in BAD and not finding["id"].startswith(ALLOWED_PREFIXES)]
                self.assertEqual(bad, [], f"testssl findings on {name}")
                counts = {}
                for finding in findings:
                    counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
                print(f"\nT23 {name}: {elapsed:.0f} s, findings by severity {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    unittest.main()
