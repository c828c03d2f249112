#!/usr/bin/python3
# Outbound benchmark: a tenant's application sending through the relay. A load generator
# (bench/submit_source.cpp, compiled by this script) submits with AUTH PLAIN over STARTTLS,
# 20 sessions of 4 KiB messages, to each subject in turn; the subject DKIM-signs every message
# twice (rsa-sha256 with a 2048-bit key and ed25519-sha256, the same two keys for both) and
# delivers it to smtp-sink on 127.0.0.2, and the run ends when the sink has the N-th message.
#
#   postfix   a private Postfix instance (TLS, Dovecot's auth service for SASL, relayhost to the
#             sink) with Debian's opendkim as its milters (one per algorithm: opendkim's
#             SignatureAlgorithm is global): the reference;
#   mxgate    `mxgate run` with a submission listener, the tenant's [[dkim.keys]], and MX
#             delivery: the recipient domain's MX comes from a DNS server on loopback
#             (tests/integration/dns_server.py) and points at the sink;
#   api       mxgate's HTTP send API (POST /v1/messages, JSON), the same signing and delivery
#             (only when the binary has an [api] listener).
#
# Both servers answer 250 (202) only after the message is synced to their queue. Method and
# measures (end-to-end rate, server CPU per message, peak PSS) as bench/relay_bench.py, whose
# process helpers this script uses; see bench/README.md.

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import relay_bench as rb

SENDER = "app@bench.example"
RECIPIENT = "someone@rcpt.example"
SINK_ADDRESS = "127.0.0.2"
SESSIONS = 20
SIZE = 4096
PASSWORD = "bench-secret-0123456789"


def ensure_packages():
    """Debian's opendkim (the milter) and dovecot-core (the SASL server) next to postfix."""
    rb.ensure_tools()
    missing = [pkg for pkg, name in (("opendkim", "opendkim"), ("dovecot-core", "dovecot"))
               if shutil.which(name, path=os.pathsep.join(rb.SBIN_DIRS)) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise rb.BenchError(f"missing packages {', '.join(missing)}; install them as root")
    rb.log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=600", "--no-install-recommends",
                    *missing], env=env, check=True)


def build_generator(workdir):
    source = os.path.join(rb.BENCH_DIR, "submit_source.cpp")
    binary = os.path.join(workdir, "submit_source")
    subprocess.run(["g++", "-std=c++20", "-O2", "-o", binary, source, "-lssl", "-lcrypto", "-lpthread"],
                   check=True)
    return binary


def make_keys(mxgate, workdir):
    """The two signing keys (PEM), made once and used by both subjects."""
    keys = {}
    for selector, algorithm in (("rsa", "rsa"), ("ed", "ed25519")):
        path = os.path.join(workdir, f"{selector}.pem")
        subprocess.run([mxgate, "dkim", "keygen", "--domain", "bench.example", "--selector", selector,
                        "--algorithm", algorithm, "--out", path], check=True, capture_output=True)
        keys[selector] = path
    return keys


