"""DANE for MX delivery (RFC 7672, issue 11) end to end: the zone test. signed with
ldns-signzone, served by nsd and validated by unbound on loopback (support_dnssec.SignedZone),
the gateway's only resolver; aiosmtpd exchangers with STARTTLS on 127.0.0.20-127.0.0.29.

A tenant at outbound.tls = "dane":
- delivers to an exchanger whose DANE-EE(3 1 1) record matches its certificate, although that
  certificate is self-signed and names another host (no PKIX and no name checks for DANE-EE),
  and to one whose chain ends at a DANE-TA(2 0 1) anchor and names the exchanger: the
  delivered event says tls.verified_by = "dane";
- defers (4.7.5) and sends nothing when no TLSA record matches, and when the TLSA answer is
  bogus (SERVFAIL from the validator), which never counts as "no TLSA";
- moves on to the next exchanger when the first one's TLSA record does not match;
- requires TLS (4.7.4, nothing sent in plaintext) when the TLSA records are all unusable (PKIX-EE);
- delivers as "may" (here in plaintext) to an exchanger without TLSA records, and ignores TLSA
  records in a zone that is not signed (no AD bit).
A tenant at "may" does not look TLSA records up: the mismatching exchanger gets its mail.
/metrics counts sessions verified by DANE and the failures as tlsa-invalid / dnssec-invalid.
Every connection carries one message here (smtp_client.max_messages_per_connection = 1), so
later connections to an exchanger resume the TLS session of an earlier one (Python's server
sends TLS 1.3 tickets): counted as resumed, and still reported as verified by DANE.
"""

import os
import shutil
import tempfile
import unittest

from harness import Gateway, RecordingSink, free_port
from support_dnssec import SignedZone, tlsa_rdata_for_cert
from support_protocol import TestPki, self_signed, server_tls_context
from support_outbound import SubmissionDelivery, smtp_credential
from webhook_receiver import Receiver, whsec

EVENTS_KEY = b"outbound-dane-events-key-0123456"

# exchanger name: (address, certificate kind, TLSA kind)
#   certificate: "self" (self-signed, another name), "ca" (issued by the test CA for the name,
#   sent with the CA), None (no STARTTLS)
#   TLSA: "ee" (3 1 1 of its key), "ta" (2 0 1 of the CA), "wrong" (3 1 1 of another key),
#   "bogus" (ee, tampered after signing), "pkix" (1 1 1: unusable for SMTP), None (no record)
EXCHANGERS = {
    "mx.ee.test": ("127.0.0.20", "self", "ee"),
    "mx.ta.test": ("127.0.0.21", "ca", "ta"),
    "mx.wrong.test": ("127.0.0.22", "self", "wrong"),
    "mx.bogus.test": ("127.0.0.23", "self", "bogus"),
    "mx.none.test": ("127.0.0.24", None, None),
    "mx1.fallback.test": ("127.0.0.25", "self", "wrong"),
    "mx2.fallback.test": ("127.0.0.26", "self", "ee"),
    "mx.unusable.test": ("127.0.0.27", None, "pkix"),
}
INSECURE_EXCHANGER = ("mx.insecure.test", "127.0.0.28")


