"""Traffic shaping of MX delivery per destination site (issue 11; mx.shaping_file, conf/shaping.toml),
observed at the receivers from their own timestamps:
- 20 messages sent at once to a domain whose site allows 2 connections at once, 3 new connections
  a second, 3 messages per connection and 5 messages a second all arrive, none failed and each
  in one attempt (a hold is not an attempt): the receiver never sees more than 2 connections,
  more than 3 messages on one, connections opened faster than the GCRA allows, or messages
  faster than 5/s after the burst of 5. The log says "throttled" and /metrics counts it.
- A receiver answering "451 4.7.0 rate limited" once triggers a back-off rule that suspends its
  site for 4 s: nothing reaches it in that time, neither the deferred message nor a new one, and
  both arrive afterwards; a domain on another site is not held up meanwhile. `mxgate shaping ls`
  shows the suspension with its rule; `shaping resume` of a site without one says so.
- The shipped conf/shaping.toml passes `mxgate check`; a broken shaping file fails it naming
  the file, line and key.
"""
import os
import shutil
import tempfile
import threading
import time
import unittest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from harness import Gateway, free_port, wait_port, wait_until
from test_api import api_key, message, post, tenants

SITE_HOST = "127.0.0.40"      # mx.far.test: the limits of [default]
BACKOFF_HOST = "127.0.0.41"   # mx.slow.test: answers with a throttling reply once
OTHER_HOST = "127.0.0.42"     # mx.other.test: another site
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": SITE_HOST}],
    "slow.test": [{"type": "MX", "value": [10, "mx.slow.test"]}],
    "mx.slow.test": [{"type": "A", "value": BACKOFF_HOST}],
    "other.test": [{"type": "MX", "value": [10, "mx.other.test"]}],
    "mx.other.test": [{"type": "A", "value": OTHER_HOST}],
}
SHAPING = """
[default]
connection_limit = 2
max_connection_rate = "3/s"
max_deliveries_per_connection = 3
max_message_rate = "5/s"

[[backoff]]
match = 'rate limited'
suspend = true
duration = "4s"
"""
SUSPENSION = 4.0
# Messages reach the receiver a little after mxgate admits them, and not all equally late.
SLACK = 0.3


class TimedReceiver:
    """An aiosmtpd receiver that records when each connection opens and closes and when each
    message arrives on which connection. throttle_replies: how many DATA commands get
    "451 4.7.0 rate limited" before messages are accepted."""

    def __init__(self, host, port, throttle_replies=0):
        self.lock = threading.Lock()
        self.connections = {}  # id -> [opened, closed or None]
        self.messages = []     # (arrived, connection id, subject)
        self.refusals = []     # times of the throttling replies
        self.throttle_replies = throttle_replies
        receiver = self

        class Session(SMTP):
            def connection_made(self, transport):
                super().connection_made(transport)
                with receiver.lock:
                    self.connection_id = len(receiver.connections)
                    receiver.connections[self.connection_id] = [time.time(), None]

            def connection_lost(self, error):
                super().connection_lost(error)
                with receiver.lock:
                    receiver.connections[self.connection_id][1] = time.time()

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with receiver.lock:
                    if receiver.throttle_replies > 0:
                        receiver.throttle_replies -= 1
                        receiver.refusals.append(time.time())
                        return "451 4.7.0 rate limited, slow down"
                    subject = next((line[9:] for line in envelope.original_content.decode().split("\r\n")
                                    if line.startswith("Subject: ")), "")
                    receiver.messages.append((time.time(), server.connection_id, subject))
                return "250 2.0.0 OK"

        class TimedController(Controller):
            def factory(self):
                return Session(self.handler, **self.SMTP_kwargs)

        self.controller = TimedController(Handler(), hostname=host, port=port,
                                          server_kwargs={"decode_data": False})

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def subjects(self):
        with self.lock:
            return [subject for _, _, subject in self.messages]

    def most_at_once(self):
        """The most connections that were open at the same time."""
        with self.lock:
            edges = []
            for opened, closed in self.connections.values():
                edges.append((opened, 1))
                edges.append((closed if closed is not None else float("inf"), -1))
        most = current = 0
        for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
            current += step
            most = max(most, current)
        return most


def assert_gcra(test, times, count, period, what):
    """No more than `count` at once and then one per period/count: any n consecutive events span
    at least (n - count) intervals (less the slack of delivery)."""
    times = sorted(times)
    interval = period / count
    for first in range(len(times)):
        for last in range(first + count, len(times)):
            span = times[last] - times[first]
            floor = (last - first + 1 - count) * interval - SLACK
            test.assertGreaterEqual(span, floor, f"{what}: events {first}..{last} within {span:.3f} s")


class OutboundShapingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.site = TimedReceiver(SITE_HOST, port).start()
        cls.backoff = TimedReceiver(BACKOFF_HOST, port, throttle_replies=1).start()
        cls.other = TimedReceiver(OTHER_HOST, port).start()
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-shaping-")
        cls.shaping_file = os.path.join(cls.tmp, "shaping.toml")
        with open(cls.shaping_file, "w") as f:
            f.write(SHAPING)
        cls.gw = Gateway(tenants=tenants(), zone=ZONE,
                         overrides={"mx": {"port": port, "address_families": "ipv4",
                                           "shaping_file": cls.shaping_file}})
        cls.gw.start()
        assert wait_port(cls.gw.api_port)
        cls.key = api_key(cls.gw, "app")[0]

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        for receiver in (cls.site, cls.backoff, cls.other):
            receiver.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def send(self, recipient, subject):
        status, body, _ = post(self.gw.api_port, "/v1/messages", message(to=[recipient], subject=subject),
                               key=self.key)
        self.assertEqual(status, 202, body)

    def test_limits_of_a_site_hold_for_connections_and_messages(self):
        subjects = [f"site {n}" for n in range(20)]
        for subject in subjects:
            self.send("user@far.test", subject)
        self.assertTrue(wait_until(lambda: len(self.site.subjects()) >= 20, 60), self.gw.log()[-3000:])
        time.sleep(0.5)
        self.assertEqual(sorted(self.site.subjects()), sorted(subjects))  # each once, none lost

        self.assertLessEqual(self.site.most_at_once(), 2)
        per_connection = {}
        for _, connection, _ in self.site.messages:
            per_connection[connection] = per_connection.get(connection, 0) + 1
        self.assertLessEqual(max(per_connection.values()), 3, per_connection)
        self.assertGreaterEqual(len(self.site.connections), 7)  # 20 messages, 3 per connection
        assert_gcra(self, [opened for opened, _ in self.site.connections.values()], 3, 1.0, "connections")
        arrivals = [arrived for arrived, _, _ in self.site.messages]
        assert_gcra(self, arrivals, 5, 1.0, "messages")
        self.assertGreaterEqual(max(arrivals) - min(arrivals), (20 - 5) / 5 - SLACK)

        log = self.gw.log()
        self.assertRegex(log, r"event=throttled .*reason=\"4\.4\.5 held back by traffic shaping: max_message_rate 5/s "
                              r"for site mx\.far\.test\"")
        delivered = [line for line in log.splitlines() if "event=delivered" in line and "user@far.test" in line]
        self.assertEqual(len(delivered), 20)
        self.assertTrue(all("attempt=1 " in line for line in delivered), delivered)  # a hold is no attempt
        self.assertNotRegex(log, r"event=(deferred|failed|expired) .*user@far\.test")
        self.assertGreater(self.gw.metric('mxgate_mx_throttled_total{limit="max_message_rate"}'), 0)

    def test_a_throttling_reply_suspends_the_site(self):
        self.send("user@slow.test", "slow 1")
        self.assertTrue(wait_until(lambda: self.backoff.refusals, 30), self.gw.log()[-3000:])
        refused_at = self.backoff.refusals[0]
        self.assertTrue(wait_until(lambda: "event=shaping_backoff" in self.gw.log(), 10), self.gw.log()[-3000:])
        listed = self.gw.cli("shaping", "ls")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"mx\.slow\.test +\d connection\(s\)  suspend until \S+ \(.*shaping\.toml:8\)")
        unknown = self.gw.cli("shaping", "resume", "mx.unknown.test")
        self.assertEqual(unknown.returncode, 1)
        self.assertIn('site "mx.unknown.test" has no back-off in force', unknown.stdout)
        self.send("user@slow.test", "slow 2")
        self.send("user@other.test", "other 1")  # another site is not held up
        self.assertTrue(wait_until(lambda: self.other.subjects() == ["other 1"], 10), self.gw.log()[-3000:])
        self.assertLess(self.other.messages[0][0] - refused_at, SUSPENSION)
        self.assertTrue(wait_until(lambda: len(self.backoff.subjects()) == 2, 30), self.gw.log()[-3000:])
        self.assertEqual(sorted(self.backoff.subjects()), ["slow 1", "slow 2"])
        first = min(arrived for arrived, _, _ in self.backoff.messages)
        self.assertGreaterEqual(first - refused_at, SUSPENSION - SLACK)
        log = self.gw.log()
        self.assertRegex(log, r"event=shaping_backoff .*site=mx\.slow\.test rule_line=8 action=suspend duration_s=4")
        self.assertRegex(log, r"event=throttled .*to=user@slow\.test reason=\"4\.4\.5 held back by traffic shaping: "
                              r"suspended by the back-off rule on line 8 of ")
        self.assertGreaterEqual(self.gw.metric("mxgate_mx_backoffs_total"), 1)

    def test_check_reads_the_shipped_file_and_names_mistakes(self):
        shipped = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "shaping.toml")
        checked = Gateway(tenants=tenants(), overrides={"mx": {"shaping_file": os.path.abspath(shipped)}})
        try:
            result = checked.cli("check")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            broken = os.path.join(checked.dir, "broken.toml")
            with open(broken, "w") as f:
                f.write('[default]\nmax_message_rate = "fast"\n')
            checked.overrides["mx"]["shaping_file"] = broken
            checked.write_config()
            result = checked.cli("check")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(f"{broken}:2: default.max_message_rate:", result.stdout + result.stderr)
        finally:
            checked.cleanup()


if __name__ == "__main__":
    unittest.main()