def self_signed(workdir):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=bench.test", "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class PostfixDkim(rb.PostfixServer):
    """The relay benchmark's private Postfix instance as a submission server: STARTTLS, AUTH
    checked by Dovecot's auth service, relaying only for authenticated clients to the sink, and opendkim
    (their own processes, counted with the server) signing through the milter protocol."""

    name = "postfix"
    label = "Postfix + OpenDKIM"

    def __init__(self, workdir, sink_port, keys, maillog):
        super().__init__(workdir, sink_port, sink_port, maillog=maillog)
        self.keys = keys
        self.milter_ports = [rb.free_port() for _ in keys]
        self.auth_port = rb.free_port()
        self.opendkims = []
        self.dovecot = None

    def write_dovecot(self):
        """Dovecot's auth service, the SASL server Postfix documents first, on loopback TCP."""
        directory = os.path.join(self.workdir, "dovecot")
        os.makedirs(directory)
        with open(os.path.join(directory, "passwd"), "w", encoding="ascii") as f:
            f.write(f"app@bench.example:{{PLAIN}}{PASSWORD}\n")
        self.dovecot_conf = os.path.join(directory, "dovecot.conf")
        with open(self.dovecot_conf, "w", encoding="ascii") as f:
            f.write(f"""base_dir = {directory}/run
state_dir = {directory}/state
instance_name = bench-{self.auth_port}
protocols =
listen = 127.0.0.1
log_path = {directory}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {self.auth_port}
  }}
}}
""")

    def _write_config(self):
        super()._write_config()
        cert, key = self_signed(self.workdir)
        self.write_dovecot()
        extra = [
            f"relayhost = [{SINK_ADDRESS}]:{self.sink_port}",
            "transport_maps =",
            f"smtpd_tls_cert_file = {cert}",
            f"smtpd_tls_key_file = {key}",
            "smtpd_tls_security_level = may",
            "smtpd_tls_auth_only = yes",
            "smtpd_sasl_auth_enable = yes",
            "smtpd_sasl_type = dovecot",
            f"smtpd_sasl_path = inet:127.0.0.1:{self.auth_port}",
            "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
            "mynetworks = 127.0.0.1/32",
            "smtpd_milters = " + ", ".join(f"inet:127.0.0.1:{port}" for port in self.milter_ports),
            "milter_default_action = tempfail",
        ]
        # Later lines of main.cf win: the relay settings replace the relay benchmark's.
        with open(os.path.join(self.config_dir, "main.cf"), "a", encoding="ascii") as f:
            f.write("\n".join(extra) + "\n")
        with open(os.path.join(self.config_dir, "master.cf"), "a", encoding="ascii") as f:
            f.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")
        # One opendkim per algorithm: its SignatureAlgorithm is global, not per key.
        self.opendkim_confs = []
        for (selector, path), port in zip(self.keys.items(), self.milter_ports):
            dkim_dir = os.path.join(self.workdir, f"opendkim-{selector}")
            os.makedirs(dkim_dir)
            with open(os.path.join(dkim_dir, "KeyTable"), "w", encoding="ascii") as f:
                f.write(f"{selector}._domainkey.bench.example bench.example:{selector}:{path}\n")
            with open(os.path.join(dkim_dir, "SigningTable"), "w", encoding="ascii") as f:
                f.write(f"*@bench.example {selector}._domainkey.bench.example\n")
            conf = os.path.join(dkim_dir, "opendkim.conf")
            with open(conf, "w", encoding="ascii") as f:
                f.write(f"""Syslog no
Background no
Mode s
Socket inet:{port}@127.0.0.1
PidFile {dkim_dir}/opendkim.pid
KeyTable file:{dkim_dir}/KeyTable
SigningTable refile:{dkim_dir}/SigningTable
SignatureAlgorithm {'rsa-sha256' if selector == 'rsa' else 'ed25519-sha256'}
Canonicalization relaxed/relaxed
OversignHeaders From
RequireSafeKeys no
""")
            self.opendkim_confs.append((conf, port))

    def start(self):
        super().start()
        self.dovecot = rb.Child(["dovecot", "-F", "-c", self.dovecot_conf],
                                os.path.join(self.workdir, "dovecot.out"),
                                os.path.join(self.workdir, "dovecot.err"))
        if not rb.wait_port(self.auth_port, rb.SERVER_START_WAIT_S, self.dovecot.running):
            raise rb.BenchError(f"dovecot did not start: {self.dovecot.stderr_text()}")
        for conf, port in self.opendkim_confs:
            milter = rb.Child(["opendkim", "-f", "-x", conf], conf + ".out", conf + ".err")
            self.opendkims.append(milter)
            if not rb.wait_port(port, rb.SERVER_START_WAIT_S, milter.running):
                raise rb.BenchError(f"opendkim did not start: {milter.stderr_text()}")

    def roots(self):
        return super().roots() + [child.pid for child in [*self.opendkims, self.dovecot] if child and child.running()]

    def credentials(self):
        return "app@bench.example", PASSWORD

    def stop(self):
        super().stop()
        for child in [*self.opendkims, self.dovecot]:
            if child is not None:
                child.stop()
        self.opendkims, self.dovecot = [], None


