"""MTA-STS (RFC 8461) for MX delivery with real peers: the gateway's DNS server publishes
_mta-sts TXT records, policy hosts (mta-sts.<domain>) and MX records; each policy host is a
Python http.server over TLS on its own 127.0.0.2x address with a certificate from a test CA
(mx.mta_sts_port, mx.mta_sts_ca_file), and the exchangers are aiosmtpd receivers with STARTTLS.
Every tenant here is at the level "may", so what changes delivery is the policy: under enforce
mail goes to a listed exchanger with a certificate for its name (verified_by pkix), skips an
unlisted one, and is deferred (never sent in plaintext or unverified) when no listed exchanger
verifies; testing delivers as "may" does and counts the certificate enforce would have refused,
no policy changes nothing; a redirect, a non-200 status, a body over
64 KiB or an untrusted policy host mean no policy, counted by RFC 8460 result type; a new TXT id
makes the policy fetched again; a policy kept in the spool is still enforced after a kill -9 and
a restart while its host is down. The one-label wildcard rule is a unit test (unit.delivery).
"""

import http.server
import tempfile
import threading
import time
import unittest

from dns_server import Zone
from harness import Gateway, RecordingSink, free_port
from support_protocol import TestPki, self_signed, server_tls_context
from support_outbound import SubmissionDelivery, smtp_credential
from webhook_receiver import Receiver, whsec

EVENTS_KEY = b"outbound-mta-sts-events-key-0123"
POLICY_PATH = "/.well-known/mta-sts.txt"


def policy(mode, *mx, max_age=86400):
    return "version: STSv1\r\nmode: " + mode + "\r\n" + "".join(f"mx: {m}\r\n" for m in mx) + \
        f"max_age: {max_age}\r\n"


EXCHANGERS = {  # name: (address, certificate: "good" = issued for the name, "other" = another name)
    "mx.enforce.test": ("127.0.0.10", "good"),
    "mx1.listed.test": ("127.0.0.11", "good"),
    "mx2.listed.test": ("127.0.0.12", "good"),
    "mx.unlisted.test": ("127.0.0.13", "good"),
    "mx.wrongname.test": ("127.0.0.14", "other"),
    "mx.testing.test": ("127.0.0.15", "other"),
    "mx.nopolicy.test": ("127.0.0.16", "other"),
    "mx.broken.test": ("127.0.0.17", "other"),
    "mx.renewed.test": ("127.0.0.18", "other"),
    "mx0.cached.test": ("127.0.0.30", "good"),
    "mx.cached.test": ("127.0.0.31", "good"),
}
# Policy hosts: domain: (address, policy served; None = a response set by the test).
POLICIES = {
    "enforce.test": ("127.0.0.20", policy("enforce", "mx.enforce.test")),
    "listed.test": ("127.0.0.21", policy("enforce", "mx2.listed.test")),
    "unlisted.test": ("127.0.0.22", policy("enforce", "*.elsewhere.test")),
    "wrongname.test": ("127.0.0.23", policy("enforce", "mx.wrongname.test")),
    "testing.test": ("127.0.0.24", policy("testing", "mx.testing.test")),
    "redirect.test": ("127.0.0.25", None),
    "missing.test": ("127.0.0.26", None),
    "large.test": ("127.0.0.27", None),
    "untrusted.test": ("127.0.0.28", policy("enforce", "mx.broken.test")),
    "renewed.test": ("127.0.0.29", policy("testing", "mx.renewed.test")),
    "cached.test": ("127.0.0.32", policy("enforce", "mx.cached.test")),
}
BROKEN = ("redirect.test", "missing.test", "large.test", "untrusted.test")


def zone(renewed_id="1"):
    records = {
        "enforce.test": [{"type": "MX", "value": [10, "mx.enforce.test"]}],
        "listed.test": [{"type": "MX", "value": [10, "mx1.listed.test"]}, {"type": "MX", "value": [20, "mx2.listed.test"]}],
        "unlisted.test": [{"type": "MX", "value": [10, "mx.unlisted.test"]}],
        "wrongname.test": [{"type": "MX", "value": [10, "mx.wrongname.test"]}],
        "testing.test": [{"type": "MX", "value": [10, "mx.testing.test"]}],
        "nopolicy.test": [{"type": "MX", "value": [10, "mx.nopolicy.test"]}],
        "renewed.test": [{"type": "MX", "value": [10, "mx.renewed.test"]}],
        "cached.test": [{"type": "MX", "value": [10, "mx0.cached.test"]}, {"type": "MX", "value": [20, "mx.cached.test"]}],
    }
    for domain in BROKEN:
        records[domain] = [{"type": "MX", "value": [10, "mx.broken.test"]}]
    for name, (address, _) in EXCHANGERS.items():
        records[name] = [{"type": "A", "value": address}]
    for domain, (address, _) in POLICIES.items():
        records["mta-sts." + domain] = [{"type": "A", "value": address}]
        record_id = renewed_id if domain == "renewed.test" else "20260101"
        records["_mta-sts." + domain] = [{"type": "TXT", "value": f"v=STSv1; id={record_id};", "ttl": 1}]
    return records


class PolicyHost:
    """An HTTPS server for one policy host: GET of the well-known path answers with
    self.response = (status, headers, body)."""

    def __init__(self, address, port, context, body):
        self.response = (200, {"Content-Type": "text/plain"}, body or "")
        self.requests = 0
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.requests += 1
                status, headers, text = host.response if self.path == POLICY_PATH else (404, {}, "")
                data = text.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((address, port), Handler)
        self.server.handle_error = lambda *args: None  # a client that refuses the body hangs up
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


