"""Recipient validation for relayed inbound mail (RFC 5321 §3.3, §6.1): a tenant's
delivery.recipients = "list" refuses unknown users at RCPT with 550 5.1.1 (addresses from
recipients_list and recipients_file, case-insensitive, "+detail" ignored; the file re-read on
SIGHUP), while the known recipients of the same transaction are accepted and relayed.
delivery.recipients = "verify" asks the next hop (an aiosmtpd peer that records every RCPT)
with a probe before answering: its 250 / 550 / 450 become 250 2.1.5 / 550 5.1.1 / 450 4.1.1, each
answer is cached (one probe per address, also for concurrent sessions), a next hop that is down
or slower than verify_wait gives 450 4.1.1 and the slow probe's answer serves the retry, and a
probe never sends DATA.
Mail that the next hop refuses after mxgate accepted it goes back to its sender as an RFC 3464
report (multipart/report, read back with Python's email package) from the null sender: through
the [bounces] relay, or without one to the sender domain's mail exchangers (the preferred one
refusing connections, the next one takes it; a null-MX domain gets none); never for mail whose
sender did not pass SPF or DMARC, never to <>, and not with bounces.enabled = false (each
logged as dsn_not_sent).
"""

import email
import email.policy
import os
import threading
import time
import unittest

from harness import Client, Gateway, RecordingSink, dot_stuff, free_port, make_message, smtp_tenant, wait_until

SENDER = "sender@remote.example"


def rcpt_replies(gateway, recipients):
    """MAIL, the RCPTs pipelined, then RSET; returns the RCPT replies as "code enhanced" strings."""
    with Client(gateway.smtp_port) as client:
        client.ehlo()
        client.send(f"MAIL FROM:<{SENDER}>\r\n".encode() +
                    b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients))
        replies = client.replies(1 + len(recipients))
        assert replies[0].short() == "250 2.1.0", replies[0]
        client.command("RSET\r\n")
        return [reply.short() for reply in replies[1:]]


class RecipientListTest(unittest.TestCase):
    def setUp(self):
        self.sink = RecordingSink().start()
        self.addCleanup(self.sink.stop)

    def gateway(self, delivery):
        gateway = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": delivery}})
        self.addCleanup(gateway.cleanup)
        return gateway.start()

    def test_unknown_recipients_are_refused_in_the_session(self):
        gw = self.gateway(smtp_tenant(self.sink.port, recipients="list",
                                      recipients_list=["alice@example.test", "Support@Example.test"]))
        self.assertEqual(rcpt_replies(gw, ["alice@example.test", "nobody@example.test", "SUPPORT@example.test",
                                           "alice+ticket-7@example.test", "postmaster@example.test"]),
                         ["250 2.1.5", "550 5.1.1", "250 2.1.5", "250 2.1.5", "250 2.1.5"])
        with Client(gw.smtp_port) as client:
            client.ehlo()
            self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(client.command("RCPT TO:<alice@example.test>\r\n").short(), "250 2.1.5")
            refused = client.command("RCPT TO:<bob@example.test>\r\n")
            self.assertEqual(refused.short(), "550 5.1.1")
            self.assertIn(b"<bob@example.test>: Recipient address rejected: User unknown", refused.raw)
            self.assertEqual(client.command("DATA\r\n").code, 354)
            client.send(dot_stuff(make_message(to="alice@example.test")) + b".\r\n")
            self.assertEqual(client.reply().short(), "250 2.0.0")
        self.assertTrue(wait_until(lambda: self.sink.count() == 1, 20))
        self.assertEqual(self.sink.messages[0]["rcpt_tos"], ["alice@example.test"])
        self.assertIn("reason=unknown_recipient", gw.log())

    def test_recipients_file_is_read_again_on_reload(self):
        gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(
            self.sink.port, recipients="list", recipients_file="recipients.txt")}})
        self.addCleanup(gw.cleanup)
        with open(os.path.join(gw.dir, "recipients.txt"), "w") as f:
            f.write("# staff\nalice@example.test\n")
        gw.start()
        self.assertEqual(rcpt_replies(gw, ["alice@example.test", "carol@example.test"]), ["250 2.1.5", "550 5.1.1"])
        with open(os.path.join(gw.dir, "recipients.txt"), "a") as f:
            f.write("carol@example.test\n")
        gw.reload()
        self.assertTrue(wait_until(lambda: rcpt_replies(gw, ["carol@example.test"]) == ["250 2.1.5"], 20))


