"""Recipient validation for relayed inbound mail (RFC 5321 §3.3, §6.1): a tenant's
delivery.recipients = "list" refuses unknown users at RCPT with 550 5.1.1 (addresses from
recipients_list and recipients_file, case-insensitive, "+detail" ignored; the file re-read on
SIGHUP), while the known recipients of the same transaction are accepted and relayed.
"""

import os
import unittest

from harness import Client, Gateway, RecordingSink, dot_stuff, make_message, smtp_tenant, wait_until

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


if __name__ == "__main__":
    unittest.main()