class MxgateOutbound(rb.MxgateServer):
    """mxgate with a submission listener (STARTTLS, AUTH), one tenant owning bench.example
    with both keys, MX delivery through a DNS server on loopback, and (when asked) the API."""

    def __init__(self, workdir, sink_port, binary, keys, api):
        super().__init__(workdir, sink_port, sink_port, binary)
        self.keys = keys
        self.api = api
        self.api_port = rb.free_port()
        self.name = "api" if api else "mxgate"
        self.label = "mxgate HTTP API" if api else "mxgate"
        self.user = None
        self.secret = None

    @property
    def port(self):
        return self.api_port if self.api else self.smtpd_port

    def _write_config(self):
        cert, key = self_signed(self.workdir)
        policies = os.path.join(self.workdir, "policies")
        os.makedirs(policies)
        config = f"""[node]
hostname = "bench.mxgate.test"
policies = "{policies}"
[log]
level = "warn"
[[listener]]
name = "submission"
role = "submission"
address = "127.0.0.1"
port = {self.smtpd_port}
tls = "starttls"
[tls]
cert = "{cert}"
key = "{key}"
[spool]
path = "{os.path.join(self.workdir, 'queue')}"
[admin]
port = {self.admin_port}
[smtp]
max_connections_per_ip = {rb.MXGATE_MAX_CONNECTIONS_PER_IP}
[dns]
servers = ["127.0.0.1:{self.dns.port}"]
[mx]
port = {self.sink_port}
shaping_file = "{os.path.join(self.workdir, 'shaping.toml')}"
"""
        if self.api:
            config += f"""[api]
address = "127.0.0.1"
port = {self.api_port}
"""
        with open(os.path.join(self.workdir, "mxgate.toml"), "w", encoding="utf-8") as f:
            f.write(config)
        # An empty shaping file: no per-destination limits, as Postfix's relay to one destination
        # has none here (the shipped conf/shaping.toml would hold the sink's site to 100/s).
        with open(os.path.join(self.workdir, "shaping.toml"), "w", encoding="utf-8") as f:
            f.write("# no limits: the benchmark measures the pipeline\n")
        keys = "".join(f"""
[[dkim.keys]]
domain = "bench.example"
selector = "{selector}"
algorithm = "{'rsa-sha256' if selector == 'rsa' else 'ed25519-sha256'}"
key_file = "{path}"
""" for selector, path in self.keys.items())
        with open(os.path.join(policies, "bench.toml"), "w", encoding="utf-8") as f:
            # Inbound mail for the tenant's own domain would go to a directory; none arrives.
            f.write(f'tenant = "bench"\ndomains = ["bench.example"]\n[delivery]\ntarget = "file"\n'
                    f'path = "{os.path.join(self.workdir, "inbox")}"\n{keys}')

    def start(self):
        self.dns = rb.DnsProcess(self.workdir, {
            "rcpt.example": [{"type": "MX", "value": [10, "mx.rcpt.example"]}],
            "mx.rcpt.example": [{"type": "A", "value": SINK_ADDRESS}],
        })
        self._write_config()
        self.child = rb.Child(
            [self.binary, "run", "--config", os.path.join(self.workdir, "mxgate.toml")],
            os.path.join(self.workdir, "mxgate.stdout"), os.path.join(self.workdir, "mxgate.stderr"),
            cwd=self.workdir)
        if not rb.wait_port(self.port, rb.SERVER_START_WAIT_S, self.child.running):
            raise rb.BenchError(f"mxgate did not start listening: {self.child.stderr_text()}")
        created = subprocess.run(
            [self.binary, "credentials", "add", "--tenant", "bench", "--name", "app", "--json",
             *(["--kind", "api"] if self.api else []),
             "--config", os.path.join(self.workdir, "mxgate.toml")],
            capture_output=True, text=True, timeout=60, cwd=self.workdir)
        if created.returncode != 0:
            raise rb.BenchError(f"credentials add failed: {created.stderr.strip()}")
        answer = json.loads(created.stdout)
        self.user, self.secret = answer["username"], answer["secret"]

    def credentials(self):
        return self.user, self.secret