class RecipientVerifyTest(unittest.TestCase):
    def start(self, sink_port, links=None, **delivery):
        tenant = {"domains": ["example.test"], "delivery": smtp_tenant(sink_port, recipients="verify", **delivery)}
        if links:
            tenant["links"] = {"mode": links}
        gateway = Gateway(tenants={"example": tenant}, overrides={"links": {"host": "links.test"}} if links else None)
        self.addCleanup(gateway.cleanup)
        return gateway.start()

    def test_the_next_hops_answer_decides_and_is_cached(self):
        sink = RecordingSink(rcpt_replies={"gone@example.test": "550 5.1.1 no such user",
                                           "busy@example.test": "450 4.2.1 mailbox busy"}).start()
        self.addCleanup(sink.stop)
        gw = self.start(sink.port)
        self.assertEqual(rcpt_replies(gw, ["alice@example.test", "gone@example.test", "busy@example.test"]),
                         ["250 2.1.5", "550 5.1.1", "450 4.1.1"])
        self.assertEqual(sorted(sink.rcpts), ["alice@example.test", "busy@example.test", "gone@example.test"])
        self.assertEqual(sink.count(), 0, "a probe sent DATA")
        # Answered from the cache: no new probes, the same replies (also with other case).
        self.assertEqual(rcpt_replies(gw, ["ALICE@example.test", "gone@example.test"]), ["250 2.1.5", "550 5.1.1"])
        self.assertEqual(len(sink.rcpts), 3)
        # A whole transaction to a verified recipient is relayed.
        with Client(gw.smtp_port) as client:
            client.ehlo()
            self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(client.command("RCPT TO:<alice@example.test>\r\n").short(), "250 2.1.5")
            self.assertEqual(client.command("DATA\r\n").code, 354)
            client.send(dot_stuff(make_message(to="alice@example.test")) + b".\r\n")
            self.assertEqual(client.reply().short(), "250 2.0.0")
        self.assertTrue(wait_until(lambda: sink.count() == 1, 20))
        self.assertIn("reason=undeliverable", gw.log())
        self.assertEqual(gw.metric("mxgate_recipient_probes_total"), 3)

    def test_a_tenant_with_link_rewriting_is_probed_too(self):
        sink = RecordingSink(rcpt_replies={"gone@example.test": "550 5.1.1 no such user"}).start()
        self.addCleanup(sink.stop)
        gw = self.start(sink.port, links="safe_links")
        self.assertEqual(rcpt_replies(gw, ["alice@example.test", "gone@example.test"]), ["250 2.1.5", "550 5.1.1"])
        self.assertEqual(sorted(sink.rcpts), ["alice@example.test", "gone@example.test"])

    def test_concurrent_questions_share_one_probe(self):
        sink = RecordingSink(rcpt_delay=1.0).start()
        self.addCleanup(sink.stop)
        gw = self.start(sink.port)
        results = []
        threads = [threading.Thread(target=lambda: results.append(rcpt_replies(gw, ["carol@example.test"])))
                   for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(results, [["250 2.1.5"]] * 5)
        self.assertEqual(sink.rcpts, ["carol@example.test"])

    def test_a_next_hop_that_is_down_or_slow_gives_450(self):
        gw = self.start(free_port(), verify_wait="1s", verify_tempfail_ttl="1s")
        self.assertEqual(rcpt_replies(gw, ["dave@example.test"]), ["450 4.1.1"])
        self.assertIn("reason=unverified", gw.log())
        slow = RecordingSink(rcpt_delay=3.0).start()
        self.addCleanup(slow.stop)
        gw2 = self.start(slow.port, verify_wait="1s")
        started = time.monotonic()
        self.assertEqual(rcpt_replies(gw2, ["erin@example.test"]), ["450 4.1.1"])
        self.assertLess(time.monotonic() - started, 2.5, "RCPT waited longer than verify_wait")
        # The probe went on; its answer is cached for the client's retry.
        self.assertTrue(wait_until(lambda: rcpt_replies(gw2, ["erin@example.test"]) == ["250 2.1.5"], 20))
        self.assertEqual(slow.rcpts, ["erin@example.test"])


def send(gateway, sender, recipients, subject):
    with Client(gateway.smtp_port) as client:
        client.ehlo()
        assert client.command(f"MAIL FROM:<{sender}>\r\n").short() == "250 2.1.0"
        for recipient in recipients:
            assert client.command(f"RCPT TO:<{recipient}>\r\n").short() == "250 2.1.5"
        assert client.command("DATA\r\n").code == 354
        client.send(dot_stuff(make_message(subject=subject, sender=sender, to=", ".join(recipients))) + b".\r\n")
        reply = client.reply()
        assert reply.short() == "250 2.0.0", reply


class BounceTest(unittest.TestCase):
    ZONE = {"pass.test": [{"type": "TXT", "value": "v=spf1 ip4:127.0.0.1 -all"},
                          {"type": "MX", "value": [10, "down.pass.test"]}, {"type": "MX", "value": [20, "up.pass.test"]}],
            "down.pass.test": [{"type": "A", "value": "127.0.0.2"}],
            "up.pass.test": [{"type": "A", "value": "127.0.0.1"}],
            "nullmx.test": [{"type": "TXT", "value": "v=spf1 ip4:127.0.0.1 -all"}, {"type": "MX", "value": [0, "."]}],
            "forged.test": [{"type": "TXT", "value": "v=spf1 ip4:192.0.2.1 -all"}]}

    def setUp(self):
        self.next_hop = RecordingSink(rcpt_replies={"bob@example.test": "550 5.1.1 <bob@example.test>: no such user"})
        self.relay = RecordingSink()
        for sink in (self.next_hop, self.relay):
            sink.start()
            self.addCleanup(sink.stop)

    def gateway(self, overrides=None):
        """A gateway whose bounce relay is self.relay, unless overrides are given."""
        overrides = overrides or {"bounces": {"host": "127.0.0.1", "port": self.relay.port, "tls": "none"}}
        gateway = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(self.next_hop.port)}},
                          overrides=overrides, zone=self.ZONE)
        self.addCleanup(gateway.cleanup)
        return gateway.start()

    def test_a_refused_recipient_is_reported_to_an_authenticated_sender(self):
        gw = self.gateway()
        send(gw, "alice@pass.test", ["carol@example.test", "bob@example.test"], "quarterly numbers")
        self.assertTrue(wait_until(lambda: self.relay.count() == 1, 30), gw.log()[-3000:])
        self.assertEqual(self.next_hop.count(), 1)
        dsn = self.relay.messages[0]
        self.assertIn(dsn["mail_from"], ("", "<>"))
        self.assertEqual(dsn["rcpt_tos"], ["alice@pass.test"])
        report = email.message_from_bytes(dsn["data"], policy=email.policy.default)
        self.assertEqual(report.get_content_type(), "multipart/report")
        self.assertEqual(report.get_param("report-type"), "delivery-status")
        self.assertEqual(report["Auto-Submitted"], "auto-replied")
        self.assertEqual(report["To"].addresses[0].addr_spec, "alice@pass.test")
        parts = list(report.iter_parts())
        self.assertEqual([part.get_content_type() for part in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        status = parts[1].as_string()
        for field in ("Reporting-MTA: dns; mx.test.mxgate", "Final-Recipient: rfc822; bob@example.test",
                      "Action: failed", "Status: 5.1.1", "Remote-MTA: dns; 127.0.0.1",
                      "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: no such user"):
            self.assertIn(field, status)
        self.assertNotIn("carol@example.test", status)
        returned = parts[2].get_content()
        self.assertIn("Subject: quarterly numbers", returned)
        self.assertIn("spf=pass smtp.mailfrom=alice@pass.test", returned)
        self.assertEqual(gw.metric('mxgate_dsn_total{result="queued"}'), 1)

    def test_no_report_for_forged_or_null_senders_or_when_disabled(self):
        gw = self.gateway()
        send(gw, "mallory@forged.test", ["bob@example.test"], "forged")
        send(gw, "", ["bob@example.test"], "a bounce itself")
        self.assertTrue(wait_until(lambda: gw.log().count("event=dsn_not_sent") == 2, 30), gw.log()[-3000:])
        self.assertIn("reason=unauthenticated_sender", gw.log())
        self.assertIn("reason=null_sender", gw.log())
        disabled = self.gateway(overrides={"bounces": {"enabled": False}})
        send(disabled, "alice@pass.test", ["bob@example.test"], "disabled")
        self.assertTrue(wait_until(lambda: "reason=bounces_disabled" in disabled.log(), 30), disabled.log()[-3000:])
        self.assertEqual(self.relay.count(), 0)

    def test_without_a_relay_the_report_goes_to_the_sender_domains_mail_exchangers(self):
        # The preferred exchanger (127.0.0.2) refuses connections: the next one takes the report.
        gw = self.gateway(overrides={"mx": {"port": self.relay.port}})
        send(gw, "alice@pass.test", ["bob@example.test"], "by mx")
        self.assertTrue(wait_until(lambda: self.relay.count() == 1, 30), gw.log()[-3000:])
        dsn = self.relay.messages[0]
        self.assertIn(dsn["mail_from"], ("", "<>"))
        self.assertEqual(dsn["rcpt_tos"], ["alice@pass.test"])
        report = email.message_from_bytes(dsn["data"], policy=email.policy.default)
        self.assertEqual(report.get_param("report-type"), "delivery-status")
        self.assertIn("event=mx_next_address", gw.log())
        self.assertIn("skipped=127.0.0.2", gw.log())
        self.assertEqual(gw.metric('mxgate_dsn_total{result="queued"}'), 1)

    def test_a_sender_domain_with_a_null_mx_gets_no_report(self):
        gw = self.gateway(overrides={"mx": {"port": self.relay.port}})
        send(gw, "alice@nullmx.test", ["bob@example.test"], "null mx")
        self.assertTrue(wait_until(lambda: "event=mx_route_failed" in gw.log(), 30), gw.log()[-3000:])
        self.assertIn("domain=nullmx.test", gw.log())
        # The report itself fails for good and is dead-lettered; a report about a report is never sent.
        self.assertTrue(wait_until(lambda: gw.log().count("event=dead_lettered") == 2, 30), gw.log()[-3000:])
        self.assertIn('reply="550 5.1.10 nullmx.test accepts no mail (null MX, RFC 7505)"', gw.log())
        self.assertEqual(gw.log().count("event=dsn_queued"), 1)
        self.assertEqual(self.relay.count(), 0)

if __name__ == "__main__":
    unittest.main()
