"""Smoke tests with the classic tools: swaks over STARTTLS into the file target (our trace
header in the stored file, the queue empty afterwards, metrics counting), and Postfix's
smtp-source relaying through mxgate to smtp-sink."""

import glob
import os
import subprocess
import tempfile
import unittest

from harness import Gateway, free_port, smtp_tenant, wait_until


class SmokeTest(unittest.TestCase):
    def test_swaks_starttls_to_file_target(self):
        with Gateway() as gw:
            result = subprocess.run(
                ["swaks", "--server", f"127.0.0.1:{gw.smtp_port}", "--tls", "--to", "user@example.test",
                 "--from", "sender@remote.example", "--header", "Subject: smoke", "--body", "hello smoke"],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn("250 2.0.0 Ok: queued as ", result.stdout)
            self.assertTrue(wait_until(lambda: len(gw.inbox_files()) == 1, 20), gw.log())
            message = gw.inbox_messages()[0]
            self.assertTrue(message.startswith(b"Return-Path: <sender@remote.example>\r\nDelivered-To: user@example.test\r\n"
                                               b"Authentication-Results: mx.test.mxgate;\r\n\tspf=none "), message)
            self.assertIn(b"\r\nReceived: from ", message)
            self.assertIn(b"with ESMTPS (TLSv1.3 ", message)
            self.assertIn(b"hello smoke", message)
            self.assertNotIn(b"\n", message.replace(b"\r\n", b""))  # no bare LF anywhere
            self.assertTrue(wait_until(lambda: gw.metric("mxgate_queue_messages") == 0, 10))
            listing = gw.cli("queue", "ls")
            self.assertEqual(listing.returncode, 0, listing.stderr)
            self.assertIn("0 message(s)", listing.stdout)

    def test_smtp_source_through_mxgate_to_smtp_sink(self):
        messages = 1000
        sink_port = free_port()
        dumps = tempfile.mkdtemp(prefix="mxgate-sink-")
        os.chmod(dumps, 0o777)  # smtp-sink drops to "nobody" when started as root
        gw = Gateway(tenants={"relay": {"domains": ["relay.test"], "delivery": smtp_tenant(sink_port, max_connections=8)}})
        # -M exits on the N-th final dot before answering it; the generator's session count and
        # the sink's dump files are what the test reads.
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-d", os.path.join(dumps, "%H%M%S."), "-M", str(messages),
                                 f"127.0.0.1:{sink_port}", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with gw:
                source = subprocess.run(["smtp-source", "-s", "10", "-m", str(messages), "-l", "3000",
                                         "-f", "gen@remote.example", "-t", "rcpt@relay.test",
                                         f"127.0.0.1:{gw.smtp_port}"], capture_output=True, text=True, timeout=120)
                self.assertEqual(source.returncode, 0, source.stderr)
                self.assertEqual(source.stderr.strip(), "", "smtp-source saw an error reply")
                _, sink_errors = sink.communicate(timeout=120)
                self.assertEqual(sink.returncode, 0, sink_errors.decode())
                self.assertEqual(gw.metric('mxgate_messages_received_total{outcome="accepted"}'), messages)
            files = glob.glob(os.path.join(dumps, "*"))
            self.assertEqual(len(files), messages)
            for path in files:
                with open(path, "rb") as f:
                    dump = f.read()
                self.assertIn(b"Received: from ", dump)
                self.assertIn(b"by mx.test.mxgate (mxgate) with ", dump)
        finally:
            if sink.poll() is None:
                sink.kill()
                sink.communicate()
            subprocess.run(["rm", "-rf", dumps])


if __name__ == "__main__":
    unittest.main()
