"""Drain and graceful stop (issue 12): SIGTERM, SIGINT and `mxgate drain` stop taking mail and
finish what is under way, with messages in every state.
- A session in DATA finishes its message after the SIGTERM: its 250 is real (the message is
  delivered after the restart), then it gets 421 and is closed; an idle session gets 421 at
  once; new connections are refused on the SMTP and send API ports; GET /v1/drain shows the
  drain and what it waits for.
- A delivery under way when SIGTERM arrives finishes (the exchanger, an aiosmtpd sink that
  answers the DATA after 3 s, records it once) and is recorded: after a restart it is not sent
  again; the node exits 0 as soon as it is done.
- A session that stalls in DATA is cut at node.shutdown_timeout: 421, nothing kept (no 250 was
  given), exit 0; a second SIGTERM stops at once.
- `mxgate drain --until-empty` delivers the whole queue first, deferred messages included, then
  the node exits and the CLI says so.
"""
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from harness import MXGATE, Client, Gateway, RecordingSink, free_port, make_message, smtp_tenant, wait_until


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def wait_exit(gateway, timeout):
    """The exit status of mxgate once it has stopped by itself; None if it is still running."""
    try:
        code = gateway.process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
    gateway.stop()
    return code


def start_data(client, subject):
    """A transaction up to the middle of its content."""
    client.ehlo()
    assert client.command("MAIL FROM:<sender@remote.example>\r\n").short().startswith("250")
    assert client.command("RCPT TO:<user@example.test>\r\n").short().startswith("250")
    assert client.command("DATA\r\n").short().startswith("354")
    client.send(make_message(subject=subject)[:40])


