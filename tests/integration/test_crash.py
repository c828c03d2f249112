"""T01 (reliability.md §8 A): kill -9 under load loses no acknowledged message.

mxgate relays a tenant's mail to a ledger SMTP sink that runs as its own OS process. Eight client
threads send messages with unique X-Test-Id headers; an id counts as acknowledged only when the
reply after the final dot is 250, and any other outcome (4xx, lost connection) retries the SAME
id later. A killer thread SIGKILLs mxgate every U(0.5 s, 3 s) and restarts it on the same spool.
After the last restart the sink must hold every acknowledged id (lost = acked - delivered = ∅),
intact (declared body length and SHA-256 match), and the queue must drain to 0. Duplicates and
phantoms (delivered, never acknowledged) are legal and reported.

Knobs (environment): MXGATE_T01_ACKED (default 2000), MXGATE_T01_KILLS (default 5), MXGATE_T01_SEED
(default random; printed so that a failing run can be repeated).

T05: kill -9 while deliveries are under way (the exchanger, an aiosmtpd sink, answers each DATA
after 2 s; up to 4 connections): after the restart every message is delivered, and the
duplicates (the exchanger took a message whose 250 mxgate never read) are at most the
deliveries under way at the kill. MXGATE_T05_MESSAGES (default 12) sizes it.
"""

import collections
import os
import random
import re
import threading
import time
import unittest

from harness import Gateway, RecordingSink, free_port, make_message, queue_id, smtp_tenant, wait_until
from support_durability import (LEDGER_RECIPIENT, LEDGER_SENDER, SinkProcess, driver_session, log_lines_with,
                                make_ledger_message, summarize_times)

TARGET_ACKED = int(os.environ.get("MXGATE_T01_ACKED", "2000"))
T05_MESSAGES = int(os.environ.get("MXGATE_T05_MESSAGES", "12"))
KILLS = int(os.environ.get("MXGATE_T01_KILLS", "5"))
CLIENTS = 8
SEND_CAP_SECONDS = 240.0
DRAIN_CAP_SECONDS = 120.0
MESSAGES_PER_CONNECTION = 100


class LedgerDriver:
    """Eight sender threads sharing one ledger of ids: acked (id -> queue id), and ids to retry."""

    def __init__(self, port, seed):
        self.port = port
        self.seed = seed
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.next_number = 0
        self.retry = collections.deque()
        self.messages = {}  # unacknowledged id -> message bytes (a retry resends the same bytes)
        self.acked = {}  # id -> queue id from the 250 reply
        self.ack_times = []
        self.outcomes = collections.Counter()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENTS)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def _take(self, rng):
        with self.lock:
            if self.retry:
                test_id = self.retry.popleft()
                return test_id, self.messages[test_id]
            self.next_number += 1
            test_id = f"t01-{self.seed}-{self.next_number:07d}"
        # 1 in 20 messages spans several 64 KiB spool chunks, the rest fit in one.
        length = rng.randint(70_000, 200_000) if rng.random() < 0.05 else rng.randint(300, 6000)
        message = make_ledger_message(test_id, length, rng)
        with self.lock:
            self.messages[test_id] = message
        return test_id, message

    def _settle(self, test_id, qid, outcome):
        with self.lock:
            self.outcomes[outcome] += 1
            if qid is not None:
                self.acked[test_id] = qid
                self.ack_times.append(time.monotonic())
                del self.messages[test_id]
            else:
                self.retry.append(test_id)

    def _run(self, number):
        rng = random.Random(f"{self.seed}-{number}")
        session = None
        while not self.stop.is_set():
            if session is None:
                try:
                    session = driver_session(self.port, timeout=30)
                except OSError:
                    with self.lock:
                        self.outcomes["connect_failed"] += 1
                    time.sleep(0.05)
                    continue
                sent = 0  # replies after the final dot on this session
            test_id, message = self._take(rng)
            try:
                stage, reply = session.transaction(LEDGER_SENDER, [LEDGER_RECIPIENT], message)
            except OSError:
                stage, reply = "socket", None
            code = reply.code if reply is not None else None
            if stage == "dot":
                sent += 1
            if stage == "dot" and code == 250:
                try:
                    qid = queue_id(reply)
                except AssertionError:  # still an acknowledgement; the id only finds log lines
                    qid = "?"
                self._settle(test_id, qid, "250")
            else:
                self._settle(test_id, None, f"{stage}:{code}")
            if code is None or code == 421 or stage != "dot" and code is not None and code >= 400:
                session.close()
                session = None
                if code is not None:
                    time.sleep(0.05)
            elif sent >= MESSAGES_PER_CONNECTION:
                session.close(quit_first=True)
                session = None
        if session is not None:
            session.close(quit_first=True)


class Killer(threading.Thread):
    """SIGKILLs the gateway every U(0.5 s, 3 s) and restarts it on the same directory."""

    def __init__(self, gateway, kills, seed):
        super().__init__(daemon=True)
        self.gateway = gateway
        self.kills = kills
        self.rng = random.Random(seed)
        self.done = 0
        self.restart_seconds = []
        self.error = None
        self.abort = threading.Event()

    def run(self):
        try:
            for _ in range(self.kills):
                if self.abort.wait(self.rng.uniform(0.5, 3.0)):
                    return
                self.gateway.stop(kill=True)
                started = time.monotonic()
                self.gateway.start(timeout=30)
                self.restart_seconds.append(time.monotonic() - started)
                self.done += 1
        except Exception as error:  # reported by the test
            self.error = error


