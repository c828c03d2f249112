"""Per-tenant sending limits (issue 11, traffic shaping): [outbound] message_rate and daily_cap.
- A tenant at message_rate "3/m" sends three messages at once (SMTP submission and the send API
  share the allowance); the next MAIL gets 451 4.7.0 naming the limit and when to retry, and the
  API 429 rate_limited with Retry-After; what was admitted is delivered, nothing else.
- A tenant at daily_cap 2 is refused after two messages, naming daily_cap.
- Another tenant without limits is not affected, and a reload with unchanged limits keeps the
  count (the refused tenant stays refused), and so do a restart and a kill -9 (the count is
  kept in the spool).
"""
import time
import unittest

from harness import Gateway, RecordingSink, free_port, wait_port, wait_until
from test_api import api_key, message, post, tenants
from support_outbound import smtp_credential, submission_client

MX_HOST = "127.0.0.17"
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": MX_HOST}],
}


class TenantLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.mx = RecordingSink(host=MX_HOST, port=port).start()
        made = tenants()
        made["example"]["outbound"] = {"message_rate": "3/m"}
        made["beta"]["outbound"] = {"daily_cap": 2}
        made["free"] = {"domains": ["free.test"], "delivery": made["beta"]["delivery"]}
        cls.gw = Gateway(tenants=made, zone=ZONE, overrides={"mx": {"port": port, "address_families": "ipv4"}})
        cls.gw.start()
        assert wait_port(cls.gw.api_port)
        cls.keys = {tenant: api_key(cls.gw, "app", tenant=tenant)[0] for tenant in ("example", "beta", "free")}
        cls.login = smtp_credential(cls.gw, "example", "smtp")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.mx.stop()

    def smtp_mail(self, subject):
        """MAIL (and, when it is accepted, the rest of the transaction): the reply to MAIL."""
        client = submission_client(self, self.gw, self.login, "app.example.test")
        reply = client.mail("app@example.test")
        if reply[0] == 250:
            self.assertEqual(client.rcpt("user@far.test")[0], 250)
            code, text = client.data(f"From: app@example.test\r\nTo: user@far.test\r\nSubject: {subject}\r\n\r\nhi\r\n"
                                     .encode())
            self.assertEqual(code, 250, text)
        client.quit()
        return reply

    def api(self, tenant, subject):
        sender = {"example": "app@example.test", "beta": "app@beta.test", "free": "app@free.test"}[tenant]
        return post(self.gw.api_port, "/v1/messages", message(subject=subject, **{"from": sender}),
                    key=self.keys[tenant])

    def arrived(self, subject):
        return [m for m in self.mx.messages if f"Subject: {subject}\r\n".encode() in m["data"]]

    def test_message_rate_across_smtp_and_api(self):
        self.assertEqual(self.smtp_mail("rate 1")[0], 250)
        self.assertEqual(self.smtp_mail("rate 2")[0], 250)
        status, body, _ = self.api("example", "rate 3")
        self.assertEqual(status, 202, body)

        code, text = self.smtp_mail("rate 4")
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.7.0", text)
        self.assertIn(b"message_rate 3/m", text)
        self.assertRegex(text.decode(), r"try again in (1[0-9]|20) s")
        status, body, headers = self.api("example", "rate 5")
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertTrue(1 <= int(headers["Retry-After"]) <= 20, headers)
        self.assertRegex(self.gw.log(), r"event=mail_rejected .*reason=tenant_limit detail=\"message_rate 3/m\"")

        status, body, _ = self.api("free", "free 1")  # another tenant is not affected
        self.assertEqual(status, 202, body)
        for subject in ("rate 1", "rate 2", "rate 3", "free 1"):
            self.assertTrue(wait_until(lambda: self.arrived(subject), 30), self.gw.log()[-3000:])
        time.sleep(0.5)
        self.assertFalse(self.arrived("rate 4") or self.arrived("rate 5"))

    def test_daily_cap_and_reload(self):
        for n in (1, 2):
            status, body, _ = self.api("beta", f"cap {n}")
            self.assertEqual(status, 202, body)
        status, body, headers = self.api("beta", "cap 3")
        self.assertEqual(status, 429, body)
        self.assertIn("daily_cap 2", body["error"]["message"])
        self.assertGreater(int(headers["Retry-After"]), 3600)  # half a day after the first message
        self.gw.reload()
        self.assertTrue(wait_until(lambda: "event=reloaded" in self.gw.log(), 10), self.gw.log()[-3000:])
        status, body, _ = self.api("beta", "cap 4")
        self.assertEqual(status, 429, body)
        # The spool keeps what was counted: after a stop, and after a kill -9 once the state has
        # been written (every 250 ms), the cap is still spent.
        for kill in (False, True):
            time.sleep(0.6)
            self.gw.stop(kill=kill)
            self.gw.start()
            assert wait_port(self.gw.api_port)
            status, body, _ = self.api("beta", f"cap after {'kill' if kill else 'stop'}")
            self.assertEqual(status, 429, body)
            self.assertIn("daily_cap 2", body["error"]["message"])
        status, body, _ = self.api("free", "free after restarts")  # a tenant without limits is not
        self.assertEqual(status, 202, body)


if __name__ == "__main__":
    unittest.main()
