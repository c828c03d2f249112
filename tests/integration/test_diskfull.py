"""T04 (reliability.md §8 A): a full disk never yields a false 250, and mxgate heals by itself.

The spool lives on its own 48 MiB tmpfs (mounted here; the test is skipped where mounting is not
allowed) and the tenant's next hop is down, so every accepted message stays queued there. A
filler file from /dev/urandom takes most of the space.

- min_free_bytes = 8 MiB: 256 KiB messages are accepted until MAIL gets 452 4.3.1 — the
  free-space gate closes before the disk is full.
- min_free_bytes = 0: the only protection left is the write error itself; the message during
  which the disk fills must get 451 4.3.0 or 452 4.3.1 at the final dot, never 250.
In both: once refused, nothing gets 250 while the filler is there; deleting the filler reopens
acceptance within 30 s with the same mxgate process (no restart); then the sink comes up and
every acknowledged message must arrive intact, and nothing that was refused may arrive.
"""

import os
import subprocess
import tempfile
import time
import unittest

from harness import Gateway, free_port, smtp_tenant, wait_until
from support_durability import (ClientSession, SinkProcess, free_bytes, log_lines_with, make_ledger_message, mib,
                                queue_id_of, seeded_rng)

TMPFS_SIZE = "48m"
MESSAGE_BODY = 256 * 1024
RECOVER_CAP_SECONDS = 30.0


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.mount = tempfile.mkdtemp(prefix="mxgate-t04-")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", self.mount],
                                capture_output=True, text=True)
        if result.returncode != 0:
            os.rmdir(self.mount)
            self.skipTest(f"cannot mount a tmpfs: {result.stderr.strip() or result.returncode}")
        self.addCleanup(self.unmount)
        self.filler = os.path.join(self.mount, "filler")

    def unmount(self):
        if subprocess.run(["umount", self.mount], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", self.mount], capture_output=True)
        os.rmdir(self.mount)

    def fill_leaving(self, leave_bytes):
        """Writes a /dev/urandom filler so that about leave_bytes stay free; returns its size."""
        blocks = max(0, (free_bytes(self.mount) - leave_bytes) // 65536)
        subprocess.run(["dd", "if=/dev/urandom", f"of={self.filler}", "bs=64K", f"count={blocks}", "status=none"],
                       check=True)
        return os.path.getsize(self.filler)

    def start_gateway(self, min_free):
        self.sink_port = free_port()
        gateway = Gateway(
            tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(self.sink_port)}},
            overrides={"spool": {"path": os.path.join(self.mount, "queue"), "min_free_bytes": min_free,
                                 "resume_percent": 90}})
        self.addCleanup(gateway.cleanup)  # runs before unmount (cleanups are last in, first out)
        gateway.start()
        self.sink = SinkProcess(self.sink_port, os.path.join(gateway.dir, "sink.ledger"))
        self.addCleanup(self.sink.stop)
        return gateway

    def run_episode(self, gateway, label, leave_bytes, expect_refusal_at):
        """Fills the disk, sends until refused, checks the refusal holds, frees the space, waits for
        acceptance, then delivers. Returns the figures."""
        pid = gateway.process.pid
        rng = seeded_rng(label)
        filler_size = self.fill_leaving(leave_bytes)
        free_at_start = free_bytes(self.mount)
        acked = {}
        refused = []  # (test id or None, stage, code, text)
        session = ClientSession(gateway.smtp_port)
        number = 0

        def attempt():
            nonlocal session, number
            number += 1
            test_id = f"{label}-{number:04d}"
            try:
                stage, code, text = session.transaction(make_ledger_message(test_id, MESSAGE_BODY, rng))
            except OSError as error:
                stage, code, text = "socket", None, str(error).encode()
            if stage == "dot" and code == 250:
                acked[test_id] = queue_id_of(text)
            else:
                refused.append((test_id, stage, code, text))
                if code is None or code == 421:
                    session.close(quit_first=False)
                    session = ClientSession(gateway.smtp_port)
            return stage, code, text

        for _ in range(400):
            stage, code, text = attempt()
            if not (stage == "dot" and code == 250):
                break
        self.assertTrue(refused, f"{len(acked)} messages of 256 KiB accepted on a 48 MiB tmpfs")
        first = refused[0]
        free_at_refusal = free_bytes(self.mount)
        self.assertIn(first[1], expect_refusal_at, f"first refusal {first}")
        self.assertIn(first[2], (451, 452), f"first refusal {first}")
        self.assertTrue(first[3].startswith((b"451 4.3.0 ", b"452 4.3.1 ")), first)

        # While the filler is there nothing more is accepted.
        for _ in range(5):
            stage, code, text = attempt()
            self.assertNotEqual((stage, code), ("dot", 250), "a 250 while the disk was full")
            self.assertIn(code, (451, 452), (stage, code, text))
            time.sleep(0.2)
        writable = gateway.metric("mxgate_spool_writable")
        pressure = gateway.metric("mxgate_backpressure")

        os.unlink(self.filler)
        freed = time.monotonic()
        recovered_after = None
        polls = 0
        while time.monotonic() - freed < RECOVER_CAP_SECONDS:
            polls += 1
            try:
                code, text = session.mail()
            except OSError:
                session = ClientSession(gateway.smtp_port)
                continue
            if code == 250:
                recovered_after = time.monotonic() - freed
                session.raw.command("RSET\r\n")
                break
            self.assertIn(code, (451, 452), text)
            time.sleep(0.2)
        log = gateway.log()
        self.assertIsNotNone(
            recovered_after, f"{label}: MAIL still refused {RECOVER_CAP_SECONDS:.0f} s after the filler was deleted; "
            f"log:\n" + "\n".join(log_lines_with(log, ["spool_", "backpressure", "commit_failed", "chunk_write"], 40)))
        stage, code, text = attempt()
        self.assertEqual((stage, code), ("dot", 250), f"a full message after recovery: {text!r}")
        session.close()
        self.assertEqual(gateway.process.pid, pid, "mxgate restarted")

        self.sink.start()
        delivered = lambda: {record["id"] for record in self.sink.records()}
        wait_until(lambda: set(acked) <= delivered() and gateway.metric("mxgate_queue_messages") == 0, 60, 0.2)
        records = self.sink.records()
        lost = sorted(set(acked) - {record["id"] for record in records})
        refused_ids = {entry[0] for entry in refused}
        phantoms = sorted({record["id"] for record in records} & refused_ids)
        damaged = [record["id"] for record in records
                   if record["length"] != record["declared_length"] or record["sha256"] != record["declared_sha256"]]
        codes = sorted({f"{entry[1]}:{entry[2]}" for entry in refused})
        figures = {
            "acked": len(acked), "refusals_4xx": len(refused) + polls - 1, "refusal_codes": codes,
            "first_refusal": first[3].decode(errors="replace").strip(), "recover_seconds": recovered_after,
            "filler_mib": mib(filler_size), "free_at_start_mib": mib(free_at_start),
            "free_at_refusal_mib": mib(free_at_refusal), "spool_writable_while_full": writable,
            "backpressure_while_full": pressure, "lost": len(lost), "phantoms": len(phantoms),
            "damaged": len(damaged), "duplicates": len(records) - len({record["id"] for record in records}),
        }
        print(f"\nT04 {label}: {figures}")
        for line in log_lines_with(log, ["spool_write_failed", "spool_resumed", "backpressure_o", "commit_failed",
                                         "chunk_write_failed"], 12):
            print("  " + line)
        self.assertEqual(lost, [], f"acknowledged messages lost: {lost}")
        self.assertEqual(phantoms, [], f"refused messages were delivered: {phantoms}")
        self.assertEqual(damaged, [], "delivered bodies differ from what was sent")
        self.assertEqual(gateway.metric("mxgate_queue_messages"), 0)
        self.assertLessEqual(recovered_after, RECOVER_CAP_SECONDS)
        return figures

    def test_free_space_gate_refuses_mail_with_452_and_reopens(self):
        gateway = self.start_gateway("8MiB")
        figures = self.run_episode(gateway, "gate", 20 << 20, ("mail",))
        self.assertTrue(figures["first_refusal"].startswith("452 4.3.1 "))
        self.assertGreater(figures["acked"], 0)

    def test_write_error_mid_data_is_never_acknowledged(self):
        gateway = self.start_gateway("0")
        self.run_episode(gateway, "enospc", 6 << 20, ("dot", "mail"))


if __name__ == "__main__":
    unittest.main()
