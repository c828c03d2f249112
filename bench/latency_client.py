#!/usr/bin/python3
# SMTP latency probe for the relay benchmark (bench/relay_bench.py).
# Times end-of-DATA -> final reply (RFC 5321 section 4.1.1.4: the "<CRLF>.<CRLF>"
# terminator and the server's reply to it), one new connection per message, like
# smtp-source.  Two modes:
#   closed  one message after another on a single task, until --count messages or
#           SIGTERM (used next to the main load: "latency at full load");
#   open    message i starts at t0 + i/rate whatever the earlier ones are doing
#           (used alone: "latency at a steady rate").
# Runs a single asyncio event loop on the main thread.  Writes one JSON object to
# --out when it ends: counts, errors and every sample in milliseconds.

import argparse
import asyncio
import json
import math
import signal
import socket
import sys
import time

REPLY_TIMEOUT_S = 60.0


class SmtpError(Exception):
    pass


def build_body(size, seq, rcpt, sender):
    # RFC 5322 header block, then 78-byte text lines filling about `size` bytes of body.
    header = (
        f"From: <{sender}>\r\n"
        f"To: <{rcpt}>\r\n"
        f"Subject: latency probe {seq}\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
        f"Message-ID: <latency-{seq}-{time.monotonic_ns()}@bench.example>\r\n"
        "\r\n"
    )
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn\r\n"
    return header.encode() + line * max(1, size // len(line))


async def read_reply(reader):
    # A reply is one or more lines "ddd-text", the last one "ddd text" (RFC 5321 4.2.1).
    lines = []
    while True:
        raw = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT_S)
        if not raw:
            raise SmtpError("connection closed by server")
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(text)
        if len(text) < 4 or text[3] != "-":
            break
    code = lines[-1][:3]
    return code, " | ".join(lines)


async def expect(reader, prefix, what):
    code, text = await read_reply(reader)
    if not code.startswith(prefix):
        raise SmtpError(f"{what}: {text[:200]}")
    return text


async def send_one(args, seq):
    """Sends one message on a new connection; returns end-of-DATA latency in ms."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(args.host, args.port), REPLY_TIMEOUT_S
    )
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await expect(reader, "2", "greeting")
        writer.write(f"EHLO {args.helo}\r\n".encode())
        await expect(reader, "2", "EHLO")
        writer.write(f"MAIL FROM:<{args.sender}>\r\n".encode())
        await expect(reader, "2", "MAIL")
        writer.write(f"RCPT TO:<{args.rcpt}>\r\n".encode())
        await expect(reader, "2", "RCPT")
        writer.write(b"DATA\r\n")
        await expect(reader, "3", "DATA")
        writer.write(build_body(args.size, seq, args.rcpt, args.sender))
        await writer.drain()
        start = time.perf_counter()
        writer.write(b".\r\n")
        await writer.drain()
        code, text = await read_reply(reader)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        if not code.startswith("2"):
            raise SmtpError(f"end of DATA: {text[:200]}")
        writer.write(b"QUIT\r\n")
        await writer.drain()
        try:
            await asyncio.wait_for(read_reply(reader), 5.0)
        except (SmtpError, asyncio.TimeoutError, ConnectionError):
            pass
        return elapsed_ms
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class Result:
    def __init__(self, mode):
        self.mode = mode
        self.samples = []
        self.errors = 0
        self.first_error = None
        self.attempted = 0

    def record_error(self, exc):
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"


async def run_closed(args, stop, result):
    seq = 0
    while seq < args.count and not stop.is_set():
        seq += 1
        result.attempted += 1
        try:
            result.samples.append(await send_one(args, seq))
        except (SmtpError, OSError, asyncio.TimeoutError) as exc:
            result.record_error(exc)
            await asyncio.sleep(0.01)


async def run_open(args, stop, result):
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []

    async def one(seq):
        try:
            result.samples.append(await send_one(args, seq))
        except (SmtpError, OSError, asyncio.TimeoutError) as exc:
            result.record_error(exc)

    for i in range(args.count):
        if stop.is_set():
            break
        delay = start + i / args.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result.attempted += 1
        tasks.append(asyncio.create_task(one(i + 1)))
    if tasks:
        await asyncio.wait(tasks, timeout=REPLY_TIMEOUT_S * 2)


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list; None when it is empty."""
    if not sorted_values:
        return None
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


async def main_async(args):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    result = Result(args.mode)
    wall_start = time.monotonic()
    if args.mode == "closed":
        await run_closed(args, stop, result)
    else:
        await run_open(args, stop, result)
    samples = sorted(result.samples)
    out = {
        "mode": args.mode,
        "rate": args.rate if args.mode == "open" else None,
        "attempted": result.attempted,
        "ok": len(samples),
        "errors": result.errors,
        "first_error": result.first_error,
        "seconds": round(time.monotonic() - wall_start, 3),
        "p50_ms": percentile(samples, 0.50),
        "p99_ms": percentile(samples, 0.99),
        "max_ms": samples[-1] if samples else None,
        "samples_ms": [round(s, 4) for s in result.samples],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time SMTP end-of-DATA -> final reply.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["closed", "open"], default="closed")
    p.add_argument("--count", type=int, default=200, help="messages to send at most")
    p.add_argument("--rate", type=float, default=200.0, help="messages/s (open mode)")
    p.add_argument("--size", type=int, default=4096, help="body bytes")
    p.add_argument("--sender", default="latency@bench.example")
    p.add_argument("--rcpt", default="rcpt@bench.example")
    p.add_argument("--helo", default="latency.bench.example")
    p.add_argument("--out", required=True, help="JSON result file")
    args = p.parse_args(argv)
    if args.count < 1 or args.rate <= 0 or args.size < 0:
        p.error("--count must be >= 1, --rate > 0, --size >= 0")
    return args


def main(argv):
    asyncio.run(main_async(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
