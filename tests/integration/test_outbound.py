"""The outbound relay end to end (issue 10) with real peers: a tenant's application submits over
SMTP with AUTH (smtplib, STARTTLS, PLAIN/LOGIN) to any domain; mxgate finds the recipient
domain's mail exchanger through its DNS server (dns_server.py) and delivers to an aiosmtpd
receiver on 127.0.0.2-127.0.0.5 ([mx] port set to a high port), with STARTTLS. dkimpy verifies
both the rsa-sha256 and the ed25519-sha256 signature of what arrived. Sender binding: a MAIL
FROM, From, Sender or pre-existing DKIM-Signature d= of another tenant or a foreign domain gets
550 5.7.1 and nothing is delivered — over the whole cross-tenant matrix (support_outbound.py).
Postfix's smtp-sink plays exchangers with injected failures (5xx and 4xx at RCPT, 421 at
MAIL, a late reply to DATA). A 5xx from the receiver produces a DSN to the sender domain's exchanger that Python's email
package reads as multipart/report (headers-only original); none for a tenant with
[outbound] dsn = false, none to <>. The delivered event (webhook_receiver.py) carries the
remote host, IP, TLS version and cipher, the response, and the message's tags and metadata.
"""

import email
import email.policy
import os
import re
import subprocess
import tempfile
import time
import unittest

import dkim

from harness import MXGATE, Gateway, RecordingSink, free_port, wait_until
from support_outbound import Domains, attempt_message, cross_tenant_attempts, smtp_credential, submission_client
from support_protocol import self_signed, server_tls_context
from webhook_receiver import Receiver, whsec

EVENTS_KEY = b"outbound-events-key-0123456789ab"
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": "127.0.0.2"}],
    "reject.test": [{"type": "MX", "value": [10, "mx.reject.test"]}],
    "mx.reject.test": [{"type": "A", "value": "127.0.0.3"}],
    "acme.test": [{"type": "MX", "value": [10, "mx.acme.test"]}],
    "mx.acme.test": [{"type": "A", "value": "127.0.0.4"}],
    "beta.test": [{"type": "MX", "value": [10, "mx.beta.test"]}],
    "mx.beta.test": [{"type": "A", "value": "127.0.0.5"}],
}
REFUSED = "nobody@reject.test"
REFUSAL = "550 5.1.1 <nobody@reject.test>: no such user"
# Refused too, for the null sender's message: a hard bounce puts REFUSED on acme's suppression
# list, so acme's later mail to it is refused at RCPT (test_suppression).
REFUSED_AUTOREPLY = "autoreply@reject.test"