class OutboundDaneTest(SubmissionDelivery, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-dane-")
        pki = TestPki(cls.tmp)
        other_cert, _ = self_signed(cls.tmp, "other.test")
        port = free_port()
        records, bogus, cls.sinks = [], [], {}
        for name, (address, kind, tlsa) in EXCHANGERS.items():
            domain = name.split(".", 1)[1]
            records += [f"{domain}. 300 IN MX {20 if name.startswith('mx2') else 10} {name}.",
                        f"{name}. 300 IN A {address}"]
            context, cert = None, None
            if kind == "self":
                cert, key = self_signed(cls.tmp, name)
                context = server_tls_context(cert, key)
            elif kind == "ca":
                cert, key = pki.issue(name, name)
                chain = os.path.join(cls.tmp, name + ".chain")
                with open(chain, "w") as out, open(cert) as leaf, open(pki.ca_cert) as ca:
                    out.write(leaf.read() + ca.read())
                context = server_tls_context(chain, key)
            owner = f"_25._tcp.{name}."
            if tlsa in ("ee", "bogus"):
                records.append(f"{owner} 300 IN TLSA {tlsa_rdata_for_cert(cert)}")
            elif tlsa == "ta":
                records.append(f"{owner} 300 IN TLSA {tlsa_rdata_for_cert(pki.ca_cert, 2, 0, 1)}")
            elif tlsa == "wrong":
                records.append(f"{owner} 300 IN TLSA {tlsa_rdata_for_cert(other_cert)}")
            elif tlsa == "pkix":
                records.append(f"{owner} 300 IN TLSA {tlsa_rdata_for_cert(other_cert, 1, 1, 1)}")
            if tlsa == "bogus":
                bogus.append(owner)
            cls.sinks[name] = RecordingSink(host=address, port=port, starttls_context=context).start()
        name, address = INSECURE_EXCHANGER
        cls.sinks[name] = RecordingSink(host=address, port=port).start()
        insecure = [f"insecure.test. 300 IN MX 10 {name}.", f"{name}. 300 IN A {address}",
                    f"_25._tcp.{name}. 300 IN TLSA {tlsa_rdata_for_cert(other_cert)}"]
        cls.zone = SignedZone(records, bogus=bogus, insecure=insecure).start()

        cls.events = Receiver([EVENTS_KEY]).start()
        inbox = os.path.join(cls.tmp, "inbox")
        events = {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
        tenants = {
            "danish": {"domains": ["danish.test"], "delivery": {"target": "file", "path": inbox}, "events": events,
                       "outbound": {"dsn": False, "tls": "dane"}},
            "loose": {"domains": ["loose.test"], "delivery": {"target": "file", "path": inbox}, "events": events,
                      "outbound": {"dsn": False}},
        }
        cls.gw = Gateway(tenants=tenants,
                         overrides={"mx": {"port": port, "address_families": "ipv4"},
                                    "dns": {"servers": [cls.zone.resolver], "timeout": "2s"},
                                    "smtp_client": {"max_messages_per_connection": 1},
                                    "queue": {"retry_initial": "60s", "retry_max": "60s"}})
        cls.gw.start()
        cls.credentials = {tenant: smtp_credential(cls.gw, tenant) for tenant in tenants}

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.events.stop()
        for sink in cls.sinks.values():
            sink.stop()
        cls.zone.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_dane_ee_authenticates_without_pkix_or_name_checks(self):
        event = self.assert_delivered("danish", "user@ee.test", "mx.ee.test")
        self.assertEqual(event["tls"]["verified_by"], "dane", event)
        self.assertRegex(self.gw.log(), r"event=delivered to=user@ee\.test .*verified_by=dane")
        self.assertGreaterEqual(self.gw.metric('mxgate_mx_tls_sessions_total{verified_by="dane"}'), 1)

    def test_later_connections_resume_the_session_and_stay_dane_verified(self):
        before = self.gw.metric("mxgate_mx_tls_resumed_total") or 0
        for n in range(3):
            event = self.assert_delivered("danish", f"resume{n}@ee.test", "mx.ee.test")
            self.assertEqual(event["tls"]["verified_by"], "dane", event)
        self.assertGreaterEqual(self.gw.metric("mxgate_mx_tls_resumed_total"), before + 2)

    def test_dane_ta_authenticates_a_chain_naming_the_exchanger(self):
        event = self.assert_delivered("danish", "user@ta.test", "mx.ta.test")
        self.assertEqual(event["tls"]["verified_by"], "dane", event)

    def test_no_matching_record_defers_and_sends_nothing(self):
        event = self.assert_deferred("danish", "user@wrong.test", ["mx.wrong.test"],
                                     "certificate verify failed")
        self.assertTrue(event["response"]["text"].startswith("4.7.5 "), event)
        self.assertGreaterEqual(self.failures("tlsa-invalid"), 1)

    def test_a_bogus_tlsa_answer_defers_and_never_downgrades(self):
        event = self.assert_deferred("danish", "user@bogus.test", ["mx.bogus.test"],
                                     "TLSA lookup of _25._tcp.mx.bogus.test")
        self.assertTrue(event["response"]["text"].startswith("4.7.5 "), event)
        self.assertGreaterEqual(self.failures("dnssec-invalid"), 1)

    def test_a_mismatch_moves_on_to_the_next_exchanger(self):
        self.assert_sent_past("danish", "user@fallback.test", "mx1.fallback.test", "mx2.fallback.test")

    def test_unusable_records_still_require_tls(self):
        event = self.assert_deferred("danish", "user@unusable.test", ["mx.unusable.test"], "does not offer STARTTLS")
        self.assertTrue(event["response"]["text"].startswith("4.7.4 "), event)

    def test_no_tlsa_or_an_unsigned_zone_is_opportunistic(self):
        event = self.assert_delivered("danish", "user@none.test", "mx.none.test")
        self.assertNotIn("tls", event)
        event = self.assert_delivered("danish", "user@insecure.test", INSECURE_EXCHANGER[0])
        self.assertNotIn("tls", event)  # its (mismatching) TLSA record is not validated: not used

    def test_a_may_tenant_does_not_use_dane(self):
        event = self.assert_delivered("loose", "other@wrong.test", "mx.wrong.test")
        self.assertEqual(event["tls"]["verified_by"], "none", event)


if __name__ == "__main__":
    unittest.main()
