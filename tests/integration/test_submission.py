"""SMTP AUTH on submission listeners (RFC 4954) through the real binary: swaks with AUTH PLAIN
and LOGIN over STARTTLS (port 587 style) and implicit TLS (465 style); AUTH not offered before
TLS and refused there with 538 5.7.11; MAIL without AUTH 530 5.7.0; a wrong secret, an unknown
user and a revoked credential all 535 5.7.8 (nothing tells them apart), each failure logged
without the secret; the failure limiter's growing delay and its lock (454 4.7.0) per user name;
AUTH in plaintext only on a loopback listener that says so; config errors for auth_plaintext
elsewhere. Submitted mail is the tenant's outbound mail: it goes to the recipient domain's mail
exchanger (an aiosmtpd receiver found through the gateway's DNS server), not to the tenant's
inbound delivery target.
"""

import base64
import json
import subprocess
import time
import unittest

from harness import Gateway, RecordingSink, free_port, wait_until


def b64(text):
    return base64.b64encode(text.encode()).decode()


def cmd(client, line):
    """Sends one command line; returns the reply's code and its text lines (without the code)."""
    reply = client.command(line + "\r\n")
    if reply is None:
        raise AssertionError(f"connection closed after {line!r}")
    return reply.code, [raw[4:].decode() for raw in reply.lines]


def swaks(port, *args, timeout=30):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--to", "user@example.test",
                           "--from", "app@example.test", "--quit-after", "MAIL", *args],
                          capture_output=True, text=True, timeout=timeout)


class SubmissionAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.implicit_port = free_port()
        cls.plain_port = free_port()
        cls.exchanger = RecordingSink().start()  # example.test's mail exchanger
        zone = {"example.test": [{"type": "MX", "value": [10, "mx.example.test"]}],
                "mx.example.test": [{"type": "A", "value": "127.0.0.1"}]}
        # Failures come from addresses presented with XCLIENT, so no test locks out 127.0.0.1.
        cls.gw = Gateway(overrides={"submission": {"auth_max_failures": 3, "auth_failure_delay": "1s",
                                                   "auth_max_delay": "2s", "auth_lockout": "1m"},
                                    "smtp": {"xclient_networks": ["127.0.0.1/32"]},
                                    "mx": {"port": cls.exchanger.port, "address_families": "ipv4"}},
                         zone=zone)
        cls.gw.listeners.append({"name": "implicit", "role": "submission", "address": "127.0.0.1",
                                 "port": cls.implicit_port, "tls": "implicit"})
        cls.gw.listeners.append({"name": "local", "role": "submission", "address": "127.0.0.1",
                                 "port": cls.plain_port, "tls": "none", "auth_plaintext": True})
        cls.gw.write_config()
        cls.gw.start()
        cls.user, cls.secret = cls.credential("app")

    @classmethod
    def credential(cls, name):
        """A new smtp credential of tenant example: (user name, secret)."""
        created = cls.gw.cli("credentials", "add", "--tenant", "example", "--name", name, "--json")
        assert created.returncode == 0, created.stderr
        return json.loads(created.stdout)["username"], json.loads(created.stdout)["secret"]

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.exchanger.stop()

    def client_from(self, address):
        """A client on the plaintext-AUTH listener that the gateway sees as coming from address."""
        client = self.gw.client(port=self.plain_port, timeout=20)
        code, lines = cmd(client, "EHLO proxy.example")
        self.assertEqual(code, 250, lines)
        code, lines = cmd(client, f"XCLIENT ADDR={address}")
        self.assertEqual(code, 220, lines)
        code, lines = cmd(client, "EHLO app.example")
        self.assertEqual(code, 250, lines)
        return client

    def test_auth_plain_and_login_over_starttls_and_implicit_tls(self):
        for port, tls in ((self.gw.submission_port, "--tls"), (self.implicit_port, "--tls-on-connect")):
            for mechanism in ("PLAIN", "LOGIN"):
                with self.subTest(port=port, mechanism=mechanism):
                    result = swaks(port, tls, "--auth", mechanism, "--auth-user", self.user,
                                   "--auth-password", self.secret)
                    self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                    self.assertIn("235 2.7.0", result.stdout)
                    self.assertRegex(result.stdout, r"<~  250 2\.1\.0")
        self.assertIn(f"event=auth_ok client=127.0.0.1 username={self.user} tenant=example", self.gw.log())
        self.assertNotIn(self.secret, self.gw.log())

    def test_no_auth_before_tls_and_no_mail_without_auth(self):
        with self.gw.client(port=self.gw.submission_port) as client:
            code, lines = cmd(client, "EHLO app.example")
            self.assertEqual(code, 250)
            self.assertFalse(any(line.startswith("AUTH") for line in lines), lines)
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{self.user}\0{self.secret}"))
            self.assertEqual(code, 538, lines)
            self.assertIn("5.7.11", lines[0])
            code, lines = cmd(client, "MAIL FROM:<app@example.test>")
            self.assertEqual(code, 530, lines)
            self.assertIn("5.7.0", lines[0])
            code, lines = cmd(client, "STARTTLS")
            self.assertEqual(code, 220, lines)
            client.starttls()
            code, lines = cmd(client, "EHLO app.example")
            self.assertIn("AUTH PLAIN LOGIN", lines)
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{self.user}\0{self.secret}"))
            self.assertEqual(code, 235, lines)
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{self.user}\0{self.secret}"))
            self.assertEqual(code, 503, lines)  # already authenticated
            code, lines = cmd(client, "MAIL FROM:<app@example.test>")
            self.assertEqual(code, 250, lines)
            code, lines = cmd(client, "RCPT TO:<user@example.test>")
            self.assertEqual(code, 250, lines)
            code, lines = cmd(client, "DATA")
            self.assertEqual(code, 354, lines)
            code, lines = cmd(client, "From: app@example.test\r\nSubject: submitted\r\n\r\nhello\r\n.")
            self.assertEqual(code, 250, lines)
        self.assertTrue(wait_until(lambda: self.exchanger.count() >= 1, 30), self.gw.log()[-3000:])
        self.assertIn(b"(mxgate) with ESMTPSA", self.exchanger.messages[-1]["data"])  # RFC 3848: TLS and AUTH
        self.assertEqual(self.gw.inbox_files(), [])  # not the tenant's inbound target
        self.assertRegex(self.gw.log(), rf"event=accepted .* listener=submission user={self.user}")

    def test_inbound_listeners_do_not_offer_auth(self):
        with self.gw.client() as client:
            code, lines = cmd(client, "EHLO app.example")
            self.assertFalse(any(line.startswith("AUTH") for line in lines), lines)
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{self.user}\0{self.secret}"))
            self.assertEqual(code, 503, lines)

    def test_plaintext_auth_only_where_the_loopback_listener_says_so(self):
        with self.gw.client(port=self.plain_port) as client:
            code, lines = cmd(client, "EHLO app.example")
            self.assertIn("AUTH PLAIN LOGIN", lines)
            code, lines = cmd(client, "AUTH LOGIN")
            self.assertEqual((code, lines[0]), (334, "VXNlcm5hbWU6"))
            code, lines = cmd(client, b64(self.user))
            self.assertEqual((code, lines[0]), (334, "UGFzc3dvcmQ6"))
            code, lines = cmd(client, b64(self.secret))
            self.assertEqual(code, 235, lines)

    def test_cancel_and_malformed_responses(self):
        with self.gw.client(port=self.plain_port) as client:
            cmd(client, "EHLO app.example")
            code, lines = cmd(client, "AUTH PLAIN")
            self.assertEqual(code, 334)
            code, lines = cmd(client, "*")
            self.assertEqual(code, 501, lines)
            code, lines = cmd(client, "AUTH PLAIN not-base64!")
            self.assertEqual(code, 501, lines)
            code, lines = cmd(client, "AUTH CRAM-MD5")
            self.assertEqual(code, 504, lines)
            code, lines = cmd(client, "NOOP")
            self.assertEqual(code, 250, lines)

    def test_failures_are_the_same_delayed_then_locked_per_user(self):
        user, secret = self.credential("locked")
        replies = []
        with self.client_from("192.0.2.10") as client:
            for attempt in ("wrong-secret", "still-wrong"):
                began = time.monotonic()
                code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{user}\0{attempt}"))
                replies.append((code, lines[0], time.monotonic() - began))
        with self.client_from("192.0.2.11") as client:
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0nosuch.user\0{secret}"))
            unknown = (code, lines[0])
        for code, text, elapsed in replies:
            self.assertEqual(code, 535, text)
            self.assertIn("5.7.8", text)
            self.assertGreaterEqual(elapsed, 0.5)  # the limiter's delay (checked each second)
        self.assertEqual(unknown[0], 535)
        self.assertEqual(unknown[1], replies[0][1])  # nothing tells an unknown user apart
        with self.client_from("192.0.2.12") as client:
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{user}\0wrong-again"))
            self.assertEqual(code, 535, lines)
            # The third failure locked the user name, from any address: the right secret waits too.
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{user}\0{secret}"))
            self.assertEqual(code, 454, lines)
            self.assertIn("4.7.0", lines[0])
        self.assertNotIn("wrong-secret", self.gw.log())
        self.assertNotIn(secret, self.gw.log())
        self.assertIn(f"event=auth_locked client=192.0.2.12 username={user} by=username", self.gw.log())
        self.assertGreaterEqual(self.gw.metric('mxgate_auth_total{result="failed"}'), 4)
        self.assertGreaterEqual(self.gw.metric('mxgate_auth_total{result="locked"}'), 1)

    def test_revoked_credentials_fail(self):
        user, secret = self.credential("gone")
        self.assertEqual(self.gw.cli("credentials", "revoke", user).returncode, 0)
        with self.client_from("192.0.2.20") as client:
            code, lines = cmd(client, "AUTH PLAIN " + b64(f"\0{user}\0{secret}"))
            self.assertEqual(code, 535, lines)


class PlaintextAuthConfigTest(unittest.TestCase):
    def test_auth_plaintext_needs_a_loopback_submission_listener(self):
        for listener, message in (
                ({"name": "open", "role": "submission", "address": "0.0.0.0", "port": 0, "tls": "none",
                  "auth_plaintext": True}, 'AUTH without TLS is allowed only on a loopback address, not "0.0.0.0"'),
                ({"name": "mx", "role": "inbound", "address": "127.0.0.1", "port": 0, "auth_plaintext": True},
                 "only a submission listener offers AUTH")):
            with self.subTest(listener=listener["name"]):
                gw = Gateway(listeners=[listener])
                self.addCleanup(gw.cleanup)
                result = gw.cli("check")
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertIn("listener.auth_plaintext: " + message, result.stderr)


if __name__ == "__main__":
    unittest.main()