def generate(generator, server, count, label):
    user, secret = server.credentials()
    argv = [generator, "--mode", "http" if server.name == "api" else "smtp", "--port", str(server.port),
            "--tls", "none" if server.name == "api" else "starttls", "--user", user, "--secret", secret,
            "--from", SENDER, "--to", RECIPIENT, "--count", str(count), "--sessions", str(SESSIONS),
            "--size", str(SIZE)]
    return rb.Child(argv, os.path.join(server.workdir, f"{label}.json"),
                    os.path.join(server.workdir, f"{label}.err"))


def start_sink(server, label, count, dump=None):
    argv = [rb.tool("smtp-sink"), "-c", "-u", "postfix", "-M", str(count)]
    if dump:
        argv += ["-D", dump]
    argv += [f"{SINK_ADDRESS}:{server.sink_port}", "256"]
    sink = rb.Child(argv, os.path.join(server.workdir, f"{label}.out"), os.path.join(server.workdir, f"{label}.err"))
    if not rb.wait_port(server.sink_port, 10.0, sink.running, host=SINK_ADDRESS):
        sink.stop()
        raise rb.BenchError(f"smtp-sink did not listen: {sink.stderr_text()}")
    return sink


def check_signatures(dump_dir):
    """Both signatures on the warm-up messages: the subjects do the same work."""
    text = ""
    for name in os.listdir(dump_dir):
        with open(os.path.join(dump_dir, name), "r", encoding="utf-8", errors="replace") as f:
            text += f.read()
    for algorithm in ("a=rsa-sha256", "a=ed25519-sha256"):
        if algorithm not in text:
            raise rb.BenchError(f"the warm-up messages carry no {algorithm} signature")


def run(server, generator, count, warmup):
    result = {"server": server.name, "messages": count, "ok": False}
    dump_dir = os.path.join(server.workdir, "dump")
    os.makedirs(dump_dir)
    shutil.chown(dump_dir, user="postfix")  # smtp-sink -u postfix writes it
    dump = os.path.join(dump_dir, "warmup")
    sink = start_sink(server, "sink-warmup", warmup, dump)
    source = generate(generator, server, warmup, "warmup")
    failure = rb.wait_for_sink(sink, source, 120.0, False)
    if failure is not None:
        raise rb.BenchError(f"warm-up: {failure}: {source.stderr_text()} {open(source.stdout_path).read()}")
    source.wait(30.0)
    check_signatures(dump_dir)
    sink = start_sink(server, "sink", count)
    sampler = rb.MemorySampler(server.roots)
    sampler.start()
    cpu_before = rb.tree_cpu_seconds(server.roots())
    t0 = time.monotonic()
    source = generate(generator, server, count, "source")
    failure = rb.wait_for_sink(sink, source, rb.sink_timeout(count), False)
    t1 = sink.ended if failure is None else time.monotonic()
    cpu = rb.tree_cpu_seconds(server.roots()) - cpu_before
    sampler.finish()
    source.wait(60.0)
    try:
        with open(source.stdout_path, "r", encoding="utf-8") as f:
            generated = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        generated = {}
    result["generator"] = generated
    if failure is not None:
        result["error"] = f"{failure}: sink got {rb.sink_message_count(sink)} of {count}; {generated}"
        sink.stop()
        return result
    result.update(ok=True, e2e_rate=round(count / (t1 - t0), 1),
                  accept_rate=round(count / generated["seconds"], 1) if generated.get("seconds") else None,
                  cpu_us_per_msg=round(cpu * 1e6 / count, 1), peak_pss_mb=round(sampler.peak_pss_kb / 1024, 1),
                  p50_ms=generated.get("p50_ms"), p99_ms=generated.get("p99_ms"))
    return result