class DrainTest(unittest.TestCase):
    def gateway(self, timeout="20s", tenants=None, queue=None):
        overrides = {"node": {"shutdown_timeout": timeout}}
        if queue:
            overrides["queue"] = queue
        gateway = Gateway(tenants=tenants, overrides=overrides)
        self.addCleanup(gateway.cleanup)
        return gateway.start()

    def test_session_in_data_gets_a_real_250_then_421(self):
        gw = self.gateway()
        with Client(gw.smtp_port) as sending, Client(gw.smtp_port) as idle:
            idle.ehlo()
            start_data(sending, "finished during the drain")
            gw.process.send_signal(signal.SIGTERM)
            self.assertEqual(idle.reply(timeout=5).short(), "421 4.3.2")
            self.assertTrue(idle.closed())
            self.assertTrue(wait_until(lambda: refused(gw.smtp_port) and refused(gw.api_port), 5))
            status, body = gw.admin("/v1/drain")
            self.assertEqual(status, 200)
            self.assertTrue(body["draining"], body)
            self.assertFalse(body["until_empty"], body)
            self.assertEqual(body["sessions"], 1, body)
            self.assertGreater(body["remaining_ms"], 10000, body)

            rest = make_message(subject="finished during the drain")[40:]
            accepted = sending.command(rest + b"\r\n.\r\n")
            self.assertEqual(accepted.short(), "250 2.0.0", accepted)
            self.assertEqual(sending.reply(timeout=5).short(), "421 4.3.2")
            self.assertTrue(sending.closed())
        self.assertEqual(wait_exit(gw, 10), 0, gw.log()[-3000:])
        log = gw.log()
        self.assertIn("event=draining mode=finish actor=signal:TERM", log)
        self.assertRegex(log, r"event=drained ms=\d+ queued=1")

        gw.start()
        self.assertTrue(wait_until(lambda: len(gw.inbox_files()) == 1, 20), gw.log()[-3000:])
        self.assertIn(b"Subject: finished during the drain", gw.inbox_messages()[0])

    def test_delivery_under_way_finishes_and_is_not_repeated(self):
        with RecordingSink(delay=3.0) as sink:
            gw = self.gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}})
            with gw.smtp() as client:
                client.sendmail("sender@remote.example", ["user@example.test"], make_message(subject="in flight"))
            self.assertTrue(wait_until(lambda: len(sink.rcpts) == 1, 20))
            began = time.monotonic()
            gw.process.send_signal(signal.SIGTERM)
            self.assertEqual(wait_exit(gw, 15), 0, gw.log()[-3000:])
            elapsed = time.monotonic() - began
            self.assertEqual(sink.count(), 1)
            self.assertGreater(elapsed, 1.0, "mxgate did not wait for the delivery under way")
            self.assertRegex(gw.log(), r"event=delivered ")

            gw.start()
            time.sleep(3)
            self.assertEqual(sink.count(), 1, "the delivery finished during the drain was repeated")
            status, body = gw.admin("/v1/queue")
            self.assertEqual((status, body["messages"]), (200, []), body)

    def test_stalled_session_is_cut_at_the_timeout(self):
        gw = self.gateway(timeout="2s")
        with Client(gw.smtp_port) as stalled:
            start_data(stalled, "never finished")
            began = time.monotonic()
            gw.process.send_signal(signal.SIGTERM)
            self.assertEqual(wait_exit(gw, 10), 0, gw.log()[-3000:])
            elapsed = time.monotonic() - began
            self.assertEqual(stalled.reply(timeout=5).short(), "421 4.3.2")
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6)
        self.assertRegex(gw.log(), r"event=drain_timeout sessions=1 active=0 queued=0")
        gw.start()
        status, body = gw.admin("/v1/queue")
        self.assertEqual((status, body["messages"]), (200, []), body)
        self.assertEqual(gw.inbox_files(), [])

    def test_second_sigterm_stops_at_once(self):
        gw = self.gateway(timeout="60s")
        with Client(gw.smtp_port) as stalled:
            start_data(stalled, "never finished")
            gw.process.send_signal(signal.SIGTERM)
            self.assertTrue(wait_until(lambda: "event=draining" in gw.log(), 5))
            began = time.monotonic()
            gw.process.send_signal(signal.SIGINT)
            self.assertEqual(wait_exit(gw, 10), 0, gw.log()[-3000:])
            self.assertLess(time.monotonic() - began, 5)
            self.assertEqual(stalled.reply(timeout=5).short(), "421 4.3.2")
        self.assertIn("event=drain_cut_short signal=INT", gw.log())

    def test_drain_until_empty_delivers_the_queue_first(self):
        sink_port = free_port()
        gw = self.gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink_port)}},
                          queue={"retry_initial": "10m", "retry_max": "1h"})
        with gw.smtp() as client:
            for number in range(3):
                client.sendmail("sender@remote.example", ["user@example.test"], make_message(subject=f"queued {number}"))
        # Every message tried once and deferred for 10 minutes: the exchanger is not there yet.
        self.assertTrue(wait_until(lambda: len(re.findall(r"event=deferred ", gw.log())) >= 3, 20), gw.log()[-3000:])
        with RecordingSink(port=sink_port) as sink:
            drain = subprocess.run([MXGATE, "drain", "--until-empty", "--config", gw.config_path], cwd=gw.dir,
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(drain.returncode, 0, drain.stdout + drain.stderr)
            self.assertIn("draining until empty", drain.stdout)
            self.assertTrue(drain.stdout.rstrip().endswith("mxgate has stopped"), drain.stdout)
            self.assertEqual(wait_exit(gw, 10), 0, gw.log()[-3000:])
            self.assertEqual(sorted(re.search(rb"Subject: (queued \d)", m["data"]).group(1) for m in sink.messages),
                             [b"queued 0", b"queued 1", b"queued 2"])
        log = gw.log()
        self.assertRegex(log, r"event=draining mode=until_empty actor=cli:\S+")
        self.assertRegex(log, r"event=drained ms=\d+ queued=0")


if __name__ == "__main__":
    unittest.main()
