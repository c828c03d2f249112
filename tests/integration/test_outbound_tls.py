"""TLS policy of MX delivery (issue 11, configured levels) with real peers: aiosmtpd exchangers
on 127.0.0.10-127.0.0.15 with STARTTLS and certificates from a test CA (openssl CLI), found
through the gateway's DNS server. A tenant with [outbound] tls = "verify" delivers only to an
exchanger whose certificate chains to its CA and names the MX host (event tls.verified_by =
"pkix"); a wrong name moves on to the next exchanger, and when none is left the message is
deferred with 4.7.5 and nothing is sent; a peer without STARTTLS defers with 4.7.4 (never
plaintext). A tenant at "may" delivers to the same peers unverified or in plaintext, except to
a domain that mx.destinations_file raises to "verify"; a destination entry of "none" never
lowers the verify tenant. /metrics counts the failures by RFC 8460 result type.
"""

import os
import tempfile
import unittest

from harness import Gateway, RecordingSink, free_port
from support_protocol import TestPki, self_signed, server_tls_context
from support_outbound import SubmissionDelivery, smtp_credential
from webhook_receiver import Receiver, whsec

EVENTS_KEY = b"outbound-tls-events-key-01234567"

EXCHANGERS = {  # name: (address, certificate: "good" = issued for name, "other", "self", None = no STARTTLS)
    "mx.good.test": ("127.0.0.10", "good"),
    "mx.wrong.test": ("127.0.0.11", "other"),
    "mx.plain.test": ("127.0.0.12", None),
    "mx1.fallback.test": ("127.0.0.13", "other"),
    "mx2.fallback.test": ("127.0.0.14", "good"),
    "mx.partner.test": ("127.0.0.15", "self"),
}
ZONE = {
    "good.test": [{"type": "MX", "value": [10, "mx.good.test"]}],
    "wrong.test": [{"type": "MX", "value": [10, "mx.wrong.test"]}],
    "plain.test": [{"type": "MX", "value": [10, "mx.plain.test"]}],
    "fallback.test": [{"type": "MX", "value": [10, "mx1.fallback.test"]},
                      {"type": "MX", "value": [20, "mx2.fallback.test"]}],
    "partner.test": [{"type": "MX", "value": [10, "mx.partner.test"]}],
}
ZONE.update({name: [{"type": "A", "value": address}] for name, (address, _) in EXCHANGERS.items()})


class OutboundTlsTest(SubmissionDelivery, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-outbound-tls-")
        pki = TestPki(cls.tmp)
        port = free_port()
        cls.sinks = {}
        for name, (address, kind) in EXCHANGERS.items():
            context = None
            if kind == "good":
                context = server_tls_context(*pki.issue(name, name))
            elif kind == "other":
                context = server_tls_context(*pki.issue(name, "elsewhere.test"))
            elif kind == "self":
                context = server_tls_context(*self_signed(cls.tmp, name))
            cls.sinks[name] = RecordingSink(host=address, port=port, starttls_context=context).start()
        destinations = os.path.join(cls.tmp, "destinations.toml")
        with open(destinations, "w") as f:
            f.write(f'[[destination]]\ndomain = "partner.test"\ntls = "verify"\ntls_ca_file = "{pki.ca_cert}"\n\n'
                    '[[destination]]\ndomain = "good.test"\ntls = "none"\n')
        cls.events = Receiver([EVENTS_KEY]).start()
        inbox = os.path.join(cls.tmp, "inbox")
        events = {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
        tenants = {
            "strict": {"domains": ["strict.test"], "delivery": {"target": "file", "path": inbox}, "events": events,
                       "outbound": {"dsn": False, "tls": "verify", "tls_ca_file": pki.ca_cert}},
            "loose": {"domains": ["loose.test"], "delivery": {"target": "file", "path": inbox}, "events": events,
                      "outbound": {"dsn": False}},
        }
        cls.gw = Gateway(tenants=tenants, zone=ZONE,
                         overrides={"mx": {"port": port, "address_families": "ipv4",
                                           "destinations_file": destinations},
                                    "queue": {"retry_initial": "60s", "retry_max": "60s"}})
        cls.gw.start()
        cls.credentials = {tenant: smtp_credential(cls.gw, tenant) for tenant in tenants}

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.events.stop()
        for sink in cls.sinks.values():
            sink.stop()

    def test_verify_delivers_to_a_certificate_naming_the_exchanger(self):
        event = self.assert_delivered("strict", "user@good.test", "mx.good.test")
        self.assertEqual(event["tls"]["verified_by"], "pkix", event)
        self.assertIn(event["tls"]["version"], ("TLSv1.2", "TLSv1.3"))
        self.assertRegex(self.gw.log(), r"event=delivered to=user@good\.test .*verified_by=pkix")

    def test_verify_defers_a_wrong_name_and_never_downgrades(self):
        event = self.assert_deferred("strict", "user@wrong.test", ["mx.wrong.test"], "hostname mismatch")
        self.assertTrue(event["response"]["text"].startswith("4.7.5 "), event)
        self.assertGreaterEqual(self.gw.metric('mxgate_mx_tls_failures_total{result_type="certificate-host-mismatch"}'), 1)

    def test_verify_defers_an_exchanger_without_starttls(self):
        event = self.assert_deferred("strict", "user@plain.test", ["mx.plain.test"], "does not offer STARTTLS")
        self.assertTrue(event["response"]["text"].startswith("4.7.4 "), event)
        self.assertGreaterEqual(self.gw.metric('mxgate_mx_tls_failures_total{result_type="starttls-not-supported"}'), 1)

    def test_verify_moves_on_to_the_next_exchanger(self):
        self.assert_sent_past("strict", "user@fallback.test", "mx1.fallback.test", "mx2.fallback.test")

    def test_may_delivers_unverified_and_in_plaintext(self):
        event = self.assert_delivered("loose", "user@wrong.test", "mx.wrong.test")
        self.assertEqual(event["tls"]["verified_by"], "none", event)
        event = self.assert_delivered("loose", "user@plain.test", "mx.plain.test")
        self.assertNotIn("tls", event)

    def test_a_destination_entry_raises_the_level_of_a_may_tenant(self):
        self.assert_deferred("loose", "user@partner.test", ["mx.partner.test"], "certificate verify failed")
        self.assertGreaterEqual(self.gw.metric('mxgate_mx_tls_failures_total{result_type="certificate-not-trusted"}'), 1)

    def test_a_destination_entry_never_lowers_a_tenant(self):
        # good.test is listed with tls = "none": the strict tenant still verifies.
        event = self.assert_delivered("strict", "other@good.test", "mx.good.test")
        self.assertEqual(event["tls"]["verified_by"], "pkix", event)
        self.assertGreaterEqual(self.gw.metric('mxgate_mx_tls_sessions_total{verified_by="pkix"}'), 1)


if __name__ == "__main__":
    unittest.main()