class OutboundMtaStsTest(SubmissionDelivery, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-outbound-mta-sts-")
        pki = TestPki(cls.tmp)
        port = free_port()
        policy_port = free_port()
        cls.sinks = {}
        for name, (address, kind) in EXCHANGERS.items():
            certificate = pki.issue(name, name if kind == "good" else "elsewhere.test")
            cls.sinks[name] = RecordingSink(host=address, port=port,
                                            starttls_context=server_tls_context(*certificate)).start()
        cls.hosts = {}
        for domain, (address, body) in POLICIES.items():
            name = "mta-sts." + domain
            certificate = self_signed(cls.tmp, name) if domain == "untrusted.test" else pki.issue(name, name)
            cls.hosts[domain] = PolicyHost(address, policy_port, server_tls_context(*certificate), body)
        cls.hosts["redirect.test"].response = (302, {"Location": f"https://mta-sts.enforce.test:{policy_port}"
                                                                 + POLICY_PATH}, "")
        cls.hosts["missing.test"].response = (404, {"Content-Type": "text/plain"}, policy("enforce", "mx.broken.test"))
        cls.hosts["large.test"].response = (200, {"Content-Type": "text/plain"},
                                            policy("enforce", "mx.broken.test") + "x: " + "y" * 70000 + "\r\n")
        cls.events = Receiver([EVENTS_KEY]).start()
        events = {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
        tenants = {"acme": {"domains": ["acme.test"], "events": events, "outbound": {"dsn": False},
                            "delivery": {"target": "file", "path": cls.tmp + "/inbox"}}}
        cls.gw = Gateway(tenants=tenants, zone=zone(),
                         overrides={"mx": {"port": port, "address_families": "ipv4", "mta_sts_port": policy_port,
                                           "mta_sts_ca_file": pki.ca_cert},
                                    "queue": {"retry_initial": "60s", "retry_max": "60s"}})
        cls.gw.start()
        cls.credentials = {"acme": smtp_credential(cls.gw, "acme")}

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.events.stop()
        for sink in cls.sinks.values():
            sink.stop()
        for host in cls.hosts.values():
            host.stop()

    def test_enforce_delivers_to_a_listed_exchanger_verified(self):
        event = self.assert_delivered("acme", "user@enforce.test", "mx.enforce.test")
        self.assertEqual(event["tls"]["verified_by"], "pkix", event)
        self.assertRegex(self.gw.log(), r"event=mta_sts_policy .*domain=enforce\.test mode=enforce id=20260101")

    def test_enforce_skips_an_exchanger_the_policy_does_not_name(self):
        self.assert_sent_past("acme", "user@listed.test", "mx1.listed.test", "mx2.listed.test")

    def test_enforce_defers_when_no_exchanger_is_listed(self):
        event = self.assert_deferred("acme", "user@unlisted.test", ["mx.unlisted.test"], "names none of its mail")
        self.assertTrue(event["response"]["text"].startswith("4.7.0 "), event)

    def test_enforce_defers_a_certificate_for_another_name(self):
        event = self.assert_deferred("acme", "user@wrongname.test", ["mx.wrongname.test"], "hostname mismatch")
        self.assertTrue(event["response"]["text"].startswith("4.7.5 "), event)

    def test_testing_delivers_despite_a_bad_certificate_and_counts_it(self):
        mismatches = self.failures("certificate-host-mismatch")
        event = self.assert_delivered("acme", "user@testing.test", "mx.testing.test")
        self.assertEqual(event["tls"]["verified_by"], "none", event)
        self.assertGreater(self.failures("certificate-host-mismatch"), mismatches)

    def test_no_policy_keeps_the_configured_level(self):
        event = self.assert_delivered("acme", "user@nopolicy.test", "mx.nopolicy.test")
        self.assertEqual(event["tls"]["verified_by"], "none", event)

    def test_a_policy_that_cannot_be_fetched_is_no_policy(self):
        for domain in BROKEN:
            with self.subTest(domain=domain):
                event = self.assert_delivered("acme", "user@" + domain, "mx.broken.test")
                self.assertEqual(event["tls"]["verified_by"], "none", event)
        self.assertGreaterEqual(self.failures("sts-policy-fetch-error"), 3)
        self.assertGreaterEqual(self.failures("sts-webpki-invalid"), 1)
        self.assertRegex(self.gw.log(), r"event=mta_sts_fetch_failed domain=large\.test .*over 65536 bytes")

    def test_a_new_id_fetches_the_policy_again(self):
        self.assert_delivered("acme", "first@renewed.test", "mx.renewed.test")
        self.hosts["renewed.test"].response = (200, {"Content-Type": "text/plain"}, policy("enforce", "mx.renewed.test"))
        requests = self.hosts["renewed.test"].requests
        self.gw.dns.zone = Zone(zone(renewed_id="2"))
        time.sleep(2)  # the TXT answer (ttl 1) leaves the resolver's cache
        self.assert_deferred("acme", "second@renewed.test", ["mx.renewed.test"], "hostname mismatch")
        self.assertEqual(self.hosts["renewed.test"].requests, requests + 1)

    def test_a_cached_policy_survives_a_restart_while_its_host_is_down(self):
        # Unlisted mx0 has the better preference: only the policy sends the mail to mx.
        self.assert_delivered("acme", "first@cached.test", "mx.cached.test")
        self.hosts["cached.test"].stop()
        self.gw.stop(kill=True)
        self.gw.start()
        self.assertRegex(self.gw.log(), r"event=mta_sts_policies_loaded policies=[1-9]")
        self.assert_sent_past("acme", "second@cached.test", "mx0.cached.test", "mx.cached.test")


if __name__ == "__main__":
    unittest.main()