def subject(kind, opts, keys, generator):
    workdir = tempfile.mkdtemp(prefix=f"outbound-bench-{kind}-", dir=opts.workdir)
    os.chmod(workdir, 0o755)
    sink_port = rb.free_port()
    server = (PostfixDkim(workdir, sink_port, keys, opts.postfix_maillog) if kind == "postfix"
              else MxgateOutbound(workdir, sink_port, opts.mxgate, keys, api=kind == "api"))
    try:
        server.start()
        rb.log(f"{server.label}: {opts.messages} messages, {SESSIONS} sessions, {SIZE // 1024} KiB")
        result = run(server, generator, opts.messages, opts.warmup)
    except (rb.BenchError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        result = {"server": kind, "ok": False, "error": str(exc)}
    finally:
        server.stop()
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rb.log(f"  {json.dumps(result)}")
    return result


def report(results, opts):
    labels = {"postfix": "Postfix + OpenDKIM (milter)", "mxgate": "mxgate, SMTP submission",
              "api": "mxgate, HTTP API"}
    rows = ["| subject | e2e msgs/s | accepted msgs/s | server CPU µs/msg | peak PSS MB | 250/202 p50 / p99 ms "
            "| vs Postfix |", "|---|---:|---:|---:|---:|---|---:|"]
    postfix = next((r for r in results if r["server"] == "postfix" and r.get("ok")), None)
    for res in results:
        if not res.get("ok"):
            rows.append(f"| {labels[res['server']]} | FAILED: {str(res.get('error'))[:160]} | | | | | |")
            continue
        ratio = rb.fmt_ratio(res["e2e_rate"], postfix["e2e_rate"]) if postfix else "-"
        rows.append(f"| {labels[res['server']]} | {rb.fmt_num(res['e2e_rate'])} | {rb.fmt_num(res['accept_rate'])} "
                    f"| {rb.fmt_num(res['cpu_us_per_msg'])} | {res['peak_pss_mb']:.0f} "
                    f"| {rb.fmt_ms(res['p50_ms'])} / {rb.fmt_ms(res['p99_ms'])} | {ratio} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", default="postfix,mxgate,api", help="comma list of postfix, mxgate, api")
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--mxgate", default=os.path.join(rb.REPO_ROOT, "build", "src", "app", "mxgate"))
    parser.add_argument("--workdir", default="/var/tmp")
    parser.add_argument("--json")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--postfix-maillog", action="store_true", help="Postfix logs to <workdir>/maillog")
    opts = parser.parse_args()
    if not os.access(opts.mxgate, os.X_OK):
        sys.exit(f"mxgate binary not found: {opts.mxgate}")
    ensure_packages()
    common = tempfile.mkdtemp(prefix="outbound-bench-keys-", dir=opts.workdir)
    os.chmod(common, 0o755)
    try:
        keys = make_keys(opts.mxgate, common)
        generator = build_generator(common)
        results = [subject(kind, opts, keys, generator) for kind in opts.only.split(",")]
    finally:
        shutil.rmtree(common, ignore_errors=True)
    print(f"\n{datetime.datetime.now().isoformat(timespec='seconds')} {platform.node()} "
          f"load {os.getloadavg()[0]:.2f}, N = {opts.messages}, {SESSIONS} sessions, {SIZE // 1024} KiB\n")
    print(report(results, opts))
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
