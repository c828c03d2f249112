"""Inbound checks through real SMTP sessions: SPF (client address and HELO presented with
XCLIENT from the trusted loopback), DKIM signed by dkimpy (rsa-sha256 and ed25519-sha256),
DMARC against _dmarc records, each tenant policy action (reject, quarantine, tag, accept), the
Authentication-Results header and the removal of forged ones (ours and the cluster's ids), the
removal of sender-supplied X-Mxgate-* fields, DNS SERVFAIL and timeouts
(451 4.4.3), several tenants in one message, and XCLIENT's authorization.

The gateway's own DNS server (harness.Gateway) serves ZONE; the public suffix list is
Debian's. Verdicts are read back from the delivered files, the quarantine CLI and /metrics.
"""

import base64
import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

import dkim

from harness import Client, Gateway, queue_id, wait_until

HOST = "mx.test.mxgate"
SIBLINGS = ["mx2.test.mxgate", "mx3.test.mxgate"]  # the other nodes of the cluster
GOOD_IP = "192.0.2.10"
BAD_IP = "198.51.100.7"


def make_keys():
    """An RSA-2048 and an Ed25519 key pair: (rsa_private_pem, rsa_txt, ed_private_b64, ed_txt)."""
    work = tempfile.mkdtemp(prefix="mxgate-dkim-")
    key = os.path.join(work, "rsa.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    with open(key, "rb") as f:
        rsa_private = f.read()
    import nacl.signing  # dkimpy's own Ed25519 dependency
    signing = nacl.signing.SigningKey.generate()
    ed_private = base64.b64encode(bytes(signing))
    ed_public = base64.b64encode(bytes(signing.verify_key)).decode()
    return (rsa_private, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode(), ed_private,
            "v=DKIM1; k=ed25519; p=" + ed_public)


RSA_PRIVATE, RSA_TXT, ED_PRIVATE, ED_TXT = make_keys()


def txt(value):
    return {"type": "TXT", "value": value}


SPF_GOOD_ONLY = txt(f"v=spf1 ip4:{GOOD_IP} -all")
ZONE = {
    "pass.test": [SPF_GOOD_ONLY],
    "_dmarc.pass.test": [txt("v=DMARC1; p=reject")],
    "reject.test": [SPF_GOOD_ONLY],
    "_dmarc.reject.test": [txt("v=DMARC1; p=reject")],
    "quarantine.test": [SPF_GOOD_ONLY],
    "_dmarc.quarantine.test": [txt("v=DMARC1; p=quarantine")],
    "monitor.test": [SPF_GOOD_ONLY],
    "_dmarc.monitor.test": [txt("v=DMARC1; p=none")],
    "nodmarc.test": [SPF_GOOD_ONLY],
    "signed.test": [txt("v=spf1 -all")],
    "_dmarc.signed.test": [txt("v=DMARC1; p=reject")],
    "rsa._domainkey.signed.test": [txt(RSA_TXT)],
    "rsa._domainkey.pass.test": [txt(RSA_TXT)],
    "ed._domainkey.signed.test": [txt(ED_TXT)],
    "servfail.test": [{"type": "SERVFAIL"}],
    "timeout.test": [{"type": "TIMEOUT"}],
    "_dmarc.dmarcfail.test": [{"type": "SERVFAIL"}],
    "dmarcfail.test": [SPF_GOOD_ONLY],
}

STRICT = {"spf_fail": "reject", "dkim_fail": "reject", "dmarc_reject": "reject", "dmarc_quarantine": "reject",
          "dmarc_none": "reject"}
TAGGER = {"spf_fail": "tag", "spf_softfail": "tag", "dkim_fail": "tag", "dmarc_reject": "tag",
          "dmarc_quarantine": "tag", "dmarc_none": "tag"}
QUARANTINER = {"spf_fail": "quarantine", "dkim_fail": "quarantine", "dmarc_reject": "quarantine",
               "dmarc_quarantine": "quarantine", "dmarc_none": "quarantine"}
ACCEPTER = {"spf_fail": "accept", "dkim_fail": "accept", "dmarc_reject": "accept", "dmarc_quarantine": "accept",
            "dmarc_none": "accept"}


def message(sender, subject, to="user@example.test", extra=""):
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@mxgate.test>\r\n{extra}\r\nBody of {subject}.\r\n").encode()


def sign(content, selector, domain, algorithm, key):
    signature = dkim.sign(content, selector.encode(), domain.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                          signature_algorithm=algorithm.encode(),
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"], linesep=b"\r\n")
    return signature + content


def tampered(sender, domain, subject):
    """A message rsa-signed for domain whose body was changed after signing."""
    content = sign(message(sender, subject), "rsa", domain, "rsa-sha256", RSA_PRIVATE)
    return content.replace(f"Body of {subject}.".encode(), f"Body of {subject}!".encode())


def header_fields(data, name):
    """The unfolded values of every header field called name in a stored message."""
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    fields, current = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and current is not None:
            current += " " + line.strip()
            continue
        if current is not None:
            fields.append(current)
        current = line
    if current is not None:
        fields.append(current)
    prefix = name.lower() + ":"
    return [f.split(":", 1)[1].strip() for f in fields if f.lower().startswith(prefix)]


class InboundGateway:
    """One gateway with four tenants whose inbound policies differ, trusting XCLIENT from
    loopback."""

    @classmethod
    def start(cls):
        gw = Gateway(tenants={
            "example": {"domains": ["example.test"], "delivery": {"target": "file", "path": "inbox"}},
            "strict": {"domains": ["strict.example"], "delivery": {"target": "file", "path": "inbox-strict"},
                       "inbound": STRICT},
            "tagger": {"domains": ["tag.example"], "delivery": {"target": "file", "path": "inbox-tag"},
                       "inbound": TAGGER},
            "careful": {"domains": ["careful.example"], "delivery": {"target": "file", "path": "inbox-careful"},
                        "inbound": QUARANTINER},
            "open": {"domains": ["open.example"], "delivery": {"target": "file", "path": "inbox-open"},
                     "inbound": ACCEPTER},
        }, overrides={"smtp": {"xclient_networks": ["127.0.0.0/8"]}, "auth": {"remove_authres_ids": SIBLINGS}},
            zone=ZONE)
        return gw.start()


def inbox(gw, name):
    path = os.path.join(gw.dir, name)
    if not os.path.isdir(path):
        return []
    out = []
    for entry in sorted(os.listdir(path)):
        if entry.endswith(".eml"):
            with open(os.path.join(path, entry), "rb") as f:
                out.append(f.read())
    return out


def delivered(gw, name, subject):
    """The stored message with this subject in an inbox, waiting for it."""
    found = []

    def look():
        found[:] = [m for m in inbox(gw, name) if f"Subject: {subject}\r\n".encode() in m]
        return bool(found)
    if not wait_until(look, timeout=20):
        raise AssertionError(f"{subject!r} never reached {name}; log:\n{gw.log()[-3000:]}")
    return found[0]


def send(gw, sender, recipients, content, ip=GOOD_IP, helo="mail.sender.test"):
    """One transaction presented as coming from ip/helo (XCLIENT); returns (stage, reply)."""
    with Client(gw.first_port, timeout=20) as client:
        client.ehlo()
        reply = client.command(f"XCLIENT ADDR={ip} HELO={helo}\r\n")
        if reply is None or reply.code != 220:
            raise AssertionError(f"XCLIENT refused: {reply!r}")
        client.ehlo(helo)
        return client.transaction(sender, recipients, content)


def quarantine_entries(gw, *args):
    result = gw.cli("quarantine", "ls", "--json", *args)
    if result.returncode != 0:
        raise AssertionError(result.stdout + result.stderr)
    return json.loads(result.stdout)["entries"]


class AuthenticationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = InboundGateway.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def accepted(self, outcome):
        stage, reply = outcome
        self.assertEqual(stage, "dot", (stage, reply))
        self.assertEqual(reply.code, 250, reply)
        return queue_id(reply)

    def test_spf_and_dmarc_pass_in_authentication_results(self):
        self.accepted(send(self.gw, "alice@pass.test", ["user@example.test"], message("alice@pass.test", "spf pass")))
        stored = delivered(self.gw, "inbox", "spf pass")
        results = header_fields(stored, "Authentication-Results")
        self.assertEqual(len(results), 1, results)
        self.assertTrue(results[0].startswith(HOST + ";"), results)
        self.assertIn("spf=pass smtp.mailfrom=alice@pass.test", results[0])
        self.assertIn("dkim=none", results[0])
        self.assertIn("dmarc=pass", results[0])
        self.assertIn("header.from=pass.test", results[0])
        self.assertEqual(header_fields(stored, "X-Mxgate-Tag"), [])
        self.assertTrue(stored.index(b"Authentication-Results:") < stored.index(b"Received: from"))

    def test_spf_fail_per_tenant_action(self):
        sender = "bob@nodmarc.test"
        stage, reply = send(self.gw, sender, ["user@strict.example"], message(sender, "spf reject"), ip=BAD_IP)
        self.assertEqual((stage, reply.code, reply.enhanced), ("dot", 550, "5.7.23"), reply)
        self.assertIn(b"nodmarc.test", reply.text)

        self.accepted(send(self.gw, sender, ["user@tag.example"], message(sender, "spf tag"), ip=BAD_IP))
        stored = delivered(self.gw, "inbox-tag", "spf tag")
        self.assertEqual(header_fields(stored, "X-Mxgate-Tag"), ["spf=fail"])
        self.assertIn("spf=fail smtp.mailfrom=bob@nodmarc.test", header_fields(stored, "Authentication-Results")[0])

        queued = self.accepted(send(self.gw, sender, ["user@careful.example"], message(sender, "spf quarantine"),
                                    ip=BAD_IP))
        entries = [e for e in quarantine_entries(self.gw, "--tenant", "careful") if e["id"] == queued]
        self.assertEqual(len(entries), 1, entries)
        self.assertEqual(entries[0]["reason"], "spf")
        self.assertEqual(entries[0]["recipients"], ["user@careful.example"])
        self.assertIn("spf=fail", entries[0]["detail"])

        self.accepted(send(self.gw, sender, ["user@open.example"], message(sender, "spf accept"), ip=BAD_IP))
        stored = delivered(self.gw, "inbox-open", "spf accept")
        self.assertEqual(header_fields(stored, "X-Mxgate-Tag"), [])
        self.assertIn("spf=fail", header_fields(stored, "Authentication-Results")[0])
        self.assertEqual(inbox(self.gw, "inbox-careful"), [])

    def test_null_sender_checks_the_helo_identity(self):
        content = message("postmaster@pass.test", "bounce helo")
        self.accepted(send(self.gw, "", ["user@tag.example"], content, ip=GOOD_IP, helo="pass.test"))
        results = header_fields(delivered(self.gw, "inbox-tag", "bounce helo"), "Authentication-Results")[0]
        self.assertIn("spf=pass smtp.helo=pass.test", results)

    def test_dmarc_policies(self):
        stage, reply = send(self.gw, "eve@reject.test", ["user@example.test"], message("eve@reject.test", "dmarc r"),
                            ip=BAD_IP)
        self.assertEqual((stage, reply.code, reply.enhanced), ("dot", 550, "5.7.1"), reply)
        self.assertIn(b"DMARC policy of reject.test", reply.text)

        queued = self.accepted(send(self.gw, "eve@quarantine.test", ["user@example.test"],
                                    message("eve@quarantine.test", "dmarc q"), ip=BAD_IP))
        entries = [e for e in quarantine_entries(self.gw, "--reason", "dmarc") if e["id"] == queued]
        self.assertEqual([e["tenant"] for e in entries], ["example"])
        self.assertIn("p=quarantine", entries[0]["detail"])

        self.accepted(send(self.gw, "eve@monitor.test", ["user@example.test"], message("eve@monitor.test", "dmarc n"),
                           ip=BAD_IP))
        results = header_fields(delivered(self.gw, "inbox", "dmarc n"), "Authentication-Results")[0]
        self.assertIn("dmarc=fail", results)
        self.assertIn("header.from=monitor.test", results)

    def test_several_from_mailboxes_fail_dmarc(self):
        content = message("a@pass.test", "two authors").replace(b"From: <a@pass.test>",
                                                                 b"From: <a@pass.test>, <b@reject.test>")
        stage, reply = send(self.gw, "a@pass.test", ["user@example.test"], content)
        self.assertEqual((reply.code, reply.enhanced), (550, "5.7.1"), reply)

    def test_dkim_signatures_verified_and_aligned(self):
        for selector, algorithm, key in (("rsa", "rsa-sha256", RSA_PRIVATE), ("ed", "ed25519-sha256", ED_PRIVATE)):
            with self.subTest(algorithm=algorithm):
                subject = f"signed {algorithm}"
                content = sign(message("carol@signed.test", subject), selector, "signed.test", algorithm, key)
                # SPF fails (-all) but DKIM is aligned: DMARC passes despite p=reject.
                self.accepted(send(self.gw, "carol@signed.test", ["user@example.test"], content, ip=BAD_IP))
                results = header_fields(delivered(self.gw, "inbox", subject), "Authentication-Results")[0]
                self.assertIn("spf=fail", results)
                self.assertIn(f"dkim=pass header.d=signed.test header.s={selector}", results)
                self.assertIn("dmarc=pass", results)

    def test_broken_signature_fails_dkim(self):
        # pass.test: SPF passes from GOOD_IP, so DKIM is the only failing check.
        content = tampered("carol@pass.test", "pass.test", "tampered")
        stage, reply = send(self.gw, "carol@pass.test", ["user@strict.example"], content, ip=GOOD_IP)
        self.assertEqual((reply.code, reply.enhanced), (550, "5.7.20"), reply)
        self.accepted(send(self.gw, "carol@pass.test", ["user@tag.example"], content, ip=GOOD_IP))
        stored = delivered(self.gw, "inbox-tag", "tampered")
        results = header_fields(stored, "Authentication-Results")[0]
        self.assertIn("dkim=fail", results)
        self.assertIn("header.d=pass.test header.s=rsa", results)
        self.assertIn("dmarc=pass", results)  # aligned SPF is enough for DMARC
        self.assertEqual(header_fields(stored, "X-Mxgate-Tag"), ["dkim=fail"])

    def test_every_check_failing_is_reported_in_order(self):
        # signed.test publishes -all and its signature broke: SPF, DKIM and DMARC all fail; the
        # strict tenant is answered for the first of them, the tagging tenant sees all three.
        content = tampered("carol@signed.test", "signed.test", "all fail")
        stage, reply = send(self.gw, "carol@signed.test", ["user@strict.example"], content, ip=BAD_IP)
        self.assertEqual((reply.code, reply.enhanced), (550, "5.7.23"), reply)
        self.accepted(send(self.gw, "carol@signed.test", ["user@tag.example"], content, ip=BAD_IP))
        stored = delivered(self.gw, "inbox-tag", "all fail")
        tags = header_fields(stored, "X-Mxgate-Tag")[0]
        for verdict in ("spf=fail", "dkim=fail", "dmarc=fail"):
            self.assertIn(verdict, tags)

    def test_forged_authentication_results_are_removed(self):
        extra = (f"Authentication-Results: {HOST}; spf=pass smtp.mailfrom=forged.example;\r\n"
                 f"\tdkim=pass header.d=forged.example\r\n"
                 f"Authentication-Results: {HOST.upper()}; dmarc=pass\r\n"
                 "Authentication-Results: other.example; spf=pass smtp.mailfrom=pass.test\r\n")
        self.accepted(send(self.gw, "dan@pass.test", ["user@example.test"],
                           message("dan@pass.test", "forged ar", extra=extra)))
        stored = delivered(self.gw, "inbox", "forged ar")
        results = header_fields(stored, "Authentication-Results")
        self.assertEqual(len(results), 2, results)
        self.assertTrue(results[0].startswith(HOST + ";"))  # ours, added at the top
        self.assertNotIn("forged.example", results[0])
        self.assertEqual(results[1], "other.example; spf=pass smtp.mailfrom=pass.test")
        self.assertNotIn(b"forged.example", stored)

    def test_forged_results_naming_a_sibling_node_are_removed(self):
        before = self.gw.metric('mxgate_forged_fields_removed_total{field="authentication_results"}')
        extra = ("Authentication-Results: mx2.test.mxgate; dkim=pass header.d=forged.example\r\n"
                 "Authentication-Results:\r\n (cluster node) MX3.Test.Mxgate;\r\n"
                 "\tspf=pass smtp.mailfrom=forged.example\r\n"
                 "Authentication-Results: mx4.test.mxgate; spf=pass smtp.mailfrom=pass.test\r\n")
        self.accepted(send(self.gw, "dora@pass.test", ["user@example.test"],
                           message("dora@pass.test", "sibling ar", extra=extra)))
        stored = delivered(self.gw, "inbox", "sibling ar")
        results = header_fields(stored, "Authentication-Results")
        self.assertEqual(len(results), 2, results)
        self.assertTrue(results[0].startswith(HOST + ";"))  # ours
        self.assertEqual(results[1], "mx4.test.mxgate; spf=pass smtp.mailfrom=pass.test")  # a foreign id is kept
        self.assertNotIn(b"forged.example", stored)
        self.assertEqual(self.gw.metric('mxgate_forged_fields_removed_total{field="authentication_results"}'),
                         before + 2)

    def test_forged_x_mxgate_fields_are_removed(self):
        before = self.gw.metric('mxgate_forged_fields_removed_total{field="x_mxgate"}')
        sender = "bob@nodmarc.test"
        extra = ("X-Mxgate-Tag: spf=pass FAKE\r\n"
                 "x-mxgate-tag:\r\n dmarc=pass;\r\n\tFAKE=folded\r\n"
                 "X-MXGATE-Verdict : clean FAKE\r\n"
                 "X-Mxgate: not ours, kept\r\n")
        self.accepted(send(self.gw, sender, ["user@tag.example"], message(sender, "own fields", extra=extra), ip=BAD_IP))
        stored = delivered(self.gw, "inbox-tag", "own fields")
        self.assertEqual(header_fields(stored, "X-Mxgate-Tag"), ["spf=fail"])  # only ours
        self.assertEqual(header_fields(stored, "X-Mxgate-Verdict"), [])
        self.assertEqual(header_fields(stored, "X-Mxgate"), ["not ours, kept"])
        self.assertNotIn(b"FAKE", stored)
        self.assertEqual(self.gw.metric('mxgate_forged_fields_removed_total{field="x_mxgate"}'), before + 3)
        # Accepted without any verdict to tag: no X-Mxgate-Tag at all survives.
        self.accepted(send(self.gw, "dan@pass.test", ["user@example.test"],
                           message("dan@pass.test", "clean own field", extra="X-Mxgate-Tag: FAKE\r\n")))
        self.assertEqual(header_fields(delivered(self.gw, "inbox", "clean own field"), "X-Mxgate-Tag"), [])

    def test_dns_failures_are_temporary(self):
        for domain in ("servfail.test", "timeout.test"):
            with self.subTest(domain=domain):
                sender = "frank@" + domain
                stage, reply = send(self.gw, sender, ["user@strict.example"], message(sender, "dns " + domain))
                self.assertEqual((stage, reply.code, reply.enhanced), ("dot", 451, "4.4.3"), reply)
                self.assertIn(b"SPF", reply.text)
        # A tenant that only tags SPF failures does not need the answer: accepted, temperror shown.
        self.accepted(send(self.gw, "frank@servfail.test", ["user@tag.example"],
                           message("frank@servfail.test", "dns tag")))
        results = header_fields(delivered(self.gw, "inbox-tag", "dns tag"), "Authentication-Results")[0]
        self.assertIn("spf=temperror", results)
        # The _dmarc lookup failing matters to a tenant that rejects on DMARC.
        stage, reply = send(self.gw, "gina@dmarcfail.test", ["user@example.test"],
                            message("gina@dmarcfail.test", "dmarc servfail"))
        self.assertEqual((reply.code, reply.enhanced), (451, "4.4.3"), reply)
        self.assertIn(b"DMARC", reply.text)

    def test_one_message_for_tenants_with_different_policies(self):
        sender = "hal@reject.test"
        queued = self.accepted(send(self.gw, sender, ["user@example.test", "user@tag.example"],
                                    message(sender, "mixed tenants"), ip=BAD_IP))
        stored = delivered(self.gw, "inbox-tag", "mixed tenants")
        self.assertIn("dmarc=fail", header_fields(stored, "X-Mxgate-Tag")[0])
        entries = [e for e in quarantine_entries(self.gw) if e["id"] == queued]
        self.assertEqual([(e["tenant"], e["recipients"]) for e in entries], [("example", ["user@example.test"])])
        status, shown = self.gw.admin(f"/v1/queue/{queued}")
        self.assertEqual(status, 200, shown)
        self.assertEqual(shown["state"], "held")
        states = {r["address"]: r["state"] for r in shown["recipients"]}
        self.assertEqual(states, {"user@example.test": "quarantined", "user@tag.example": "delivered"})
        self.assertEqual(shown["verdicts"]["dmarc"], "fail")
        self.assertEqual(shown["verdicts"]["dmarc_policy"], "reject")

    def test_verdicts_are_counted(self):
        send(self.gw, "ivy@pass.test", ["user@example.test"], message("ivy@pass.test", "counted"))
        delivered(self.gw, "inbox", "counted")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.gw.admin_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        passes = [line for line in text.splitlines()
                  if line.startswith('mxgate_auth_results_total{check="spf",result="pass"}')]
        self.assertEqual(len(passes), 1, text)
        self.assertGreaterEqual(float(passes[0].split()[-1]), 1)
        self.assertIn("mxgate_dns_queries_total", text)


class XclientTest(unittest.TestCase):
    def test_untrusted_clients_may_not_use_xclient(self):
        with Gateway(zone=ZONE) as gw, Client(gw.first_port) as client:
            self.assertNotIn(b"XCLIENT", client.ehlo().raw)
            reply = client.command(f"XCLIENT ADDR={GOOD_IP}\r\n")
            self.assertEqual((reply.code, reply.enhanced), (550, "5.7.0"), reply)

    def test_xclient_replaces_the_client_for_checks_and_trace(self):
        with Gateway(zone=ZONE, overrides={"smtp": {"xclient_networks": ["127.0.0.1/32"]}}) as gw:
            with Client(gw.first_port) as client:
                self.assertIn(b"XCLIENT ADDR HELO NAME PROTO", client.ehlo().raw)
                reply = client.command("XCLIENT ADDR=not-an-address\r\n")
                self.assertEqual((reply.code, reply.enhanced), (501, "5.5.4"), reply)
                reply = client.command(f"XCLIENT ADDR={GOOD_IP} HELO=pass.test\r\n")
                self.assertEqual(reply.code, 220, reply)
                client.ehlo("pass.test")
                stage, reply = client.transaction("kim@pass.test", ["user@example.test"],
                                                  message("kim@pass.test", "xclient trace"))
                self.assertEqual(reply.code, 250, reply)
            stored = delivered(gw, "inbox", "xclient trace")
            self.assertIn(f"([{GOOD_IP}])".encode(), stored)
            self.assertIn("spf=pass", header_fields(stored, "Authentication-Results")[0])


class TrustedListenerTest(unittest.TestCase):
    def test_auth_checks_off_still_strips_forged_results(self):
        gw = Gateway(zone=ZONE)
        gw.listeners[0]["auth_checks"] = False
        gw.write_config()
        with gw:
            extra = f"Authentication-Results: {HOST}; spf=pass\r\n"
            with Client(gw.first_port) as client:
                client.ehlo()
                stage, reply = client.transaction("x@reject.test", ["user@example.test"],
                                                  message("x@reject.test", "unchecked", extra=extra))
                self.assertEqual(reply.code, 250, reply)
            stored = delivered(gw, "inbox", "unchecked")
            self.assertEqual(header_fields(stored, "Authentication-Results"), [])
            self.assertEqual(gw.dns.queries, [])


if __name__ == "__main__":
    unittest.main()
