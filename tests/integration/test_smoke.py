"""Smoke test: the shipped defaults' shape end to end — swaks over STARTTLS into the file
target, our trace header in the stored file, the queue empty afterwards, metrics counting."""

import subprocess
import unittest

from harness import Gateway, wait_until


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
                                               b"Received: from "))
            self.assertIn(b"with ESMTPS (TLSv1.3 ", message)
            self.assertIn(b"hello smoke", message)
            self.assertNotIn(b"\n", message.replace(b"\r\n", b""))  # no bare LF anywhere
            self.assertTrue(wait_until(lambda: gw.metric("mxgate_queue_messages") == 0, 10))
            listing = gw.cli("queue", "ls")
            self.assertEqual(listing.returncode, 0, listing.stderr)
            self.assertIn("0 message(s)", listing.stdout)


if __name__ == "__main__":
    unittest.main()
