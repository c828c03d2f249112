"""One tenant never stalls another (DESIGN.md house habit 10; issue 9, item 9): tenant A's
webhook endpoint accepts connections and never answers (a raw socket server) while 3,000 of
A's messages are due; tenant B's messages arriving afterwards are delivered to B's real
receiver (webhook_receiver.py) within seconds, and A holds no more deliveries than its own
budget (delivery.max_connections)."""

import subprocess
import time
import unittest

from harness import Client, Gateway, SilentServer, free_port, queue_id, wait_until
from webhook_receiver import Receiver, whsec

KEY = bytes(range(40, 72))
A_MESSAGES = 3000
B_MESSAGES = 5
A_CONNECTIONS = 10  # tenant A's delivery.max_connections: its budget of deliveries under way


def webhook(url, **extra):
    spec = {"target": "webhook", "url": url, "secrets": [whsec(KEY)], "allow_private": True,
            "retry_initial": "1s", "retry_max": "2s", "max_age": "1h"}
    spec.update(extra)
    return spec


class HungTenantTest(unittest.TestCase):
    def test_a_hung_webhook_with_3000_due_messages_does_not_delay_another_tenant(self):
        began = time.monotonic()
        hung = SilentServer()
        self.addCleanup(hung.stop)
        receiver = Receiver([KEY]).start()
        self.addCleanup(receiver.stop)
        smtp_port = free_port()
        gw = Gateway(
            tenants={
                # A request to A waits its whole timeout: far longer than this test.
                "a": {"domains": ["a.test"], "delivery": webhook(f"http://127.0.0.1:{hung.port}/hook", timeout="10m",
                                                                 max_connections=A_CONNECTIONS)},
                "b": {"domains": ["b.test"], "delivery": webhook(receiver.url)},
            },
            listeners=[{"name": "inbound", "role": "inbound", "address": "127.0.0.1", "port": smtp_port,
                        "tls": "none", "auth_checks": False}],
            overrides={"smtp": {"max_connections_per_ip": 100}})
        self.addCleanup(gw.cleanup)
        gw.start()

        result = subprocess.run(["smtp-source", "-s", "20", "-m", str(A_MESSAGES), "-l", "1024", "-f",
                                 "sender@remote.test", "-t", "user@a.test", f"127.0.0.1:{smtp_port}"],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue(wait_until(lambda: gw.metric("mxgate_queue_messages") == A_MESSAGES, 30),
                        f"queued: {gw.metric('mxgate_queue_messages')}\n{gw.log()[-2000:]}")
        self.assertTrue(wait_until(lambda: len(hung.connections) > 0, 30), "A's endpoint was never tried")

        sent_at = time.monotonic()
        ids = []
        with Client(smtp_port, timeout=30) as client:
            client.ehlo()
            for i in range(B_MESSAGES):
                stage, reply = client.transaction("sender@remote.test", ["user@b.test"],
                                                  f"Subject: b{i}\r\n\r\nfor tenant b\r\n".encode())
                self.assertEqual((stage, reply.code), ("dot", 250), reply)
                ids.append(f"msg_{queue_id(reply)}_b")
        delivered = wait_until(lambda: all(i in receiver.delivered() for i in ids), timeout=20)
        waited = time.monotonic() - sent_at
        self.assertTrue(delivered, f"tenant b got {len(receiver.delivered())} of {B_MESSAGES} in {waited:.1f} s "
                                   f"while tenant a's endpoint hangs; active="
                                   f"{gw.metric('mxgate_queue_active')}\n{gw.log()[-2000:]}")

        # A holds its own budget and no more; the rest of its mail waits in the scheduler.
        self.assertTrue(wait_until(lambda: gw.metric('mxgate_recipient_deliveries_total{outcome="delivered"}') ==
                                   B_MESSAGES, 10))
        self.assertEqual(gw.metric("mxgate_queue_active"), A_CONNECTIONS)
        self.assertLessEqual(len(hung.connections), A_CONNECTIONS)
        self.assertGreaterEqual(gw.metric("mxgate_queue_ready"), A_MESSAGES - A_CONNECTIONS)
        print(f"\n{A_MESSAGES} messages of tenant a injected and due, its endpoint hung; tenant b's "
              f"{B_MESSAGES} messages delivered in {waited:.1f} s; whole test {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    unittest.main()
