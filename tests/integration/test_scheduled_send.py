"""Scheduled send through the HTTP send API (issue 11): send_at as Unix seconds or RFC 3339.
- A message is delivered no earlier than its send_at, by the receiver's own clock (an aiosmtpd
  exchanger on 127.0.0.16, found through the gateway's DNS server).
- A scheduled message is listed by `mxgate queue ls` (state sched, "send at"), survives a
  restart with its time, and DELETE /v1/messages/{id} cancels it: nothing is delivered, the
  removal is audited with the key's user, and a second DELETE, another tenant's key or an id
  that is not a message get 404.
- send_at past queue.send_at_horizon is 422; a time in the past sends now.
"""
import json
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import Gateway, RecordingSink, free_port, wait_port, wait_until
from test_api import api_key, message, post, tenants

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


if __name__ == "__main__":
    unittest.main()