class CrashReconciliationTest(unittest.TestCase):
    def test_kill9_under_load_loses_no_acknowledged_message(self):
        sink_port = free_port()
        gateway = Gateway(tenants={"example": {"domains": ["example.test"],
                                               "delivery": smtp_tenant(sink_port, max_connections=8)}})
        self.addCleanup(gateway.cleanup)
        sink = SinkProcess(sink_port, os.path.join(gateway.dir, "sink.ledger"))
        sink.start()
        self.addCleanup(sink.stop)
        gateway.start()

        seed = int(os.environ.get("MXGATE_T01_SEED", random.randrange(1 << 30)))
        print(f"\nT01 seed {seed}, target {TARGET_ACKED} acknowledged, {KILLS} kills")
        driver = LedgerDriver(gateway.smtp_port, seed)
        killer = Killer(gateway, KILLS, seed)
        began = time.monotonic()
        driver.start()
        killer.start()
        while time.monotonic() - began < SEND_CAP_SECONDS:
            if killer.error is not None or not killer.is_alive() and killer.done < KILLS:
                break
            if driver.acked_count() >= TARGET_ACKED and killer.done >= KILLS:
                break
            time.sleep(0.2)
        killer.abort.set()
        killer.join(60)
        driver.join()
        send_seconds = time.monotonic() - began
        self.assertIsNone(killer.error, f"restart failed: {killer.error}\n" + gateway.log()[-4000:])
        if gateway.process is None:
            gateway.start()

        acked = dict(driver.acked)
        self.assertGreaterEqual(killer.done, 3, "fewer than 3 kill -9 restarts happened")
        self.assertGreaterEqual(len(acked), TARGET_ACKED,
                                f"only {len(acked)} acknowledged in {send_seconds:.0f} s; outcomes {driver.outcomes}")

        def drained():
            delivered = {record["id"] for record in sink.records()}
            try:
                depth = gateway.metric("mxgate_queue_messages")
            except OSError:
                depth = None
            return set(acked) <= delivered and depth == 0

        drain_began = time.monotonic()
        wait_until(drained, DRAIN_CAP_SECONDS, 0.5)
        drain_seconds = time.monotonic() - drain_began

        records = sink.records()
        counts = collections.Counter(record["id"] for record in records)
        lost = sorted(set(acked) - set(counts))
        duplicates = sum(count - 1 for count in counts.values())
        phantoms = sorted(set(counts) - set(acked) - {None})
        untagged = counts.get(None, 0)
        damaged = [record for record in records
                   if record["length"] != record["declared_length"] or record["sha256"] != record["declared_sha256"]]
        log = gateway.log()
        recoveries = re.findall(r"recovery .*", log)
        corrupt = sum(int(n) for n in re.findall(r"recovery .*?corrupt=(\d+)", log))
        depth = gateway.metric("mxgate_queue_messages")
        rate = len(acked) / send_seconds if send_seconds > 0 else 0.0

        summary = (f"T01: {len(lost)} lost of {len(acked)} acknowledged across {killer.done} kill -9 restarts; "
                   f"{duplicates} duplicates ({100.0 * duplicates / max(len(acked), 1):.2f}%); {len(phantoms)} phantoms")
        print(summary)
        print(f"T01 details: send phase {send_seconds:.1f} s ({rate:.0f} acknowledged msg/s incl. downtime), "
              f"drain wait {drain_seconds:.1f} s, restart-to-accept {summarize_times(killer.restart_seconds)}, "
              f"client outcomes {dict(driver.outcomes)}, sink records {len(records)}, queue depth {depth}, "
              f"recovery lines {len(recoveries)}, corrupt records {corrupt}, damaged bodies {len(damaged)}")
        for line in recoveries:
            print("  " + line)

        if lost:
            details = []
            for test_id in lost[:20]:
                qid = acked[test_id]
                details.append(f"{test_id} queue id {qid}:")
                details.extend("    " + line for line in log_lines_with(log, [qid]))
            self.fail(f"{len(lost)} acknowledged message(s) lost: {lost[:50]}\n" + "\n".join(details))
        self.assertEqual(damaged, [], "the sink received truncated or altered bodies")
        self.assertEqual(untagged, 0, "the sink received messages without an X-Test-Id")
        self.assertEqual(depth, 0, "the queue did not drain after the last restart")
        self.assertEqual(corrupt, 0, "recovery found corrupt records after kill -9")


class CrashDuringDeliveryTest(unittest.TestCase):
    def test_kill9_during_delivery_bounds_duplicates(self):
        with RecordingSink(delay=2.0) as sink:
            gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}})
            self.addCleanup(gw.cleanup)
            gw.start()
            with gw.smtp() as client:
                for number in range(T05_MESSAGES):
                    client.sendmail("sender@remote.example", ["user@example.test"],
                                    make_message(subject=f"t05 {number}"))
            self.assertTrue(wait_until(lambda: len(sink.rcpts) - sink.count() >= 4, 20))
            in_flight = len(sink.rcpts) - sink.count()
            gw.stop(kill=True)
            gw.start()
            subjects = lambda: [re.search(rb"Subject: (t05 \d+)", m["data"]).group(1) for m in sink.messages]
            delivered = wait_until(lambda: len(set(subjects())) == T05_MESSAGES, 60)
            self.assertTrue(wait_until(lambda: gw.admin("/v1/queue")[1]["messages"] == [], 30))
            received = subjects()
            missing = {f"t05 {n}".encode() for n in range(T05_MESSAGES)} - set(received)
            self.assertTrue(delivered and not missing, f"lost after kill -9 during delivery: {sorted(missing)}")
            duplicates = len(received) - len(set(received))
            self.assertLessEqual(duplicates, in_flight)
            print(f"\nT05: {T05_MESSAGES} messages, {in_flight} deliveries under way at kill -9, 0 lost, "
                  f"{duplicates} duplicate(s)")


if __name__ == "__main__":
    unittest.main()
