#!/usr/bin/python3
# Webhook benchmark: smtp-source -> mxgate on 127.0.0.1 -> signed JSON POST per message to a
# fast local receiver (Debian's nginx answering 200 on loopback), with link rewriting off and
# on (safe_links); the message is a ~4 KiB multipart/alternative reply with five links in each
# part (write_message). Next to it the reference of bench/relay_bench.py, a private Postfix instance
# relaying the same load to smtp-sink (Postfix has no webhook delivery: the ratio compares
# "accepted mail handed on" per second). Measured per subject: webhook deliveries/s until the
# receiver has the N-th POST, mxgate CPU per message, and end-to-end latency from the queue id's
# timestamp (taken when the transaction starts) to the POST's arrival at nginx ($msec), p50/p99.
# Single-threaded driver; helpers and process handling come from relay_bench.py. See
# bench/README.md.

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import urllib.request

import relay_bench as rb

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LINKS = ["https://shop.example/order?id=%d" % i for i in range(5)]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def queue_id_micros(text):
    """The microseconds since the epoch at the front of a queue id (20 Crockford base32
    characters for 12 bytes, see queue/README.md)."""
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD.index(char)
    return value >> 32  # 4 pad bits, then 64 bits of time and 32 of node and nonce


def write_message(path, size):
    """A multipart/alternative message of about `size` bytes with five links in each part, as a
    helpdesk reply looks; smtp-source -F sends it (it adds CRLF to every line)."""
    text = "Hello,\n\n" + "".join(f"Order {i}: {url}\n" for i, url in enumerate(LINKS))
    html = "<html><body><p>Hello,</p>" + "".join(f'<p>Order {i}: <a href="{url}">{url}</a></p>'
                                                  for i, url in enumerate(LINKS))
    head = ("From: Jane Doe <jane@sender.example>\nTo: support@bench.example\nSubject: Re: order [TICKET-202501-0001]\n"
            "Message-ID: <bench@sender.example>\nDate: Thu, 15 Jan 2026 11:22:30 +0100\nMIME-Version: 1.0\n"
            "Content-Type: multipart/alternative; boundary=b1\n\n")
    filler = max(0, size - len(head) - len(text) - len(html) - 200) // 2
    text += ("The printer is still on fire. " * (filler // 30 + 1))[:filler] + "\n"
    html += "<p>" + ("The printer is still on fire. " * (filler // 30 + 1))[:filler] + "</p></body></html>\n"
    body = (f"--b1\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
            f"--b1\nContent-Type: text/html; charset=utf-8\n\n{html}\n--b1--\n")
    with open(path, "w", encoding="ascii") as f:
        f.write(head + body)


def start_source(workdir, label, port, count, sessions, message):
    argv = [rb.tool("smtp-source"), "-s", str(sessions), "-m", str(count), "-F", message,
            "-M", "client.bench.example", "-f", rb.SENDER, "-t", f"rcpt@{rb.MAIN_DOMAIN}", f"127.0.0.1:{port}"]
    return rb.Child(argv, os.path.join(workdir, f"{label}.out"), os.path.join(workdir, f"{label}.err"))


class Nginx:
    """nginx answering 200 to every POST; $msec and webhook-id of each request in a log."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = rb.free_port()
        self.log_path = os.path.join(workdir, "hooks.log")
        self.child = None
        self.polls = 0

    def start(self):
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"""worker_processes 1;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/nginx.error.log warn;
events {{ worker_connections 1024; }}
http {{
  client_body_temp_path {self.workdir}/body;
  client_max_body_size 0;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  log_format hooks '$msec $http_webhook_id $status';
  server {{
    listen 127.0.0.1:{self.port};
    access_log {self.log_path} hooks buffer=256k flush=1s;
    location = /status {{ stub_status; access_log off; }}
    location / {{ return 200 "ok"; }}
  }}
}}
""")
        self.child = rb.Child([rb.tool("nginx"), "-c", conf, "-g", "daemon off;"],
                              os.path.join(self.workdir, "nginx.out"), os.path.join(self.workdir, "nginx.err"))
        if not rb.wait_port(self.port, 10.0, self.child.running):
            raise rb.BenchError(f"nginx did not start: {self.child.stderr_text()}")

    def counters(self):
        """(connections accepted, requests handled) so far, without our own status polls."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=5) as response:
            text = response.read().decode()
        self.polls += 1
        numbers = re.search(r"\n\s*(\d+)\s+(\d+)\s+(\d+)", text)
        return int(numbers.group(1)) - self.polls, int(numbers.group(3)) - self.polls

    def requests(self):
        return self.counters()[1]

    def stop(self):
        if self.child is not None:
            self.child.signal(signal.SIGQUIT)  # graceful: flushes the access log
            if not self.child.wait(10.0):
                self.child.stop()
            self.child = None

    def arrivals(self):
        """(arrival µs, queue id) of every 2xx POST in the log."""
        found = []
        with open(self.log_path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "200" and parts[1].startswith("msg_"):
                    found.append((int(float(parts[0]) * 1e6), parts[1].split("_")[1]))
        return found


class WebhookSubject:
    def __init__(self, name, label, links, opts, base):
        self.name = name
        self.label = label
        self.links = links
        self.opts = opts
        self.workdir = tempfile.mkdtemp(prefix=f"webhook-bench-{name}-", dir=base)
        os.chmod(self.workdir, 0o755)
        self.nginx = Nginx(self.workdir)
        self.smtpd_port = rb.free_port()
        self.child = None

    def start(self):
        self.nginx.start()
        policies = os.path.join(self.workdir, "policies")
        config = rb.mxgate_node_config(self.workdir, self.smtpd_port, rb.free_port(), False)
        with open(os.path.join(self.workdir, "mxgate.toml"), "w", encoding="utf-8") as f:
            f.write(config + f"""[links]
host = "links.bench.test"
port = {rb.free_port()}
""")
        with open(os.path.join(policies, "bench.toml"), "w", encoding="utf-8") as f:
            f.write(f"""tenant = "bench"
domains = ["{rb.MAIN_DOMAIN}"]
[delivery]
target = "webhook"
url = "http://127.0.0.1:{self.nginx.port}/hooks/inbound"
secrets = ["{SECRET}"]
allow_private = true
max_connections = {self.opts.connections}
[links]
mode = "{'safe_links' if self.links else 'off'}"
""")
        self.child = rb.Child([self.opts.mxgate, "run", "--config", os.path.join(self.workdir, "mxgate.toml")],
                              os.path.join(self.workdir, "mxgate.stdout"),
                              os.path.join(self.workdir, "mxgate.stderr"), cwd=self.workdir)
        if not rb.wait_port(self.smtpd_port, rb.SERVER_START_WAIT_S, self.child.running):
            raise rb.BenchError(f"mxgate did not start: {self.child.stderr_text()}")

    def stop(self):
        if self.child is not None:
            self.child.signal(signal.SIGTERM)
            if not self.child.wait(rb.MXGATE_STOP_WAIT_S):
                self.child.signal(signal.SIGKILL)
                self.child.wait(5.0)
            self.child = None
        self.nginx.stop()

    def wait_requests(self, target, limit_s):
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.nginx.requests() >= target:
                return True
            time.sleep(0.02)
        return False

    def run(self, count, size, sessions):
        message = os.path.join(self.workdir, "message.eml")
        write_message(message, size)
        before = self.nginx.requests()
        source = start_source(self.workdir, "warmup", self.smtpd_port, self.opts.warmup, sessions, message)
        if not self.wait_requests(before + self.opts.warmup, 120):
            raise rb.BenchError(f"warm-up: receiver got {self.nginx.requests() - before} of {self.opts.warmup}")
        source.wait(30)
        start_wall_us = int(time.time() * 1e6)
        before = self.nginx.requests()
        cpu_before = rb.tree_cpu_seconds([self.child.pid])
        t0 = time.monotonic()
        source = start_source(self.workdir, "measured", self.smtpd_port, count, sessions, message)
        ok = self.wait_requests(before + count, max(120.0, count / 50.0))
        seconds = time.monotonic() - t0
        cpu = rb.tree_cpu_seconds([self.child.pid]) - cpu_before
        connections = self.nginx.counters()[0]
        source.wait(60)
        res = {"server": self.name, "messages": count, "ok": ok, "seconds": round(seconds, 3)}
        if not ok:
            res["error"] = f"receiver got {self.nginx.requests() - before} of {count} POSTs"
            return res
        if source.ended is not None:
            res["accept_rate"] = round(count / (source.ended - source.started), 1)
        res["e2e_rate"] = round(count / seconds, 1)
        res["cpu_us_per_msg"] = round(cpu * 1e6 / count, 1)
        res["receiver_connections"] = connections
        self.nginx.stop()  # flushes the access log
        latencies = sorted((arrived - queue_id_micros(qid)) / 1000.0 for arrived, qid in self.nginx.arrivals()
                           if queue_id_micros(qid) >= start_wall_us)
        if latencies:
            res["latency"] = {"n": len(latencies), "p50_ms": latencies[len(latencies) // 2],
                              "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}
        return res


def postfix_reference(opts, base, count, size, sessions):
    """relay_bench's Postfix subject on the same load (its own warm-up and sink)."""
    scen = rb.Scenario("ref", f"{size // 1024} KiB × {sessions} sessions", size, sessions=sessions, messages=count)
    ref_opts = argparse.Namespace(postfix_maillog=False, repeat=1, warmup=opts.warmup, latency_count=0,
                                  keep=False, corpora=None, mxgate=opts.mxgate)
    results = rb.run_subject("postfix", scen, ref_opts, base)
    return results[-1] if results else {"ok": False, "error": "no result"}


def main(argv):
    p = argparse.ArgumentParser(description="smtp-source -> mxgate -> webhook POSTs to nginx, "
                                            "with and without link rewriting, next to Postfix relaying.")
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--connections", type=int, default=32, help="delivery.max_connections (default 32)")
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--only", default="postfix,webhook,webhook-links")
    p.add_argument("--mxgate", default=os.path.join(rb.REPO_ROOT, "build", "src", "app", "mxgate"))
    p.add_argument("--workdir", default="/var/tmp")
    p.add_argument("--json")
    opts = p.parse_args(argv)
    opts.mxgate = os.path.abspath(opts.mxgate)
    wanted = opts.only.split(",")
    if shutil.which("nginx", path=os.pathsep.join(rb.SBIN_DIRS)) is None and set(wanted) - {"postfix"}:
        print("error: nginx is needed (apt-get install nginx-light)", file=sys.stderr)
        return 2
    rb.ensure_tools()
    base = os.path.abspath(opts.workdir)
    results = {}
    try:
        for name in wanted:
            rb.log(f"{name}: {opts.messages} messages of {opts.size} B over {opts.sessions} sessions")
            if name == "postfix":
                results[name] = postfix_reference(opts, base, opts.messages, opts.size, opts.sessions)
                continue
            subject = WebhookSubject(name, name, name == "webhook-links", opts, base)
            try:
                subject.start()
                results[name] = subject.run(opts.messages, opts.size, opts.sessions)
            finally:
                subject.stop()
                shutil.rmtree(subject.workdir, ignore_errors=True)
            rb.log(f"  {json.dumps(results[name])}")
    finally:
        for child in list(rb.LIVE_CHILDREN):
            child.stop(0.5)
    command = shlex.join(["/usr/bin/python3", "bench/webhook_bench.py"] + argv)
    print(f"\n## {datetime.date.today()} webhook benchmark\n\n`{command}`, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f} at the end\n")
    print("| subject | deliveries/s | accepted/s | CPU µs/msg | e2e latency p50 / p99 | vs Postfix |")
    print("|---|---:|---:|---:|---:|---:|")
    postfix_rate = (results.get("postfix") or {}).get("e2e_rate")
    for name in wanted:
        res = results.get(name) or {}
        if not res.get("ok"):
            print(f"| {name} | failed: {res.get('error')} | | | | |")
            continue
        lat = res.get("latency") or {}
        latency = f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms" if lat else "-"
        ratio = f"×{res['e2e_rate'] / postfix_rate:.2f}" if postfix_rate and name != "postfix" else "-"
        print(f"| {name} | {res['e2e_rate']:,.0f} | {res.get('accept_rate', 0):,.0f} | "
              f"{res.get('cpu_us_per_msg', 0):,.0f} | {latency} | {ratio} |")
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