def keygen(directory, selector, algorithm):
    """A key written by `mxgate dkim keygen`: (key file, DNS record text)."""
    path = os.path.join(directory, selector + ".pem")
    result = subprocess.run([MXGATE, "dkim", "keygen", "--domain", "acme.test", "--selector", selector,
                             "--algorithm", algorithm, "--out", path], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return path, "".join(re.findall(r'"([^"]*)"', result.stdout))


class OutboundTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-outbound-")
        cert, key = self_signed(cls.tmp, "mx.far.test")
        port = free_port()
        cls.far = RecordingSink(host="127.0.0.2", port=port, starttls_context=server_tls_context(cert, key)).start()
        cls.reject = RecordingSink(host="127.0.0.3", port=port, rcpt_replies={REFUSED: REFUSAL, REFUSED_AUTOREPLY: REFUSAL}).start()
        cls.acme_mx = RecordingSink(host="127.0.0.4", port=port).start()
        cls.beta_mx = RecordingSink(host="127.0.0.5", port=port).start()
        cls.events = Receiver([EVENTS_KEY]).start()
        rsa_file, cls.rsa_record = keygen(cls.tmp, "rsa1", "rsa")
        ed_file, cls.ed_record = keygen(cls.tmp, "ed1", "ed25519")
        inbox = os.path.join(cls.tmp, "inbox")
        tenants = {
            "acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": inbox},
                     "events": {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True},
                     "dkim.keys": [{"domain": "acme.test", "selector": "rsa1", "algorithm": "rsa-sha256",
                                    "key_file": rsa_file},
                                   {"domain": "acme.test", "selector": "ed1", "algorithm": "ed25519-sha256",
                                    "key_file": ed_file}]},
            "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox},
                     "outbound": {"dsn": False}},
        }
        cls.gw = Gateway(tenants=tenants, zone=ZONE,
                         overrides={"mx": {"port": port, "address_families": "ipv4"},
                                    "smtp": {"max_errors": 1000, "max_junk_commands": 10000}})
        cls.gw.start()
        cls.acme = smtp_credential(cls.gw, "acme")
        cls.beta = smtp_credential(cls.gw, "beta")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        for peer in (cls.far, cls.reject, cls.acme_mx, cls.beta_mx, cls.events):
            peer.stop()

    def submission(self, credential):
        return submission_client(self, self.gw, credential, "app.acme.test")

    def submit(self, credential, mail_from, recipients, message):
        """MAIL, RCPTs, DATA on a fresh session: the replies as (code, text) per step."""
        client = self.submission(credential)
        replies = [client.mail(mail_from)]
        if replies[0][0] != 250:
            return replies
        replies += [client.rcpt(r) for r in recipients]
        replies.append(client.data(message))
        client.quit()
        return replies

    def verify(self, data):
        """dkimpy's verdict per signature of a received message: {algorithm: bool}."""
        def dnsfunc(name, timeout=5):
            name = name.rstrip(b".").decode()
            return {"rsa1._domainkey.acme.test": self.rsa_record,
                    "ed1._domainkey.acme.test": self.ed_record}.get(name, "").encode() or None
        verifier = dkim.DKIM(data)
        count = len(re.findall(rb"(?im)^DKIM-Signature:", data))
        verdicts = {}
        for index in range(count):
            ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
            verdicts[verifier.signature_fields[b"a"].decode()] = ok
        return verdicts

    def test_submission_is_signed_and_delivered_to_the_recipient_domains_mx(self):
        before = self.far.count()
        message = (b"From: Acme App <app@acme.test>\r\nTo: rcpt@far.test\r\nSubject: Your order\r\n"
                   b"Date: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <order-1@acme.test>\r\n\r\n"
                   b"Thank you for your order.\r\n")
        replies = self.submit(self.acme, "app@acme.test", ["rcpt@far.test"], message)
        self.assertEqual([code for code, _ in replies], [250, 250, 250], replies)
        self.assertTrue(wait_until(lambda: self.far.count() == before + 1, 30), self.gw.log()[-3000:])
        received = self.far.messages[-1]
        self.assertEqual(received["mail_from"], "app@acme.test")
        self.assertEqual(received["rcpt_tos"], ["rcpt@far.test"])
        data = received["data"]
        self.assertIn(b"with ESMTPSA", data)
        self.assertEqual(self.verify(data), {"rsa-sha256": True, "ed25519-sha256": True}, data[:1500])
        self.assertIn("dkim_sign=signed", self.gw.log())
        # The delivered event: who answered, over which TLS, what it said; tags and metadata.
        def delivered():
            return [r["json"] for r in self.events.received()
                    if r["json"] and r["json"]["type"] == "message.delivered"
                    and r["json"]["data"].get("recipient") == "rcpt@far.test"]
        self.assertTrue(wait_until(lambda: delivered(), 30), self.gw.log()[-3000:])
        event = delivered()[0]["data"]
        self.assertEqual(event["remote_host"], "mx.far.test")
        self.assertEqual(event["remote_ip"], "127.0.0.2")
        self.assertTrue(event["tls"]["version"].startswith("TLSv1."), event)
        self.assertTrue(event["tls"]["cipher"], event)
        self.assertEqual(event["response"]["code"], 250)
        self.assertEqual(event["response"]["text"], "OK recorded")
        self.assertEqual(event["tags"], [])
        self.assertEqual(event["metadata"], {})

    def test_senders_outside_the_tenant_are_refused(self):
        before = self.far.count() + self.beta_mx.count() + self.acme_mx.count()
        for sender in ("app@beta.test", "app@foreign.test", "app@sub.acme.test"):
            with self.subTest(mail_from=sender):
                replies = self.submit(self.acme, sender, ["rcpt@far.test"], b"Subject: x\r\n\r\nx\r\n")
                self.assertEqual(replies[0][0], 550, replies)
                self.assertEqual(replies[0][1].decode(),
                                 f"5.7.1 <{sender}>: Sender address rejected: not a domain of the authenticated sender")
        for headers, refusal in (
                (b"From: app@beta.test\r\n", "From domain beta.test"),
                (b"From: app@acme.test, x@foreign.test\r\n", "From domain foreign.test"),
                (b"From: app@acme.test\r\nSender: ops@beta.test\r\n", "Sender domain beta.test"),
                (b"From: app@acme.test\r\nDKIM-Signature: v=1; a=rsa-sha256; d=beta.test; s=s; h=from; bh=AA==; "
                 b"b=AA==\r\n", "DKIM-Signature d=beta.test")):
            with self.subTest(headers=headers):
                replies = self.submit(self.acme, "app@acme.test", ["rcpt@far.test"],
                                      headers + b"Subject: forged\r\n\r\nforged\r\n")
                self.assertEqual(replies[-1][0], 550, replies)
                self.assertEqual(replies[-1][1].decode(),
                                 f"5.7.1 Message rejected: {refusal} is not a domain of the authenticated sender")
        self.assertIn("reason=sender_binding", self.gw.log())
        time.sleep(2)
        self.assertEqual(self.far.count() + self.beta_mx.count() + self.acme_mx.count(), before)

    def test_a_refused_recipient_is_reported_to_the_sender(self):
        before = self.acme_mx.count()
        message = (b"From: app@acme.test\r\nTo: nobody@reject.test\r\nSubject: bounce me\r\n"
                   b"Message-ID: <bounce-1@acme.test>\r\n\r\nsecret body text\r\n")
        replies = self.submit(self.acme, "app@acme.test", [REFUSED], message)
        self.assertEqual(replies[-1][0], 250, replies)
        self.assertTrue(wait_until(lambda: self.acme_mx.count() == before + 1, 30), self.gw.log()[-3000:])
        dsn = self.acme_mx.messages[-1]
        self.assertIn(dsn["mail_from"], ("", "<>"))
        self.assertEqual(dsn["rcpt_tos"], ["app@acme.test"])
        report = email.message_from_bytes(dsn["data"], policy=email.policy.default)
        self.assertEqual(report.get_content_type(), "multipart/report")
        self.assertEqual(report.get_param("report-type"), "delivery-status")
        parts = list(report.iter_parts())
        self.assertEqual([part.get_content_type() for part in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        status = parts[1].as_string()
        for field in ("Final-Recipient: rfc822; nobody@reject.test", "Action: failed", "Status: 5.1.1",
                      "Remote-MTA: dns; mx.reject.test", f"Diagnostic-Code: smtp; {REFUSAL}"):
            self.assertIn(field, status)
        returned = parts[2].get_content()
        self.assertIn("Subject: bounce me", returned)
        self.assertNotIn("secret body text", dsn["data"].decode())  # headers only

    def test_no_report_for_a_tenant_without_dsn_or_to_the_null_sender(self):
        acme_before, beta_before = self.acme_mx.count(), self.beta_mx.count()
        replies = self.submit(self.beta, "app@beta.test", [REFUSED],
                              b"From: app@beta.test\r\nSubject: beta bounce\r\n\r\nx\r\n")
        self.assertEqual(replies[-1][0], 250, replies)
        beta_id = replies[-1][1].decode().split()[-1]
        replies = self.submit(self.acme, "", [REFUSED_AUTOREPLY],
                              b"From: app@acme.test\r\nSubject: auto-reply\r\n\r\nx\r\n")
        self.assertEqual([code for code, _ in replies], [250, 250, 250], replies)
        null_id = replies[-1][1].decode().split()[-1]
        self.assertTrue(wait_until(lambda: f"{null_id}: event=dsn_not_sent reason=null_sender" in self.gw.log(), 30),
                        self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: f"{beta_id}: event=failed to={REFUSED}" in self.gw.log(), 30),
                        self.gw.log()[-3000:])
        self.assertIn("dkim_sign=none", self.gw.log())  # beta has no key: sent unsigned
        time.sleep(3)
        self.assertEqual((self.acme_mx.count(), self.beta_mx.count()), (acme_before, beta_before))
        self.assertNotIn(f"{beta_id}: event=dsn_queued", self.gw.log())

    def test_cross_tenant_attempts_send_nothing_but_the_tenants_own(self):
        domains = Domains(own="acme.test", other="beta.test", foreign="foreign.test")
        before = self.far.count()
        client = self.submission(self.acme)
        attempts = list(cross_tenant_attempts(domains, "rcpt@far.test"))
        self.assertGreaterEqual(len(attempts), 400)
        allowed = []
        for attempt in attempts:
            code, text = client.mail(attempt.mail_from)
            if code == 250:
                self.assertEqual(client.rcpt("rcpt@far.test")[0], 250, attempt.label)
                code, text = client.data(attempt_message(attempt))
            outcome = "sent" if code == 250 else "refused"
            self.assertEqual(outcome, "sent" if attempt.allowed else "refused", f"{attempt.label}: {code} {text}")
            if code != 250:
                self.assertTrue(text.startswith(b"5.7.1 "), f"{attempt.label}: {code} {text}")
                self.assertEqual(code, 550, attempt.label)
                client.rset()
            else:
                allowed.append(attempt.number)
        client.quit()
        self.assertEqual(len(allowed), 12)  # 4 wholly-own combinations in each of 3 address forms
        self.assertTrue(wait_until(lambda: self.far.count() == before + len(allowed), 60), self.gw.log()[-3000:])
        time.sleep(2)
        delivered = self.far.messages[before:]
        self.assertEqual(len(delivered), len(allowed))
        subjects = sorted(int(re.search(rb"Subject: cross-tenant attempt (\d+)", m["data"]).group(1)) for m in delivered)
        self.assertEqual(subjects, sorted(allowed))


if __name__ == "__main__":
    unittest.main()


class SmtpSinkPeersTest(unittest.TestCase):
    """Postfix's smtp-sink as the recipient domains' mail exchangers, with injected failures: a
    5xx at RCPT (bounced, classified hard / invalid_recipient, and suppressed), a 4xx at RCPT
    (deferred, soft / mailbox_full, still queued), a 421 at MAIL (deferred, the connection
    closed), and a reply to DATA that comes seconds late (delivered)."""

    PEERS = {  # domain: (address, smtp-sink options)
        "hard.test": ("127.0.0.6", ["-f", "RCPT", "-B", "550 5.1.1 Recipient address rejected: User unknown"]),
        "soft.test": ("127.0.0.7", ["-r", "RCPT", "-b", "452 4.2.2 Mailbox full"]),
        "busy.test": ("127.0.0.8", ["-Q", "MAIL"]),
        "slow.test": ("127.0.0.9", ["-w", "3"]),
    }

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-sinkpeers-")
        cls.dumps = tempfile.mkdtemp(prefix="mxgate-sinkpeers-dumps-")
        os.chmod(cls.dumps, 0o777)  # smtp-sink writes its dumps as nobody
        port = free_port()
        zone = {}
        cls.sinks = []
        for domain, (address, options) in cls.PEERS.items():
            zone[domain] = [{"type": "MX", "value": [10, "mx." + domain]}]
            zone["mx." + domain] = [{"type": "A", "value": address}]
            dump = os.path.join(cls.dumps, domain + "-")
            cls.sinks.append(subprocess.Popen(["smtp-sink", "-u", "nobody", "-d", dump, *options,
                                               f"{address}:{port}", "64"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cls.events = Receiver([EVENTS_KEY]).start()
        tenants = {"acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": os.path.join(cls.tmp, "in")},
                            "events": {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True},
                            "outbound": {"dsn": False}}}
        cls.gw = Gateway(tenants=tenants, zone=zone, overrides={"mx": {"port": port, "address_families": "ipv4"}})
        cls.gw.start()
        cls.credential = smtp_credential(cls.gw, "acme")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.events.stop()
        for sink in cls.sinks:
            sink.kill()
            sink.wait()

    def send(self, recipient):
        client = submission_client(self, self.gw, self.credential, "app.acme.test")
        refused = client.sendmail("app@acme.test", [recipient],
                                  f"From: app@acme.test\r\nTo: {recipient}\r\nSubject: peer test\r\n\r\nhello\r\n")
        self.assertEqual(refused, {})
        client.quit()

    def event(self, kind, recipient):
        found = [e["data"] for e in self.events.events() if e and e["type"] == kind
                 and e["data"].get("recipient") == recipient]
        return found[0] if found else None

    def test_hard_bounce_is_classified_and_suppressed(self):
        self.send("gone@hard.test")
        self.assertTrue(wait_until(lambda: self.event("message.bounced", "gone@hard.test"), 30), self.gw.log()[-3000:])
        event = self.event("message.bounced", "gone@hard.test")
        self.assertEqual(event["response"]["code"], 550)
        self.assertEqual(event["bounce"], {"class": "hard", "label": "invalid_recipient"})
        listing = self.gw.cli("suppression", "ls", "--tenant", "acme", "--json")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn("gone@hard.test", listing.stdout)

    def test_soft_failure_and_421_are_deferred_and_kept(self):
        self.send("full@soft.test")
        self.send("someone@busy.test")
        self.assertTrue(wait_until(lambda: self.event("message.deferred", "full@soft.test")
                                   and self.event("message.deferred", "someone@busy.test"), 30), self.gw.log()[-3000:])
        soft = self.event("message.deferred", "full@soft.test")
        self.assertEqual(soft["response"]["code"], 452)
        self.assertEqual(soft["bounce"], {"class": "soft", "label": "mailbox_full"})
        busy = self.event("message.deferred", "someone@busy.test")
        self.assertEqual(busy["response"]["code"], 421, busy)
        self.assertIsNone(self.event("message.bounced", "full@soft.test"))
        self.assertIsNone(self.event("message.bounced", "someone@busy.test"))
        listing = self.gw.cli("queue", "ls", "--json")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn("full@soft.test", listing.stdout)
        self.assertIn("someone@busy.test", listing.stdout)

    def test_a_late_reply_to_data_still_delivers(self):
        started = time.monotonic()
        self.send("patient@slow.test")
        self.assertTrue(wait_until(lambda: self.event("message.delivered", "patient@slow.test"), 40),
                        self.gw.log()[-3000:])
        self.assertGreaterEqual(time.monotonic() - started, 3)
        dumps = [name for name in os.listdir(self.dumps) if name.startswith("slow.test-")]
        self.assertEqual(len(dumps), 1, dumps)
