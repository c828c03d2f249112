"""Scheduled send (issue 11): the HTTP send API's send_at, and an SMTP submission's
X-Mxgate-Send-At field, as Unix seconds or RFC 3339.
- A message is delivered no earlier than its send_at, by the receiver's own clock (an aiosmtpd
  exchanger on 127.0.0.16, found through the gateway's DNS server).
- A scheduled message is listed by `mxgate queue ls` (state sched, "send at"), survives a
  restart with its time, and DELETE /v1/messages/{id} cancels it: nothing is delivered, the
  removal is audited with the key's user, and a second DELETE, another tenant's key or an id
  that is not a message get 404.
- send_at past queue.send_at_horizon is 422; a time in the past sends now.
- On SMTP submission X-Mxgate-Send-At delays delivery the same way and never reaches the
  receiver (nor does any other X-Mxgate-* field); one that is not a time, repeated, or beyond
  the horizon is refused with 550 5.6.0 at the end of DATA.
"""
import json
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import Gateway, RecordingSink, free_port, wait_port, wait_until
from test_api import api_key, message, post, tenants
from support_outbound import smtp_credential, submission_client

MX_HOST = "127.0.0.16"
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": MX_HOST}],
}


class ScheduledSendTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.mx = RecordingSink(host=MX_HOST, port=port).start()
        cls.gw = Gateway(tenants=tenants(), zone=ZONE,
                         overrides={"mx": {"port": port, "address_families": "ipv4"},
                                    "queue": {"send_at_horizon": "1h"}})
        cls.gw.start()
        assert wait_port(cls.gw.api_port)
        cls.key, cls.made = api_key(cls.gw, "app")
        cls.beta_key, _ = api_key(cls.gw, "app", tenant="beta")
        cls.login = smtp_credential(cls.gw, "example", "smtp")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.mx.stop()

    def send(self, subject, send_at, key=None):
        status, body, _ = post(self.gw.api_port, "/v1/messages", message(subject=subject, send_at=send_at),
                               key=key or self.key)
        self.assertEqual(status, 202, body)
        return body["id"]

    def cancel(self, queue_id, key=None):
        status, body, _ = post(self.gw.api_port, f"/v1/messages/{queue_id}", None, key=key or self.key,
                               method="DELETE")
        return status, body

    def submit(self, subject, *fields):
        """One message over STARTTLS + AUTH on the submission listener: the reply to DATA."""
        client = submission_client(self, self.gw, self.login, "app.example.test")
        self.assertEqual(client.mail("app@example.test")[0], 250)
        self.assertEqual(client.rcpt("user@far.test")[0], 250)
        headers = "".join(f"{field}\r\n" for field in fields)
        reply = client.data(f"From: app@example.test\r\nTo: user@far.test\r\nSubject: {subject}\r\n"
                            f"{headers}\r\nhello\r\n".encode())
        client.quit()
        return reply

    def arrived(self, subject):
        return [m for m in self.mx.messages if f"Subject: {subject}\r\n".encode() in m["data"]]

    def listing(self):
        return self.gw.cli("queue", "ls").stdout

    def test_delivered_no_earlier_than_asked(self):
        send_at = int(time.time()) + 4
        self.send("at four", send_at)
        self.assertTrue(wait_until(lambda: self.arrived("at four"), 30), self.gw.log()[-3000:])
        self.assertGreaterEqual(self.arrived("at four")[0]["at"], send_at)

    def test_a_time_in_the_past_sends_now(self):
        past = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.send("in the past", past)
        self.assertTrue(wait_until(lambda: self.arrived("in the past"), 30), self.gw.log()[-3000:])

    def test_beyond_the_horizon_is_refused(self):
        later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat(timespec="seconds")
        status, body, _ = post(self.gw.api_port, "/v1/messages", message(send_at=later), key=self.key)
        self.assertEqual(status, 422, body)
        self.assertEqual((body["error"]["code"], body["error"]["field"]), ("send_at_too_late", "send_at"))

    def test_listed_kept_across_a_restart_and_cancelled(self):
        send_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=30)
        queue_id = self.send("cancel me", send_at.isoformat())
        self.assertTrue(wait_until(lambda: queue_id in self.listing(), 10), self.gw.log()[-3000:])
        listed = self.listing()
        self.assertRegex(listed, queue_id + r" sched ")
        self.assertIn("send at " + send_at.strftime("%Y-%m-%dT%H:%M:%SZ"), listed)

        self.gw.stop()
        self.gw.start()
        self.assertTrue(wait_port(self.gw.api_port))
        shown = json.loads(self.gw.cli("queue", "show", queue_id, "--json").stdout)
        self.assertEqual(shown["send_at"], send_at.strftime("%Y-%m-%dT%H:%M:%SZ"), shown)
        self.assertEqual(shown["attempts"], 0, shown)

        self.assertEqual(self.cancel(queue_id, key=self.beta_key)[0], 404)  # not beta's message
        self.assertEqual(self.cancel("not-a-queue-id")[0], 404)
        status, body = self.cancel(queue_id)
        self.assertEqual((status, body), (200, {"id": queue_id, "status": "cancelled"}))
        self.assertEqual(self.cancel(queue_id)[0], 404)
        self.assertTrue(wait_until(lambda: queue_id not in self.listing(), 10), self.gw.log()[-3000:])
        self.assertRegex(self.gw.log(), queue_id + r": event=removed by=api:" + self.made["username"])
        self.assertFalse(self.arrived("cancel me"))

    def test_submission_header_delays_and_is_removed(self):
        send_at = int(time.time()) + 4
        code, text = self.submit("header at four", f"X-Mxgate-Send-At: {send_at}", "X-Mxgate-Tag: forged")
        self.assertEqual(code, 250, text)
        self.assertTrue(wait_until(lambda: self.arrived("header at four"), 30), self.gw.log()[-3000:])
        delivered = self.arrived("header at four")[0]
        self.assertGreaterEqual(delivered["at"], send_at)
        self.assertNotIn(b"x-mxgate-", delivered["data"].lower())

        rfc3339 = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        code, text = self.submit("header rfc3339", f"X-Mxgate-Send-At:  {rfc3339}")
        self.assertEqual(code, 250, text)
        queue_id = text.decode().rsplit(" ", 1)[-1]
        self.assertTrue(wait_until(lambda: queue_id in self.listing(), 10), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: self.arrived("header rfc3339"), 30), self.gw.log()[-3000:])
        self.assertGreaterEqual(self.arrived("header rfc3339")[0]["at"],
                                datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())

    def test_submission_header_that_cannot_be_kept_is_refused(self):
        later = int(time.time()) + 7200
        for fields, expected in (((f"X-Mxgate-Send-At: {later}",), "more than 3600 s ahead"),
                                 (("X-Mxgate-Send-At: tomorrow",), "neither Unix seconds"),
                                 (("X-Mxgate-Send-At: 1", "X-Mxgate-Send-At: 2"), "more than once")):
            code, text = self.submit("refused", *fields)
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.6.0", text)
            self.assertIn(expected.encode(), text)
        self.assertRegex(self.gw.log(), r"event=rejected .*reason=send_at")


if __name__ == "__main__":
    unittest.main()
