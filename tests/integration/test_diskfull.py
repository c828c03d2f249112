"""T04 (reliability.md §8 A): a full disk never yields a false 250, and mxgate heals by itself.

The spool lives on its own 48 MiB tmpfs (mounted here; the test is skipped where mounting is not
allowed) and the tenant's next hop is down, so every accepted message stays queued there. A
filler file from /dev/urandom takes most of the space.

- min_free_bytes = 8 MiB: 256 KiB messages are accepted until MAIL gets 452 4.3.1 — the
  free-space gate closes before the disk is full.
- min_free_bytes = 0: the only protection left is the write error itself; the message during
  which the disk fills must get 451 4.3.0 or 452 4.3.1 at the final dot, never 250 — once with
  a 1 MiB memtable (a flush fails first) and once with a 64 MiB one (the WAL append fails
  first).
In both: once refused, nothing gets 250 while the filler is there and free space is below the
gate's resume level (min_free_bytes / resume_percent: the gate closes on a pessimistic estimate of
free space, so with room really left it may rightly reopen); deleting the filler reopens
acceptance within 30 s with the same mxgate process (no restart); then the sink comes up and
every acknowledged message must arrive intact, and nothing that was refused may arrive.

A transaction that spans a write error — its first body chunks written (unsynced) before another
session's write fails, its final dot after the spool recovered — gets 451 4.3.0, never 250: the
recovery may have dropped those chunks (the spool's epoch, queue/README.md).
"""

import os
import subprocess
import tempfile
import time
import unittest

from harness import Gateway, free_port, queue_id, smtp_tenant, wait_until
from support_durability import (LEDGER_MAIL, LEDGER_RECIPIENT, LEDGER_SENDER, SinkProcess, driver_session, free_bytes,
                                log_lines_with, make_ledger_message, mib, seeded_rng)

TMPFS_SIZE = "48m"
MESSAGE_BODY = 256 * 1024
RECOVER_CAP_SECONDS = 30.0
# A memtable flush needs free space for its blob/SST files while the WAL still holds the same
# data, so the free-space gate only works when min_free_bytes exceeds the memtable size; the
# smallest memtable keeps that transient need far below the 8 MiB gate on a 48 MiB disk.
WRITE_BUFFER = "1MiB"
RESUME_PERCENT = 90


