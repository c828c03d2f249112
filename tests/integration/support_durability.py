"""Shared helpers of the durability tests (test_crash, test_diskfull, test_backpressure).

- A ledger SMTP sink that runs as its own OS process (so it outlives mxgate's kill -9): run this
  file as `support_durability.py sink --port P --ledger FILE`. For every message it appends one
  JSON line (X-Test-Id, the declared and the received body length and SHA-256, mxgate's queue id
  from our Received: header) to FILE and flushes it before it answers 250.
- Ledger messages: unique X-Test-Id, X-Body-Length and X-Body-Sha256 headers, so the sink can
  prove that nothing arrived truncated or altered.
- Driver sessions: driver_session() opens a harness.Client past the greeting and EHLO, or
  raises ConnectionError so that a driver can retry; ledger messages go from LEDGER_SENDER to
  LEDGER_RECIPIENT through Client.transaction, whose "dot" stage is the reply after the final dot.
- RssSampler, which samples harness.rss_bytes on a thread, and a few small helpers.
Run with Debian's /usr/bin/python3 (aiosmtpd lives there).
"""

import argparse
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

from harness import Client, rss_bytes, wait_port

PYTHON = "/usr/bin/python3"
LEDGER_SENDER = "driver@remote.example"
LEDGER_RECIPIENT = "user@example.test"
LEDGER_MAIL = f"MAIL FROM:<{LEDGER_SENDER}>\r\n"
_RECEIVED_ID = re.compile(rb"\(mxgate\) with [A-Z0-9]+(?: \([^)]*\))? id ([A-Za-z0-9]+)")
_LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TO_LETTERS = bytes(_LETTERS[i % len(_LETTERS)] for i in range(256))


# ---- ledger messages -----------------------------------------------------------------------

def make_body(length, rng):
    """length (>= 128) bytes of CRLF-terminated text lines of random letters; the second line
    starts with a dot so every hop's dot-stuffing is exercised."""
    prefix = b"first line\r\n.dot-stuffed line\r\n"
    full, rest = divmod(length - len(prefix), 80)
    text = rng.randbytes(length).translate(_TO_LETTERS)
    lines = [prefix]
    position = 0
    for index in range(full):
        width = 78 + (rest if index == full - 1 and rest in (1, 2) else 0)
        lines.append(text[position:position + width] + b"\r\n")
        position += width
    if rest >= 3:
        lines.append(text[position:position + rest - 2] + b"\r\n")
    body = b"".join(lines)
    assert len(body) == length, (len(body), length)
    return body


def make_ledger_message(test_id, body_length, rng):
    body = make_body(body_length, rng)
    head = (f"From: {LEDGER_SENDER}\r\nTo: {LEDGER_RECIPIENT}\r\nSubject: ledger {test_id}\r\n"
            f"Message-ID: <{test_id}@remote.example>\r\nX-Test-Id: {test_id}\r\n"
            f"X-Body-Length: {len(body)}\r\nX-Body-Sha256: {hashlib.sha256(body).hexdigest()}\r\n\r\n").encode()
    return head + body


def header_value(message, name):
    """The first value of header `name` in the header section of `message` (bytes), or None."""
    head = message.split(b"\r\n\r\n", 1)[0]
    prefix = name.lower().encode() + b":"
    for line in head.split(b"\r\n"):
        if line.lower().startswith(prefix):
            return line[len(prefix):].strip().decode(errors="replace")
    return None


# ---- driver sessions -----------------------------------------------------------------------

def driver_session(port, timeout=30.0):
    """A Client past a 220 greeting and a 250 EHLO, for ledger drivers. Raises ConnectionError
    (an OSError, as are socket errors) when either is missing, the socket closed."""
    client = Client(port, timeout)
    try:
        if client.greeting is None or client.greeting.code != 220:
            raise ConnectionError(f"greeting {client.greeting!r}")
        reply = client.command("EHLO driver.remote.example\r\n")
        if reply is None or reply.code != 250:
            raise ConnectionError(f"EHLO {reply!r}")
    except OSError:
        client.close()
        raise
    return client


# ---- the sink process ----------------------------------------------------------------------

class SinkProcess:
    """The ledger sink as a separate OS process on 127.0.0.1:port (port chosen by the caller so a
    gateway can be configured before the sink runs)."""

    def __init__(self, port, ledger_path):
        self.port = port
        self.ledger_path = ledger_path
        self.process = None

    def start(self, timeout=15.0):
        with open(self.ledger_path + ".stderr", "ab") as stderr:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                [PYTHON, os.path.abspath(__file__), "sink", "--port", str(self.port), "--ledger", self.ledger_path],
                cwd=os.path.dirname(os.path.abspath(__file__)), stdout=subprocess.DEVNULL, stderr=stderr)
        if not wait_port(self.port, timeout):
            self.stop()
            raise RuntimeError("ledger sink did not start")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def records(self):
        """Every complete ledger line written so far, as dicts."""
        records = []
        try:
            with open(self.ledger_path, "rb") as f:
                for line in f:
                    if line.endswith(b"\n"):
                        records.append(json.loads(line))
        except FileNotFoundError:
            pass
        return records


def _sink_record(content):
    head, sep, body = content.partition(b"\r\n\r\n")
    match = _RECEIVED_ID.search(head)
    declared_length = header_value(content, "X-Body-Length")
    return {
        "id": header_value(content, "X-Test-Id"),
        "queue_id": match.group(1).decode() if match else None,
        "declared_length": int(declared_length) if declared_length and declared_length.isdigit() else None,
        "declared_sha256": header_value(content, "X-Body-Sha256"),
        "length": len(body) if sep else None,
        "sha256": hashlib.sha256(body).hexdigest() if sep else None,
        "size": len(content),
        "t": time.time(),
    }


def _run_sink(port, ledger_path):
    from aiosmtpd.controller import Controller

    ledger = open(ledger_path, "a", buffering=1)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            line = json.dumps(_sink_record(envelope.original_content)) + "\n"
            with lock:
                ledger.write(line)
                ledger.flush()
            return "250 2.0.0 OK recorded"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            server_kwargs={"decode_data": False, "data_size_limit": 0})
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    controller.stop()
    ledger.close()
    return 0


# ---- measurements --------------------------------------------------------------------------

class RssSampler:
    """Samples a process's VmRSS every `interval` seconds on a thread; peak() over a window."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.samples = []  # (monotonic time, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            value = rss_bytes(self.pid)
            if value is not None:
                self.samples.append((time.monotonic(), value))
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def peak(self, since=None, until=None):
        """Highest sample taken in [since, until], counting the first sample after until too (a
        window shorter than the interval still gets one)."""
        samples = list(self.samples)
        values = [v for t, v in samples if (since is None or t >= since) and (until is None or t <= until)]
        later = [v for t, v in samples if until is not None and t > until]
        if later:
            values.append(later[0])
        return max(values) if values else None


def free_bytes(path):
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def mib(value):
    return value / (1 << 20)


def log_lines_with(log_text, needles, limit=20):
    """Lines of log_text containing any of needles (at most limit)."""
    found = [line for line in log_text.splitlines() if any(needle in line for needle in needles)]
    return found[:limit]


def summarize_times(values):
    if not values:
        return "n/a"
    return (f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
            f"(n={len(values)})")


def seeded_rng(seed):
    return random.Random(seed)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ledger SMTP sink for the durability tests")
    parser.add_argument("mode", choices=["sink"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ledger", required=True)
    arguments = parser.parse_args()
    sys.exit(_run_sink(arguments.port, arguments.ledger))
