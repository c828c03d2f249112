"""The DNSSEC test fixture itself (support_dnssec, used by the DANE tests), so that a DANE test
cannot pass on a broken zone: a signed zone with a good TLSA, a bogus TLSA and an insecure
child, checked through the validating unbound with dnspython and drill, and re-signed.
"""

import os
import subprocess
import tempfile
import time
import unittest

import dns.flags
import dns.rcode

from support_dnssec import SignedZone, query, tlsa_rdata_for_cert


def make_cert(directory):
    cert, key = os.path.join(directory, "mx1.crt"), os.path.join(directory, "mx1.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=mx1.dane.test", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    return cert


class SignedZoneTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.tlsa = tlsa_rdata_for_cert(make_cert(self.tmp.name))
        self.records = [
            "dane.test. 300 IN MX 10 mx1.dane.test.",
            "mx1.dane.test. 300 IN A 127.0.0.20",
            f"_25._tcp.mx1.dane.test. 300 IN TLSA {self.tlsa}",
            "mx1.bogus.test. 300 IN A 127.0.0.21",
            f"_25._tcp.mx1.bogus.test. 300 IN TLSA {self.tlsa}",
        ]

    def tearDown(self):
        self.tmp.cleanup()

    def check_zone(self, nsec3):
        began = time.monotonic()
        zone = SignedZone(self.records, bogus=["_25._tcp.mx1.bogus.test."],
                          insecure=["mx.insecure.test. 300 IN A 127.0.0.30"], nsec3=nsec3).start()
        try:
            print(f"\nstart() took {time.monotonic() - began:.2f} s (nsec3={nsec3})")
            answer = query(zone.resolver, "_25._tcp.mx1.dane.test.", "TLSA")
            self.assertEqual(answer.rcode(), dns.rcode.NOERROR)
            self.assertTrue(answer.flags & dns.flags.AD)
            self.assertEqual(answer.answer[0][0].to_text(), self.tlsa)
            mx = query(zone.resolver, "dane.test.", "MX")
            self.assertTrue(mx.flags & dns.flags.AD)
            self.assertEqual(mx.answer[0][0].to_text(), "10 mx1.dane.test.")
            self.assertEqual(query(zone.resolver, "_25._tcp.mx1.bogus.test.", "TLSA").rcode(), dns.rcode.SERVFAIL)
            good = query(zone.resolver, "mx1.bogus.test.", "A")  # only the TLSA RRset was tampered with
            self.assertTrue(good.flags & dns.flags.AD)
            insecure = query(zone.resolver, "mx.insecure.test.", "A")
            self.assertEqual(insecure.rcode(), dns.rcode.NOERROR)
            self.assertEqual(insecure.answer[0][0].to_text(), "127.0.0.30")
            self.assertFalse(insecure.flags & dns.flags.AD)
            missing = query(zone.resolver, "missing.test.", "A")
            self.assertEqual(missing.rcode(), dns.rcode.NXDOMAIN)
            self.assertTrue(missing.flags & dns.flags.AD)
            nodata = query(zone.resolver, "mx1.dane.test.", "AAAA")
            self.assertEqual((nodata.rcode(), len(nodata.answer)), (dns.rcode.NOERROR, 0))
            self.assertTrue(nodata.flags & dns.flags.AD)
            plain = query(zone.resolver, "dane.test.", "MX", flags=dns.flags.RD)  # neither AD nor DO asked
            self.assertFalse(plain.flags & dns.flags.AD)
            port = zone.resolver.rsplit(":", 1)[1]
            drill = subprocess.run(["drill", "-p", port, "-D", "_25._tcp.mx1.dane.test", "@127.0.0.1", "TLSA"],
                                   capture_output=True, text=True, timeout=30).stdout
            self.assertRegex(drill, r"rcode: NOERROR")
            self.assertRegex(drill, r"flags: [a-z ]*\bad\b")
            drill = subprocess.run(["drill", "-p", port, "-D", "_25._tcp.mx1.bogus.test", "@127.0.0.1", "TLSA"],
                                   capture_output=True, text=True, timeout=30).stdout
            self.assertRegex(drill, r"rcode: SERVFAIL")

            # reload: the bogus TLSA becomes good, a new name appears, mx1.dane.test's A changes
            began = time.monotonic()
            zone.reload([r.replace("127.0.0.20", "127.0.0.22") for r in self.records]
                        + ["new.test. 300 IN A 127.0.0.23"], bogus=["mx1.dane.test."])
            print(f"reload() took {time.monotonic() - began:.2f} s")
            self.assertTrue(query(zone.resolver, "_25._tcp.mx1.bogus.test.", "TLSA").flags & dns.flags.AD)
            self.assertEqual(query(zone.resolver, "mx1.dane.test.", "A").rcode(), dns.rcode.SERVFAIL)
            new = query(zone.resolver, "new.test.", "A")
            self.assertTrue(new.flags & dns.flags.AD)
            self.assertEqual(new.answer[0][0].to_text(), "127.0.0.23")
            workdir = zone.dir
        finally:
            zone.stop()
        zone.stop()  # twice is fine
        self.assertFalse(os.path.exists(workdir))

    def test_nsec(self):
        self.check_zone(nsec3=False)

    def test_nsec3(self):
        self.check_zone(nsec3=True)

    def test_tlsa_rdata_for_cert(self):
        cert = make_cert(self.tmp.name)
        self.assertRegex(tlsa_rdata_for_cert(cert), r"^3 1 1 [0-9a-f]{64}$")
        self.assertRegex(tlsa_rdata_for_cert(cert, 3, 0, 2), r"^3 0 2 [0-9a-f]{128}$")
        spki = subprocess.run(f"openssl x509 -in {cert} -noout -pubkey | openssl pkey -pubin -outform DER"
                              " | openssl dgst -sha256 -r", shell=True, capture_output=True, text=True).stdout
        self.assertEqual(tlsa_rdata_for_cert(cert, 2, 1, 1), "2 1 1 " + spki.split()[0])
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True).stdout
        self.assertEqual(tlsa_rdata_for_cert(cert, 3, 0, 0), "3 0 0 " + der.hex())

    def test_start_failure_names_logs(self):
        zone = SignedZone(["broken.test. 300 IN A not-an-address"])
        with self.assertRaises(RuntimeError) as caught:
            zone.start()
        zone.stop()
        self.assertIn("ldns-signzone", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