def mib_bytes(size):
    """min_free_bytes as the tests write it (0 or "<n>MiB") in bytes."""
    return int(size[:-3]) << 20 if isinstance(size, str) else size


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

    def start_gateway(self, min_free, write_buffer=WRITE_BUFFER):
        self.sink_port = free_port()
        self.resume_free = mib_bytes(min_free) * 100 // RESUME_PERCENT
        gateway = Gateway(
            tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(self.sink_port)}},
            overrides={"spool": {"path": os.path.join(self.mount, "queue"), "min_free_bytes": min_free,
                                 "resume_percent": RESUME_PERCENT, "write_buffer_size": write_buffer}})
        self.addCleanup(gateway.cleanup)  # runs before unmount (cleanups are last in, first out)
        gateway.start()
        self.sink = SinkProcess(self.sink_port, os.path.join(gateway.dir, "sink.ledger"))
        self.addCleanup(self.sink.stop)
        return gateway

    def run_episode(self, gateway, label, leave_bytes, expect_refusal_at):
        """Fills the disk, sends 256 KiB messages until refused, checks that the refusal holds,
        frees the space, waits for acceptance, then delivers and reconciles. mxgate misbehaviour
        (a crash, no recovery without restart) is collected and failed at the end, after the
        acknowledged messages were checked. Returns the figures."""
        pid = gateway.process.pid
        rng = seeded_rng(label)
        filler_size = self.fill_leaving(leave_bytes)
        free_at_start = free_bytes(self.mount)
        problems = []
        acked = {}
        refused = []  # (test id, stage, code, reply text)
        state = {"session": driver_session(gateway.smtp_port), "number": 0}

        def alive():
            return gateway.process is not None and gateway.process.poll() is None

        def reconnect():
            """A new session, or None when mxgate is gone (a dying process may still reset one)."""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.2)
                if not alive():
                    return None
                try:
                    return driver_session(gateway.smtp_port)
                except OSError:
                    continue
            return None

        def attempt():
            state["number"] += 1
            test_id = f"{label}-{state['number']:04d}"
            try:
                stage, reply = state["session"].transaction(LEDGER_SENDER, [LEDGER_RECIPIENT],
                                                            make_ledger_message(test_id, MESSAGE_BODY, rng))
                code, text = (reply.code, reply.raw) if reply is not None else (None, b"")
            except OSError as error:
                stage, code, text = "socket", None, str(error).encode()
            if stage == "dot" and code == 250:
                acked[test_id] = queue_id(reply)
            else:
                refused.append((test_id, stage, code, text))
                if code is None or code == 421:
                    state["session"].close()
                    state["session"] = reconnect()
            return stage, code, text

        for _ in range(400):
            stage, code, text = attempt()
            if not (stage == "dot" and code == 250) or state["session"] is None:
                break
        free_at_refusal = free_bytes(self.mount)
        self.assertTrue(refused, f"{len(acked)} messages of 256 KiB accepted on a {TMPFS_SIZE} tmpfs")
        first = refused[0]
        writable = pressure = write_failures = None
        crashed = not alive()
        if crashed:
            with open(gateway.log_path + ".stderr", errors="replace") as f:
                stderr = f.read()[-1500:]
            problems.append(f"mxgate died (exit status {gateway.process.returncode}) when the spool's file system "
                            f"filled ({mib(free_at_refusal):.2f} MiB free); its stderr:\n{stderr}")
        else:
            if first[1] not in expect_refusal_at or first[2] not in (451, 452) or \
                    not first[3].startswith((b"451 4.3.0 ", b"452 4.3.1 ")):
                problems.append(f"first refusal {first[:3]!r} after {len(acked)} acknowledged messages, expected "
                                f"451 4.3.0 / 452 4.3.1 at {expect_refusal_at}; free space went from "
                                f"{mib(free_at_start):.2f} MiB to {mib(free_at_refusal):.2f} MiB")
            # While the filler is there nothing more is accepted, unless a free-space gate is set
            # and the free space really is above its resume level.
            for _ in range(5):
                stage, code, text = attempt()
                accepted = (stage, code) == ("dot", 250)
                gate_reopened = self.resume_free > 0 and free_bytes(self.mount) >= self.resume_free
                if (accepted and not gate_reopened) or (not accepted and code not in (451, 452)):
                    problems.append(f"while the disk was full: {stage} got {text!r}")
                if state["session"] is None:
                    break
                time.sleep(0.2)
            writable = gateway.metric("mxgate_spool_writable")
            pressure = gateway.metric("mxgate_backpressure")
            write_failures = gateway.metric("mxgate_spool_write_failures_total")

        os.unlink(self.filler)
        freed = time.monotonic()
        recovered_after = None
        polls = 0
        while alive() and time.monotonic() - freed < RECOVER_CAP_SECONDS:
            polls += 1
            try:
                if state["session"] is None:
                    state["session"] = driver_session(gateway.smtp_port)
                reply = state["session"].command(LEDGER_MAIL)
            except OSError:
                state["session"] = None
                time.sleep(0.2)
                continue
            if reply is not None and reply.code == 250:
                recovered_after = time.monotonic() - freed
                state["session"].command("RSET\r\n")
                break
            if reply is None or reply.code not in (451, 452):
                problems.append(f"MAIL while recovering got {reply!r}")
            time.sleep(0.2)
        log = gateway.log()
        restarted = False
        if recovered_after is None:
            if alive():
                problems.append(f"MAIL still refused {RECOVER_CAP_SECONDS:.0f} s after the filler was deleted (no "
                                f"recovery without a restart); log:\n" +
                                "\n".join(log_lines_with(log, ["spool_", "backpressure", "commit_failed", "chunk_write"],
                                                          40)))
                gateway.stop()
            if state["session"] is not None:
                state["session"].close()
            gateway.start()  # to check, at least, that the acknowledged messages survived
            restarted = True
            state["session"] = driver_session(gateway.smtp_port)
        stage, code, text = attempt()
        if (stage, code) != ("dot", 250):
            problems.append(f"a message after recovery got {stage} {text!r}")
        state["session"].close(quit_first=True)
        if not restarted and gateway.process.pid != pid:
            problems.append("mxgate restarted")

        self.sink.start()
        delivered = lambda: {record["id"] for record in self.sink.records()}
        wait_until(lambda: set(acked) <= delivered() and gateway.metric("mxgate_queue_messages") == 0, 60, 0.2)
        records = self.sink.records()
        lost = sorted(set(acked) - {record["id"] for record in records})
        refused_ids = {entry[0] for entry in refused}
        phantoms = sorted({record["id"] for record in records} & refused_ids)
        damaged = [record["id"] for record in records
                   if record["length"] != record["declared_length"] or record["sha256"] != record["declared_sha256"]]
        figures = {
            "acked": len(acked), "refusals_4xx": sum(1 for entry in refused if entry[2] in (451, 452)) + max(polls - 1, 0),
            "refusal_codes": sorted({f"{entry[1]}:{entry[2]}" for entry in refused}),
            "first_refusal": first[3].decode(errors="replace").strip()[:80], "crashed": crashed,
            "recover_seconds": None if recovered_after is None else round(recovered_after, 2),
            "restarted_to_recover": restarted, "filler_mib": round(mib(filler_size), 1),
            "free_at_start_mib": round(mib(free_at_start), 2), "free_at_refusal_mib": round(mib(free_at_refusal), 2),
            "spool_writable_while_full": writable, "backpressure_while_full": pressure,
            "spool_write_failures": write_failures, "lost": len(lost), "phantoms": len(phantoms),
            "damaged": len(damaged), "duplicates": len(records) - len({record["id"] for record in records}),
        }
        print(f"\nT04 {label}: {figures}")
        for line in log_lines_with(gateway.log(), ["spool_write_failed", "spool_resumed", "backpressure_o",
                                                   "commit_failed", "chunk_write_failed", "recovery"], 12):
            print("  " + line)
        self.assertEqual(lost, [], f"acknowledged messages lost: {lost}")
        self.assertEqual(phantoms, [], f"refused messages were delivered: {phantoms}")
        self.assertEqual(damaged, [], "delivered bodies differ from what was sent")
        self.assertEqual(gateway.metric("mxgate_queue_messages"), 0)
        if problems:
            self.fail("\n".join(problems))
        return figures

    def test_transaction_spanning_a_write_error_is_refused(self):
        gateway = self.start_gateway(0, write_buffer="64MiB")
        rng = seeded_rng("epoch")
        message = make_ledger_message("epoch-0001", 1 << 20, rng).replace(b"\r\n.", b"\r\n..")
        spanning = gateway.client()
        spanning.ehlo()
        for command in (f"MAIL FROM:<{LEDGER_SENDER}>\r\n", f"RCPT TO:<{LEDGER_RECIPIENT}>\r\n"):
            self.assertEqual(spanning.command(command).code, 250)
        self.assertEqual(spanning.command("DATA\r\n").code, 354)
        half = len(message) // 2
        spanning.send(message[:half])  # eight 64 KiB chunks go to the spool unsynced
        wait_until(lambda: (gateway.metric("mxgate_spool_writes_total") or 0) >= 8, 10)

        self.fill_leaving(256 << 10)
        other = driver_session(gateway.smtp_port)
        stage, reply = other.transaction(LEDGER_SENDER, [LEDGER_RECIPIENT],
                                         make_ledger_message("epoch-0002", 1 << 20, rng))
        self.assertNotEqual((stage, reply.code if reply else None), ("dot", 250), "accepted on a full disk")
        self.assertTrue(wait_until(lambda: gateway.metric("mxgate_spool_writable") == 0, 10))
        other.close()
        os.unlink(self.filler)
        self.assertTrue(wait_until(lambda: gateway.metric("mxgate_spool_writable") == 1, RECOVER_CAP_SECONDS),
                        "the spool did not recover after the filler was deleted")

        spanning.send(message[half:] + b".\r\n")
        reply = spanning.reply(timeout=30)
        self.assertEqual(reply.short(), "451 4.3.0", f"got {reply!r}")
        spanning.close(quit_first=True)

        def greeted():
            try:
                return driver_session(gateway.smtp_port)
            except OSError:
                return None
        after = wait_until(greeted, RECOVER_CAP_SECONDS, 0.2)
        self.assertIsNotNone(after, "no 220 greeting after the recovery")
        stage, reply = after.transaction(LEDGER_SENDER, [LEDGER_RECIPIENT], make_ledger_message("epoch-0003", 1 << 20, rng))
        self.assertEqual((stage, reply.code), ("dot", 250), "a transaction begun after the recovery is accepted")
        after.close(quit_first=True)

    def test_free_space_gate_refuses_mail_with_452_and_reopens(self):
        gateway = self.start_gateway("8MiB")
        figures = self.run_episode(gateway, "gate", 20 << 20, ("mail",))
        self.assertTrue(figures["first_refusal"].startswith("452 4.3.1 "))
        self.assertGreater(figures["acked"], 0)
        self.assertEqual(figures["spool_write_failures"], 0, "the disk filled up behind the free-space gate")

    def test_write_error_mid_data_is_never_acknowledged(self):
        # With a 1 MiB memtable the first failure is usually a memtable flush (a background error
        # that makes the spool read-only), seen by the sessions as failed chunk writes.
        gateway = self.start_gateway(0)
        self.run_episode(gateway, "enospc", 6 << 20, ("dot", "mail"))

    def test_wal_write_error_is_never_acknowledged(self):
        # With a memtable larger than the free space nothing is flushed before the disk is full:
        # the WAL append itself hits ENOSPC (and RocksDB's info LOG in the same directory fails
        # right after it).
        gateway = self.start_gateway(0, write_buffer="64MiB")
        self.run_episode(gateway, "walfull", 6 << 20, ("dot", "mail"))


if __name__ == "__main__":
    unittest.main()
