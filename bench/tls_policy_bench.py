#!/usr/bin/python3
"""TLS policy benchmark: the cost of a tenant's outbound TLS level (may, verify, dane) on MX delivery.

A tenant's application submits through mxgate as in bench/outbound_bench.py (its submit_source
generator: 20 sessions, STARTTLS + AUTH PLAIN, 4 KiB messages, DKIM-signed twice by mxgate) to
someone@rcpt.test, whose MX mx.rcpt.test is bench/tls_sink.cpp (a counting SMTP sink with
STARTTLS, compiled by this script) on 127.0.0.2. The DNS is the same for every level: the zone
test. signed with ldns-signzone, served by nsd and validated by unbound on loopback
(tests/integration/support_dnssec.SignedZone), mxgate's only resolver. The zone holds
rcpt.test MX, mx.rcpt.test A 127.0.0.2 and _25._tcp.mx.rcpt.test TLSA 3 1 1 of the sink's key.

    may     [outbound] tls = "may"; the sink presents a self-signed P-256 certificate
    verify  tls = "verify", tls_ca_file = a test CA; the sink presents a P-256 certificate the CA
            issued for mx.rcpt.test
    dane    tls = "dane"; the sink presents the self-signed certificate of "may", authenticated
            by the 3 1 1 TLSA record
    may-no-sts  "may" with mx.mta_sts = false: without the _mta-sts TXT lookup (answered from
            the resolver's cache: the zone has no such record) that every delivery otherwise
            makes, so its ratio to "may" is what the MTA-STS check costs with a warm cache

Every mxgate runs with an empty mx.shaping_file (no per-destination limits; the shipped rules
would hold the sink's site to 100 messages/s), as outbound_bench does.

Each level runs twice, each time with a fresh mxgate and a fresh sink: with the default
smtp_client.max_messages_per_connection (1000: connections are reused, handshakes are rare)
and with 1 (a TLS handshake per message, most of them resumed from a TLS 1.3 ticket). Before
each measured run a warm-up fills the DNS/TLSA caches and the TLS session. Measured: messages/s
from the generator's start until the sink has the N-th message, mxgate's CPU per message (its
process tree, from /proc), and from mxgate's /metrics the TLS sessions by verified_by, the
resumed sessions and the TLS failures (deltas over the measured run); the sink counts
connections, handshakes and resumed handshakes too. The reference row is outbound_bench's
Postfix + OpenDKIM relaying to the same sink with smtp_tls_security_level = may (--no-postfix
leaves it out). --repeat R runs R rounds of everything, interleaved, and the table shows
medians. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import relay_bench as rb
import outbound_bench as ob

sys.path.insert(0, os.path.join(rb.REPO_ROOT, "tests", "integration"))
from support_dnssec import SignedZone, tlsa_rdata_for_cert  # noqa: E402
from support_protocol import TestPki  # noqa: E402

RECIPIENT_DOMAIN = "rcpt.test"
MX_HOST = "mx.rcpt.test"
SINK_ADDRESS = ob.SINK_ADDRESS  # 127.0.0.2
LEVELS = ("may", "verify", "dane", "may-no-sts")
VERIFIED_BY = {"may": "none", "verify": "pkix", "dane": "dane", "may-no-sts": "none"}
# The TLS level of each row: may-no-sts is may with mx.mta_sts = false (no _mta-sts lookups), the
# measure of what the MTA-STS lookup every delivery makes costs with a warm cache.
TLS_LEVEL = {"may": "may", "verify": "verify", "dane": "dane", "may-no-sts": "may", "postfix": "may"}
REFERENCE = ("postfix", "postfix")  # (level, mode) of the Postfix row
MODES = (("reuse", None), ("1-per-conn", 1))  # smtp_client.max_messages_per_connection: default, 1

# outbound_bench.generate() sends to its module's RECIPIENT: our domain lives in the signed zone.
ob.RECIPIENT = f"someone@{RECIPIENT_DOMAIN}"


def build_sink(workdir):
    binary = os.path.join(workdir, "tls_sink")
    subprocess.run(["g++", "-std=c++20", "-O2", "-o", binary, os.path.join(rb.BENCH_DIR, "tls_sink.cpp"),
                    "-lssl", "-lcrypto", "-lpthread"], check=True)
    return binary


def self_signed_p256(directory, name):
    """A self-signed certificate with a P-256 key, as TestPki's (the handshakes then cost the same)."""
    cert, key = os.path.join(directory, name + ".self.crt"), os.path.join(directory, name + ".self.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TlsSink:
    """bench/tls_sink on SINK_ADDRESS:port, reporting when it has the given message counts."""

    def __init__(self, binary, workdir, label, port, cert, key, report_at):
        self.stdout = os.path.join(workdir, f"{label}.out")
        self.child = rb.Child([binary, "--listen", f"{SINK_ADDRESS}:{port}", "--cert", cert, "--key", key,
                               "--report-at", ",".join(str(n) for n in report_at)],
                              self.stdout, os.path.join(workdir, f"{label}.err"))
        if self.wait_line("READY", 10.0) is None:
            self.stop()
            raise rb.BenchError(f"tls_sink did not start: {self.child.stderr_text()}")

    def lines(self):
        try:
            with open(self.stdout, "r", encoding="ascii", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def wait_line(self, prefix, timeout_s, source=None):
        """The first stdout line starting with prefix, or None after timeout_s / when the sink
        died / when the generator failed (then after a second's grace)."""
        deadline = time.monotonic() + timeout_s
        failed_at = None
        while True:
            for line in self.lines():
                if line.startswith(prefix):
                    return line
            now = time.monotonic()
            if now >= deadline or not self.child.running():
                return None
            if source is not None and not source.running() and source.status != 0:
                failed_at = failed_at or now
                if now - failed_at > 1.0:
                    return None
            time.sleep(0.01)

    def reached(self, n, timeout_s, source):
        """(monotonic seconds, connections, handshakes, resumed) when the n-th message arrived."""
        line = self.wait_line(f"REACHED {n} ", timeout_s, source)
        if line is None:
            return None
        fields = line.split()
        return int(fields[2]) / 1e9, int(fields[3]), int(fields[4]), int(fields[5])

    def stop(self):
        self.child.stop()
        final = next((line for line in self.lines() if line.startswith("FINAL ")), None)
        if final:
            messages, connections, handshakes, resumed = (int(x) for x in final.split()[1:5])
            return {"messages": messages, "connections": connections, "handshakes": handshakes, "resumed": resumed}
        return None


class ResolverShim:
    """Stands in for relay_bench.DnsProcess: mxgate's dns.servers is the signed zone's unbound."""

    def __init__(self, resolver):
        self.port = int(resolver.rsplit(":", 1)[1])

    def stop(self):
        pass


class MxgateTls(ob.MxgateOutbound):
    """outbound_bench's mxgate (submission listener, DKIM keys, MX delivery) with the tenant at
    one TLS level, the signed zone's resolver, IPv4 exchangers only, and optionally one message
    per outbound connection."""

    def __init__(self, workdir, sink_port, binary, keys, level, ca_file, resolver, per_connection):
        super().__init__(workdir, sink_port, binary, keys, api=False)
        self.level = level
        self.ca_file = ca_file
        self.resolver = resolver
        self.per_connection = per_connection
        # relay_bench.free_port() binds and releases port 0, so two calls can return the same port.
        while self.admin_port in (self.smtpd_port, self.api_port, sink_port):
            self.admin_port = rb.free_port()
        while self.api_port in (self.smtpd_port, sink_port):
            self.api_port = rb.free_port()

    def _write_config(self):
        super()._write_config()
        path = os.path.join(self.workdir, "mxgate.toml")
        with open(path, "r", encoding="utf-8") as f:
            config = f.read()
        config = config.replace("[mx]\n", '[mx]\naddress_families = "ipv4"\n', 1)
        if self.level == "may-no-sts":
            config = config.replace("[mx]\n", "[mx]\nmta_sts = false\n", 1)
        if self.per_connection is not None:
            config += f"[smtp_client]\nmax_messages_per_connection = {self.per_connection}\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(config)
        outbound = f'\n[outbound]\ntls = "{TLS_LEVEL[self.level]}"\n'
        if self.level == "verify":
            outbound += f'tls_ca_file = "{self.ca_file}"\n'
        with open(os.path.join(self.workdir, "policies", "bench.toml"), "a", encoding="utf-8") as f:
            f.write(outbound)

    def start(self):
        # MxgateOutbound.start() starts relay_bench's DNS server; ours is the signed zone's unbound.
        original = rb.DnsProcess
        rb.DnsProcess = lambda _workdir, _zone: ResolverShim(self.resolver)
        try:
            super().start()
        finally:
            rb.DnsProcess = original
        if not rb.wait_port(self.admin_port, rb.SERVER_START_WAIT_S, self.child.running):
            raise rb.BenchError("mxgate's admin port did not open")

    def metrics(self):
        values = {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("mxgate_") and " " in line:
                    name, value = line.rsplit(" ", 1)
                    try:
                        values[name] = float(value)
                    except ValueError:
                        pass
        return values


class PostfixTls(ob.PostfixDkim):
    """The reference: outbound_bench's Postfix + OpenDKIM (submission with STARTTLS and SASL,
    both signatures), relaying to the same sink with smtp_tls_security_level = may and Postfix's
    TLS session cache (tlsmgr). relayhost = [127.0.0.2]:port, so no MX lookup (Postfix cannot ask
    a DNS server on a high port): it has no "verify" or "dane" counterpart here."""

    def __init__(self, workdir, sink_port, keys):
        super().__init__(workdir, sink_port, keys, maillog=False)
        self.name = "postfix"

    def _write_config(self):
        super()._write_config()
        with open(os.path.join(self.config_dir, "main.cf"), "a", encoding="ascii") as f:
            f.write("smtp_tls_security_level = may\n"
                    "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n"
                    "smtp_tls_loglevel = 0\n")

    def metrics(self):
        return {}


def tls_figures(before, after):
    """TLS and DNS counters over an interval, from two /metrics snapshots."""
    def delta(name):
        return int(after.get(name, 0) - before.get(name, 0))
    sessions = {v: delta(f'mxgate_mx_tls_sessions_total{{verified_by="{v}"}}') for v in ("none", "pkix", "dane")}
    failures = {name.split('"')[1]: int(value - before.get(name, 0))
                for name, value in after.items() if name.startswith("mxgate_mx_tls_failures_total{")}
    failures = {k: v for k, v in failures.items() if v}
    total = sum(sessions.values())
    resumed = delta("mxgate_mx_tls_resumed_total")
    return {"tls_sessions": sessions, "tls_sessions_total": total, "tls_resumed": resumed,
            "resumption_rate": round(resumed / total, 3) if total else None, "tls_failures": failures,
            "dns": {k: delta(f"mxgate_dns_{k}_total") for k in ("queries", "cache_hits", "joined", "sent", "failures")}}


def run_level(level, mode, per_connection, opts, common, zone):
    """One level in one connection mode: fresh sink, fresh mxgate, warm-up, measured run.
    level "postfix": the Postfix reference (mode "postfix": its own connection caching)."""
    result = {"level": level, "mode": mode,
              "max_messages_per_connection": "postfix" if level == "postfix" else per_connection or 1000,
              "messages": opts.messages, "warmup": opts.warmup, "ok": False}
    workdir = tempfile.mkdtemp(prefix=f"tls-bench-{level}-{mode}-", dir=common["base"])
    os.chmod(workdir, 0o755)
    sink = server = source = None
    try:
        cert, key = common["certs"][TLS_LEVEL[level]]
        sink_port = rb.free_port()
        warmup = opts.warmup
        sink = TlsSink(common["sink"], workdir, "sink", sink_port, cert, key,
                       [n for n in (warmup, warmup + opts.messages) if n > 0])
        if level == "postfix":
            server = PostfixTls(workdir, sink_port, common["keys"])
        else:
            server = MxgateTls(workdir, sink_port, opts.mxgate, common["keys"], level, common["ca"], zone.resolver,
                               per_connection)
        server.start()
        rb.log(f"{level}, {mode}: warm-up {warmup}, then {opts.messages} messages")
        metrics0 = server.metrics()
        sink0 = (0, 0, 0, 0)
        if warmup:
            source = ob.generate(common["generator"], server, warmup, "warmup")
            sink0 = sink.reached(warmup, 120.0, source)
            if sink0 is None:
                raise rb.BenchError(f"warm-up: the sink got {sink.lines()[-1:]} ; generator: "
                                    f"{source.stderr_text()} {open(source.stdout_path).read()}")
            source.wait(30.0)
            time.sleep(0.5)
        result["warmup_tls"] = tls_figures(metrics0, server.metrics())
        resolver_pids = [p.pid for p in (zone.unbound, zone.nsd) if p is not None]
        metrics1 = server.metrics()
        cpu0 = rb.tree_cpu_seconds(server.roots())
        resolver_cpu0 = rb.tree_cpu_seconds(resolver_pids)
        sampler = rb.MemorySampler(server.roots)
        sampler.start()
        t0 = time.monotonic()
        source = ob.generate(common["generator"], server, opts.messages, "source")
        reached = sink.reached(warmup + opts.messages, rb.sink_timeout(opts.messages), source)
        cpu = rb.tree_cpu_seconds(server.roots()) - cpu0
        resolver_cpu = rb.tree_cpu_seconds(resolver_pids) - resolver_cpu0
        metrics2 = server.metrics()
        sampler.finish()
        source.wait(60.0)
        try:
            with open(source.stdout_path, "r", encoding="utf-8") as f:
                generated = json.loads(f.read() or "{}")
        except (OSError, ValueError):
            generated = {}
        result["generator"] = generated
        result.update(tls_figures(metrics1, metrics2))
        if reached is None:
            result["error"] = (f"the sink did not get {warmup + opts.messages} messages in time "
                               f"({sink.lines()[-1:]}); generator: {generated or source.stderr_text()}")
            return result
        t1 = reached[0]
        # The sink's own view of the measured run (the same for Postfix, which has no /metrics);
        # handshakes finished before the N-th message, so a few may belong to the warm-up's tail.
        result["sink_tls"] = {"connections": reached[1] - sink0[1], "handshakes": reached[2] - sink0[2],
                              "resumed": reached[3] - sink0[3]}
        result.update(ok=True, seconds=round(t1 - t0, 3), e2e_rate=round(opts.messages / (t1 - t0), 1),
                      accept_rate=round(opts.messages / generated["seconds"], 1) if generated.get("seconds") else None,
                      cpu_us_per_msg=round(cpu * 1e6 / opts.messages, 1),
                      resolver_cpu_ms=round(resolver_cpu * 1e3, 1),
                      peak_pss_mb=round(sampler.peak_pss_kb / 1024, 1),
                      p50_ms=generated.get("p50_ms"), p99_ms=generated.get("p99_ms"),
                      loadavg_before=round(os.getloadavg()[0], 2))
        expected = VERIFIED_BY.get(level, "none")
        unexpected = {k: v for k, v in result["tls_sessions"].items() if v and k != expected}
        if unexpected:
            result["warning"] = f"sessions verified_by {unexpected}, expected only {expected}"
    except (rb.BenchError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        result["error"] = str(exc)
    finally:
        if source is not None and source.running():
            source.stop()
        if server is not None:
            server.stop()
        if sink is not None:
            result["sink_final"] = sink.stop()
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rb.log(f"  {json.dumps({k: v for k, v in result.items() if k not in ('generator', 'warmup_tls')})}")
    return result


def fmt_resumption(res):
    if res["level"] == "postfix":
        return "-"
    total = res.get("tls_sessions_total") or 0
    if not total:
        return "- (0 handshakes)"
    return f"{res['tls_resumed']}/{total} = {100.0 * res['tls_resumed'] / total:.0f} %"


def median(values):
    values = sorted(values)
    n = len(values)
    return None if n == 0 else values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def summarize(runs):
    """One table row from the runs of one level and mode: the medians of the rate and the CPU per
    message (each on its own), the TLS and DNS counters summed over the runs."""
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return {"ok": False, "error": runs[-1].get("error") if runs else "no run"}
    sessions = {k: sum(r["tls_sessions"][k] for r in ok) for k in ("none", "pkix", "dane")}
    failures = {}
    for r in ok:
        for k, v in r["tls_failures"].items():
            failures[k] = failures.get(k, 0) + v
    return {"ok": True, "runs": len(ok), "failed_runs": len(runs) - len(ok),
            "e2e_rate": median([r["e2e_rate"] for r in ok]), "cpu_us_per_msg": median([r["cpu_us_per_msg"] for r in ok]),
            "e2e_rates": [r["e2e_rate"] for r in ok], "cpu_us_per_msg_runs": [r["cpu_us_per_msg"] for r in ok],
            "tls_sessions": sessions, "tls_sessions_total": sum(sessions.values()),
            "tls_resumed": sum(r["tls_resumed"] for r in ok), "tls_failures": failures,
            "dns_sent": sum(r["dns"]["sent"] for r in ok), "dns_queries": sum(r["dns"]["queries"] for r in ok),
            "sink_tls": {k: sum(r["sink_tls"][k] for r in ok) for k in ("connections", "handshakes", "resumed")}}


def summaries(results, levels, modes, postfix):
    table = []
    for mode, per_connection in modes:
        for level in levels:
            row = summarize([r for r in results if r["mode"] == mode and r["level"] == level])
            row.update(level=level, mode=mode, max_messages_per_connection=per_connection or 1000)
            table.append(row)
    if postfix:
        row = summarize([r for r in results if (r["level"], r["mode"]) == REFERENCE])
        row.update(level="postfix", mode="postfix", max_messages_per_connection="Postfix's cache")
        table.append(row)
    for row in table:
        # Postfix is set against mxgate at "may" with connection reuse.
        base = next((b for b in table if b["mode"] == (row["mode"] if row["level"] != "postfix" else "reuse")
                     and b["level"] == "may" and b["ok"]), None)
        if row["ok"] and base:
            row["rate_vs_may"] = round(row["e2e_rate"] / base["e2e_rate"], 3)
            row["cpu_vs_may"] = round(row["cpu_us_per_msg"] / base["cpu_us_per_msg"], 3)
            # Paired: each round's run against the same round's "may" run (similar machine load).
            pairs = [(r, b) for r in results if (r["level"], r["mode"]) == (row["level"], row["mode"]) and r.get("ok")
                     for b in results if (b["level"], b["mode"]) == ("may", base["mode"]) and b.get("ok")
                     and b.get("round") == r.get("round")]
            if pairs:
                row["rate_vs_may_paired"] = round(median([r["e2e_rate"] / b["e2e_rate"] for r, b in pairs]), 3)
                row["cpu_vs_may_paired"] = round(median([r["cpu_us_per_msg"] / b["cpu_us_per_msg"] for r, b in pairs]), 3)
    return table


def report(table):
    rows = ["| level | msgs/conn | e2e msgs/s (median; runs) | mxgate CPU µs/msg (median) | TLS sessions (verified_by) "
            "| resumed / sessions | TLS failures | DNS queries sent / asked | sink: connections / handshakes / resumed "
            "| rate / may (paired) | CPU / may (paired) |",
            "|---|---:|---|---:|---|---:|---|---:|---:|---:|---:|"]
    for res in table:
        if not res["ok"]:
            rows.append(f"| {res['level']} | {res['max_messages_per_connection']} | FAILED: "
                        f"{str(res.get('error'))[:200]} | | | | | | | | |")
            continue
        sessions = ", ".join(f"{k} {v}" for k, v in res["tls_sessions"].items() if v) or "0"
        failures = ", ".join(f"{k} {v}" for k, v in res["tls_failures"].items()) or "0"
        runs = "; ".join(rb.fmt_num(x) for x in res["e2e_rates"])
        if res["level"] == "postfix":
            sessions = "(no /metrics)"
        sink = res["sink_tls"]
        sink_text = f"{sink['connections']} / {sink['handshakes']} / {sink['resumed']}"
        ratio_rate = (f"×{res['rate_vs_may']:.2f} (×{res['rate_vs_may_paired']:.2f})"
                      if "rate_vs_may_paired" in res else "-")
        ratio_cpu = (f"×{res['cpu_vs_may']:.2f} (×{res['cpu_vs_may_paired']:.2f})"
                     if "cpu_vs_may_paired" in res else "-")
        rows.append(f"| {res['level']} | {res['max_messages_per_connection']} | **{rb.fmt_num(res['e2e_rate'])}** ({runs}) "
                    f"| {rb.fmt_num(res['cpu_us_per_msg'])} | {sessions} | {fmt_resumption(res)} | {failures} "
                    f"| {res['dns_sent']} / {res['dns_queries']} | {sink_text} | {ratio_rate} | {ratio_cpu} |")
    rows.append("\nRatios: of the medians, and in brackets the median over rounds of each round's run divided by "
                "the same round's `may` run in the same mode (Postfix: mxgate `may` with reuse).")
    return "\n".join(rows)


def machine_info(base):
    mem_kb = int((rb.first_line("/proc/meminfo", "MemTotal") or "0").split()[0])
    rev = subprocess.run(["git", "-C", rb.REPO_ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": rb.first_line("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "os": (rb.first_line("/etc/os-release", "PRETTY_NAME") or "").strip('"\n '),
        "memory": f"{mem_kb / 1048576:.1f} GiB",
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "workdir_fs": rb.filesystem_of(base),
        "openssl": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip(),
        "repo_commit": rev.stdout.strip() or None,
    }


def terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per measured run (default 3000)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up messages before each run (default 200)")
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma list of may, verify, dane, may-no-sts")
    parser.add_argument("--modes", default=",".join(m for m, _ in MODES),
                        help="comma list of reuse (max_messages_per_connection 1000), 1-per-conn")
    parser.add_argument("--no-postfix", action="store_true",
                        help="leave out the Postfix reference (Postfix + OpenDKIM relaying with TLS may)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of all levels and modes, interleaved; the table shows medians (default 1)")
    parser.add_argument("--mxgate", default=os.path.join(rb.REPO_ROOT, "build", "src", "app", "mxgate"))
    parser.add_argument("--workdir", default="/var/tmp", help="where the temp dirs go (a real disk)")
    parser.add_argument("--json", help="also write every run as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (configs, logs)")
    opts = parser.parse_args(argv)
    levels = opts.levels.split(",")
    modes = [m for m in MODES if m[0] in opts.modes.split(",")]
    if (opts.messages < 1 or opts.warmup < 0 or opts.repeat < 1 or any(level not in LEVELS for level in levels)
            or len(modes) != len(opts.modes.split(","))):
        parser.error("bad --messages, --warmup, --levels or --modes")
    opts.mxgate = os.path.abspath(opts.mxgate)
    if not os.access(opts.mxgate, os.X_OK):
        print(f"error: mxgate binary not found or not executable: {opts.mxgate}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    command = shlex.join(["/usr/bin/python3", os.path.relpath(os.path.abspath(__file__), rb.REPO_ROOT)] + argv)
    if not opts.no_postfix:
        ob.ensure_packages()
    base = tempfile.mkdtemp(prefix="tls-bench-", dir=os.path.abspath(opts.workdir))
    os.chmod(base, 0o755)
    info = machine_info(base)
    rb.log(f"machine: {info['nproc']} x {info['cpu_model']}, load {info['loadavg_at_start']}")
    zone = None
    results = []
    try:
        common = {"base": base, "generator": ob.build_generator(base), "sink": build_sink(base),
                  "keys": ob.make_keys(opts.mxgate, base)}
        pki = TestPki(base)
        self_cert = self_signed_p256(base, MX_HOST)
        common["ca"] = pki.ca_cert
        common["certs"] = {"may": self_cert, "verify": pki.issue("verify-sink", MX_HOST), "dane": self_cert}
        zone = SignedZone([f"{RECIPIENT_DOMAIN}. 300 IN MX 10 {MX_HOST}.",
                           f"{MX_HOST}. 300 IN A {SINK_ADDRESS}",
                           f"_25._tcp.{MX_HOST}. 300 IN TLSA {tlsa_rdata_for_cert(self_cert[0], 3, 1, 1)}"],
                          workdir=os.path.join(base, "zone"))
        os.makedirs(zone.dir)
        zone.start()
        rb.log(f"signed zone test. served by nsd, validated by unbound at {zone.resolver}")
        for round_no in range(1, opts.repeat + 1):
            for mode, per_connection in modes:
                for level in levels:
                    results.append(dict(run_level(level, mode, per_connection, opts, common, zone), round=round_no))
            if not opts.no_postfix:
                results.append(dict(run_level(*REFERENCE, None, opts, common, zone), round=round_no))
    except KeyboardInterrupt:
        rb.log("interrupted; cleaning up")
        return 130
    except (rb.BenchError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in list(rb.LIVE_CHILDREN):
            child.stop(0.5)
        if zone is not None:
            zone.stop()
        if not opts.keep:
            shutil.rmtree(base, ignore_errors=True)
    loads = [r["loadavg_before"] for r in results if "loadavg_before" in r]
    lines = [
        f"Date: {info['date']}",
        f"Machine: {info['nproc']} CPUs, {info['cpu_model']}, {info['memory']} RAM, kernel {info['kernel']}, {info['os']}",
        f"Load average at start: {info['loadavg_at_start']}"
        + (f"; 1-min load after the measured runs: {min(loads):.2f} to {max(loads):.2f}" if loads else ""),
        f"{info['openssl']}; mxgate {opts.mxgate} (repo commit {info['repo_commit'] or 'none'})",
        f"Command: `{command}`",
        f"N = {opts.messages} per run after a warm-up of {opts.warmup}, {opts.repeat} round(s) of every level and mode "
        f"(interleaved); {ob.SESSIONS} submission sessions, {ob.SIZE // 1024} KiB, DKIM rsa-sha256 + ed25519-sha256",
    ]
    if loads and max(loads) > 0.5 * info["nproc"]:
        lines.append("WARNING: the machine was busy with other work during the runs; compare ratios only.")
    table = summaries(results, levels, modes, not opts.no_postfix)
    print("\n".join(lines) + "\n\n" + report(table))
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({"command": command, "machine": info, "table": table, "results": results}, f, indent=2)
        rb.log(f"wrote {opts.json}")
    return 0 if results and all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
