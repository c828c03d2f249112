#!/usr/bin/python3
# Relay benchmark: smtp-source -> server under test on 127.0.0.1 -> smtp-sink, for
# three subjects per scenario: "sink" (smtp-source straight into smtp-sink, the
# loopback ceiling), a private Postfix instance, and mxgate.  Implements the method
# of shared/research/perf-anchors.md: end-to-end rate until the sink has the N-th
# message, server CPU and peak PSS over the whole process tree, and end-of-DATA ->
# reply latency (RFC 5321 4.1.1.4) at full load (closed loop) and at a steady rate
# (open loop).  Single-threaded driver plus one sampler thread (PSS every 100 ms)
# and one waiter thread per child process.  See bench/README.md.

import argparse
import datetime
import json
import os
import platform
import pty
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
SBIN_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_S = 0.1
SENDER = "from@bench.example"
MAIN_DOMAIN = "bench.example"
LATENCY_DOMAIN = "latency.example"
POSTFIX_STOP_WAIT_S = 15.0
MXGATE_STOP_WAIT_S = 30.0
SERVER_START_WAIT_S = 30.0
DRAIN_WAIT_S = 120.0
# Every generator connects from 127.0.0.1; like Postfix's
# smtpd_client_connection_count_limit = 0, lift mxgate's per-IP limit (default 50).
MXGATE_MAX_CONNECTIONS_PER_IP = 1000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tool(name):
    found = shutil.which(name, path=os.pathsep.join(SBIN_DIRS + [os.environ.get("PATH", "")]))
    if found is None:
        raise BenchError(f"{name} not found")
    return found


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- tools


def ensure_tools():
    """Installs Debian's postfix package (smtp-source, smtp-sink) when missing."""
    names = ["postfix", "postconf", "postqueue", "smtp-source", "smtp-sink"]
    missing = [n for n in names if shutil.which(n, path=os.pathsep.join(SBIN_DIRS)) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"missing {', '.join(missing)}; install the postfix package as root")
    log(f"installing postfix (missing: {', '.join(missing)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(
        ["debconf-set-selections"],
        input="postfix postfix/main_mailer_type select No configuration\n",
        text=True,
        check=True,
    )
    install = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=600", "postfix"]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    # The package's own instance is never used; stop it if its install started it.
    status = subprocess.run([tool("postfix"), "status"], capture_output=True)
    if status.returncode == 0:
        subprocess.run([tool("postfix"), "stop"], capture_output=True)


# ---------------------------------------------------------------- processes


class Child:
    """A child process with a waiter thread that records exit time and rusage."""

    def __init__(self, argv, stdout_path, stderr_path, cwd=None):
        self.argv = argv
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                start_new_session=True,
            )
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.ended = None
        self.status = None
        self.rusage = None
        self._done = threading.Event()
        threading.Thread(target=self._wait, daemon=True).start()
        LIVE_CHILDREN.add(self)

    def _wait(self):
        _, status, rusage = os.wait4(self.pid, 0)
        self.ended = time.monotonic()
        self.status = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.status
        self.rusage = rusage
        self._done.set()
        LIVE_CHILDREN.discard(self)

    def wait(self, timeout):
        return self._done.wait(timeout)

    def running(self):
        return not self._done.is_set()

    def signal(self, sig):
        if self.running():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace_s=2.0):
        self.signal(signal.SIGTERM)
        if not self.wait(grace_s):
            self.signal(signal.SIGKILL)
            self.wait(5.0)

    def cpu_seconds(self):
        return self.rusage.ru_utime + self.rusage.ru_stime if self.rusage else None

    def stderr_text(self, limit=400):
        try:
            with open(self.stderr_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()[-limit:].strip()
        except OSError:
            return ""


LIVE_CHILDREN = set()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, timeout_s, alive=lambda: True, host="127.0.0.1"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port, host):
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False


def run_on_tty(argv, timeout):
    """Runs a command with stdout/stderr on a pseudo-terminal (Postfix commands print
    their errors only to a terminal, otherwise only to syslog); returns (status, output)."""
    master, slave = pty.openpty()
    chunks = []

    def reader():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        status = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                timeout=timeout).returncode
    finally:
        os.close(slave)
        thread.join(5.0)
        os.close(master)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n").strip()


def read_stat(pid):
    """Returns (ppid, utime+stime+cutime+cstime ticks) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    # fields[0] is field 3 (state) of proc(5): ppid=4, utime=14, stime=15, cutime=16, cstime=17.
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def process_tree(roots):
    """All live pids in the trees under `roots`, by scanning /proc for parent links."""
    roots = [r for r in roots if r]
    if not roots:
        return []
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = read_stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    seen, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children.get(pid, []))
    return seen


def tree_cpu_seconds(roots):
    """utime+stime of every live process plus cutime+cstime (reaped descendants)."""
    ticks = 0
    for pid in process_tree(roots):
        st = read_stat(pid)
        if st is not None:
            ticks += st[1]
    return ticks / CLK_TCK


def memory_kb(pid):
    """(Pss, Rss) in kB from smaps_rollup; (0, 0) when the process is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "r", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return pss, rss


class MemorySampler(threading.Thread):
    """Samples summed PSS/RSS of the process trees under roots() every 100 ms."""

    def __init__(self, roots):
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_pss_kb = 0
        self.peak_rss_kb = 0
        self.peak_procs = 0
        self._stop_event = threading.Event()

    def sample(self):
        pids = process_tree(self.roots())
        pss = rss = 0
        for pid in pids:
            p, r = memory_kb(pid)
            pss += p
            rss += r
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_procs = max(self.peak_procs, len(pids))

    def run(self):
        self.sample()
        while not self._stop_event.wait(SAMPLE_INTERVAL_S):
            self.sample()

    def finish(self):
        self._stop_event.set()
        self.join(5.0)


# ---------------------------------------------------------------- sink and generator


def start_sink(workdir, port, label, count=None):
    """smtp-sink on 127.0.0.1:port; with count it exits after that many messages.
    -c writes running counters to its stdout file, read only when a run times out."""
    argv = [tool("smtp-sink"), "-c"]
    if os.geteuid() == 0:
        argv += ["-u", "postfix"]
    if count is not None:
        argv += ["-M", str(count)]
    argv += [f"127.0.0.1:{port}", "256"]
    sink = Child(argv, os.path.join(workdir, f"{label}.out"), os.path.join(workdir, f"{label}.err"))
    if not wait_port(port, 10.0, sink.running):
        sink.stop()
        raise BenchError(f"smtp-sink did not listen on {port}: {sink.stderr_text()}")
    return sink


def sink_message_count(sink):
    """The last 'mesg=K' counter smtp-sink -c printed."""
    try:
        with open(sink.stdout_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 512))
            tail = f.read().decode("ascii", "replace")
    except OSError:
        return 0
    marks = [part for part in tail.replace("\r", " ").split() if part.startswith("mesg=")]
    return int(marks[-1][5:]) if marks else 0


def start_source(workdir, label, port, count, size, sessions, domain):
    argv = [
        tool("smtp-source"), "-s", str(sessions), "-m", str(count), "-l", str(size),
        "-M", "client.bench.example", "-f", SENDER, "-t", f"rcpt@{domain}",
        f"127.0.0.1:{port}",
    ]
    return Child(argv, os.path.join(workdir, f"{label}.out"), os.path.join(workdir, f"{label}.err"))


def start_latency_client(workdir, label, port, mode, count, size, rcpt_domain, rate=None):
    out = os.path.join(workdir, f"{label}.json")
    argv = [
        "/usr/bin/python3", os.path.join(BENCH_DIR, "latency_client.py"),
        "--port", str(port), "--mode", mode, "--count", str(count), "--size", str(size),
        "--rcpt", f"rcpt@{rcpt_domain}", "--out", out,
    ]
    if rate is not None:
        argv += ["--rate", str(rate)]
    child = Child(argv, os.path.join(workdir, f"{label}.stdout"),
                  os.path.join(workdir, f"{label}.err"))
    child.result_path = out
    return child


def latency_result(child, timeout_s):
    if not child.wait(timeout_s):
        child.stop()
    try:
        with open(child.result_path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {"ok": 0, "errors": None, "first_error": child.stderr_text() or "no result"}
    data.pop("samples_ms", None)
    return data


# ---------------------------------------------------------------- servers


class SinkOnly:
    """No server: the generator talks to smtp-sink directly (the loopback ceiling)."""

    name = "sink"
    label = "sink direct"

    def __init__(self, workdir, sink_port, side_port):
        self.workdir = workdir
        self.sink_port = sink_port
        self.side_port = side_port

    def start(self):
        pass

    @property
    def port(self):
        return self.sink_port

    @property
    def latency_port(self):
        return self.side_port

    def roots(self):
        return []

    def drain(self):
        return None

    def stop(self):
        pass


POSTFIX_MASTER_CF = """\
# Private benchmark instance: no chroot, no local delivery.
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixServer:
    """A private Postfix instance in its own config/queue/data directories."""

    name = "postfix"
    label = "Postfix"

    def __init__(self, workdir, sink_port, side_port, maillog):
        self.workdir = workdir
        self.sink_port = sink_port
        self.side_port = side_port
        self.smtpd_port = free_port()
        self.config_dir = os.path.join(workdir, "etc")
        self.queue_dir = os.path.join(workdir, "spool")
        self.maillog = maillog
        self.master_pid = None
        self.started = False

    @property
    def port(self):
        return self.smtpd_port

    @property
    def latency_port(self):
        return self.smtpd_port

    def _write_config(self):
        os.makedirs(self.config_dir, mode=0o755)
        lines = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue_dir}",
            f"data_directory = {os.path.join(self.workdir, 'data')}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = bench.postfix.test",
            "mydomain = postfix.test",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mydestination =",
            "local_recipient_maps =",
            "alias_maps =",
            "alias_database =",
            f"relayhost = [127.0.0.1]:{self.sink_port}",
            f"transport_maps = inline:{{ {LATENCY_DOMAIN}=smtp:[127.0.0.1]:{self.side_port} }}",
            "mynetworks = 127.0.0.0/8",
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
            "local_transport = error:local delivery disabled",
            "smtpd_client_connection_count_limit = 0",
            "smtpd_client_connection_rate_limit = 0",
            "smtpd_client_message_rate_limit = 0",
            "default_process_limit = 200",
            "smtp_destination_concurrency_limit = 20",
            "biff = no",
            "append_dot_mydomain = no",
        ]
        if self.maillog:
            lines.append(f"maillog_file = {os.path.join(self.workdir, 'maillog')}")
        with open(os.path.join(self.config_dir, "main.cf"), "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.config_dir, "master.cf"), "w", encoding="ascii") as f:
            f.write(POSTFIX_MASTER_CF.format(port=self.smtpd_port))

    def _postfix(self, *args, check=True, timeout=120):
        status, output = run_on_tty([tool("postfix"), "-c", self.config_dir, *args], timeout)
        if check and status != 0:
            raise BenchError(f"postfix {' '.join(args)} failed: {output[-600:]}")

    def start(self):
        self._write_config()
        os.makedirs(self.queue_dir, mode=0o755)
        self._postfix("check")
        self.started = True
        self._postfix("start")
        pid_file = os.path.join(self.queue_dir, "pid", "master.pid")
        deadline = time.monotonic() + SERVER_START_WAIT_S
        while self.master_pid is None and time.monotonic() < deadline:
            try:
                with open(pid_file, "r", encoding="ascii") as f:
                    self.master_pid = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.1)
        if self.master_pid is None or not wait_port(self.smtpd_port, SERVER_START_WAIT_S):
            raise BenchError("Postfix did not start listening")

    def roots(self):
        return [self.master_pid]

    def queue_size(self):
        res = subprocess.run(
            [tool("postqueue"), "-c", self.config_dir, "-p"], capture_output=True, text=True, timeout=60
        )
        text = res.stdout.strip()
        if "Mail queue is empty" in text:
            return 0
        last = text.splitlines()[-1] if text else ""
        # "-- 12 Kbytes in 3 Requests."
        parts = last.split()
        if len(parts) >= 6 and parts[0] == "--" and parts[5].startswith("Request"):
            return int(parts[4])
        raise BenchError(f"cannot read postqueue -p output: {text[-300:]}")

    def drain(self):
        """Delivers what is left (the message smtp-sink -M never acknowledged) into a
        throw-away sink, and checks the queue is empty.  Returns the messages drained."""
        left = self.queue_size()
        if left == 0:
            return 0
        sink = start_sink(self.workdir, self.sink_port, "drain-sink")
        try:
            deadline = time.monotonic() + DRAIN_WAIT_S
            next_flush = 0.0
            while self.queue_size() > 0:
                now = time.monotonic()
                if now > deadline:
                    raise BenchError(f"Postfix queue did not drain: {self.queue_size()} left")
                # The message may still be in the active queue at the first flush and be
                # deferred (minimal_backoff_time 300 s) right after: flush again.
                if now >= next_flush:
                    subprocess.run([tool("postqueue"), "-c", self.config_dir, "-f"],
                                   capture_output=True, timeout=60)
                    next_flush = now + 2.0
                time.sleep(0.25)
        finally:
            sink.stop()
        return left

    def stop(self):
        if not self.started:
            return
        leftovers = process_tree(self.roots())
        self._postfix("stop", check=False, timeout=60)
        deadline = time.monotonic() + POSTFIX_STOP_WAIT_S
        while time.monotonic() < deadline and any(read_stat(p) for p in leftovers):
            time.sleep(0.1)
        for pid in leftovers:
            if read_stat(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False


def mxgate_node_config(workdir, smtpd_port, admin_port, auth_checks):
    """The node file every mxgate subject starts from: one inbound listener without TLS, the
    spool and policies under workdir (the policies directory is created), quiet logs."""
    policies = os.path.join(workdir, "policies")
    os.makedirs(policies)
    return f"""[node]
hostname = "bench.mxgate.test"
policies = "{policies}"
[log]
level = "warn"
[[listener]]
name = "inbound"
role = "inbound"
address = "127.0.0.1"
port = {smtpd_port}
tls = "none"
auth_checks = {"true" if auth_checks else "false"}
[spool]
path = "{os.path.join(workdir, 'queue')}"
[admin]
port = {admin_port}
[smtp]
max_connections_per_ip = {MXGATE_MAX_CONNECTIONS_PER_IP}
"""


class MxgateServer:
    """mxgate with a generated config: one inbound listener, one tenant relaying to the sink."""

    def __init__(self, workdir, sink_port, side_port, binary, checks=None):
        """checks: None for a plain relay (auth_checks off, no scanning), else the shared
        corpora directory: SPF, DKIM and DMARC against a local DNS server fed from
        CHECKS_ZONE, and ClamAV with the corpus's test signatures after the commit."""
        self.workdir = workdir
        self.sink_port = sink_port
        self.side_port = side_port
        self.binary = binary
        self.checks = checks
        self.name = "mxgate-checks" if checks else "mxgate"
        self.label = "mxgate (checks)" if checks else "mxgate"
        self.smtpd_port = free_port()
        self.admin_port = free_port()
        self.child = None
        self.dns = None

    @property
    def port(self):
        return self.smtpd_port

    @property
    def latency_port(self):
        return self.smtpd_port

    def _write_config(self):
        policies = os.path.join(self.workdir, "policies")
        config = mxgate_node_config(self.workdir, self.smtpd_port, self.admin_port, bool(self.checks))
        if self.checks:
            signatures = os.path.join(self.workdir, "signatures")
            os.makedirs(signatures)
            for name in ("test-signatures.hdb", "eicar.ndb"):
                shutil.copy(os.path.join(self.checks, "clamav", name), signatures)
            config += f"""[dns]
servers = ["127.0.0.1:{self.dns.port}"]
[scan]
signatures = "{signatures}"
threads = 2
temp_dir = "/dev/shm"
"""
        with open(os.path.join(self.workdir, "mxgate.toml"), "w", encoding="utf-8") as f:
            f.write(config)
        for tenant, domain, port, conns in (
            ("bench", MAIN_DOMAIN, self.sink_port, 20),
            ("latency", LATENCY_DOMAIN, self.side_port, 4),
        ):
            with open(os.path.join(policies, f"{tenant}.toml"), "w", encoding="utf-8") as f:
                f.write(f"""tenant = "{tenant}"
domains = ["{domain}"]
[delivery]
target = "smtp"
host = "127.0.0.1"
port = {port}
max_connections = {conns}
tls = "none"
""")

    def start(self):
        if self.checks:
            self.dns = DnsProcess(self.workdir, CHECKS_ZONE)
        self._write_config()
        self.child = Child(
            [self.binary, "run", "--config", os.path.join(self.workdir, "mxgate.toml")],
            os.path.join(self.workdir, "mxgate.stdout"),
            os.path.join(self.workdir, "mxgate.stderr"),
            cwd=self.workdir,
        )
        if not wait_port(self.smtpd_port, SERVER_START_WAIT_S, self.child.running):
            why = "exited with status %s" % self.child.status if not self.child.running() else "timed out"
            raise BenchError(f"mxgate did not start listening ({why}): {self.child.stderr_text()}")

    def roots(self):
        return [self.child.pid] if self.child and self.child.running() else []

    def drain(self):
        return None

    def stop(self):
        if self.child is None:
            return
        self.child.signal(signal.SIGTERM)
        if not self.child.wait(MXGATE_STOP_WAIT_S):
            log("mxgate did not stop within 30 s of SIGTERM; killing it")
            self.child.signal(signal.SIGKILL)
            self.child.wait(5.0)
        self.child = None
        if self.dns is not None:
            self.dns.stop()
            self.dns = None


# The sender domains' DNS for the checks subject: SPF passes for loopback, DMARC is published
# (p=none, so nothing is refused or quarantined) and aligned through SPF.
CHECKS_ZONE = {
    domain: records
    for name in ("bench.example", "latency.example")
    for domain, records in (
        (name, [{"type": "TXT", "value": "v=spf1 ip4:127.0.0.0/8 -all"}]),
        ("_dmarc." + name, [{"type": "TXT", "value": "v=DMARC1; p=none"}]),
    )
}


class DnsProcess:
    """tests/integration/dns_server.py in its own process (its CPU is not the server's)."""

    def __init__(self, workdir, zone):
        zone_path = os.path.join(workdir, "zone.json")
        with open(zone_path, "w", encoding="utf-8") as f:
            json.dump(zone, f)
        script = os.path.join(REPO_ROOT, "tests", "integration", "dns_server.py")
        self.process = subprocess.Popen(["/usr/bin/python3", script, "--zone", zone_path, "--watch-stdin"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.stop()
            raise BenchError(f"the DNS server did not start: {line}")
        self.port = int(line[1])

    def stop(self):
        self.process.stdin.close()  # EOF: --watch-stdin stops the server cleanly
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------- runs


class Scenario:
    def __init__(self, key, title, size, sessions=None, messages=None, rate=None, seconds=None):
        self.key = key
        self.title = title
        self.size = size
        self.sessions = sessions
        self.messages = messages
        self.rate = rate
        self.seconds = seconds

    @property
    def steady(self):
        return self.rate is not None

    def count(self):
        return int(self.rate * self.seconds) if self.steady else self.messages


def sink_timeout(count):
    return max(120.0, count / 100.0)


def wait_for_sink(sink, source, limit, direct):
    """Waits until the sink has its N messages.  Returns None then, otherwise why not:
    `limit` seconds passed, smtp-source failed with a server in between (the sink would
    never get its N messages), or the sink died (only -M N makes it exit with 0)."""
    deadline = time.monotonic() + limit
    while not sink.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            return f"timeout after {limit:.0f} s"
        if source is not None and not direct and not source.running() and source.status != 0:
            if not sink.wait(1.0):
                return f"smtp-source failed ({source.stderr_text(200)})"
    if sink.status != 0:
        return f"smtp-sink died with status {sink.status} ({sink.stderr_text(200) or 'no message'})"
    return None


def measured_run(server, scen, opts, run_no):
    """One measured run; returns a result dict (ok False with the reason on failure)."""
    workdir = server.workdir
    count = scen.count()
    tag = f"{scen.key}-run{run_no}"
    res = {"server": server.name, "scenario": scen.key, "run": run_no, "messages": count, "ok": False,
           "loadavg_before": os.getloadavg()[0]}
    limit = max(120.0, 3 * scen.seconds) if scen.steady else sink_timeout(count)
    sink = start_sink(workdir, server.sink_port, f"sink-{tag}", count)
    sampler = MemorySampler(lambda: server.roots() or [sink.pid])
    source = latency = None
    try:
        sampler.start()
        cpu_before = tree_cpu_seconds(server.roots())
        t0 = time.monotonic()
        if scen.steady:
            latency = start_latency_client(workdir, f"latency-{tag}", server.port, "open", count,
                                           scen.size, MAIN_DOMAIN, rate=scen.rate)
        else:
            source = start_source(workdir, f"source-{tag}", server.port, count, scen.size,
                                  scen.sessions, MAIN_DOMAIN)
            if opts.latency_count > 0:
                latency = start_latency_client(workdir, f"latency-{tag}", server.latency_port,
                                               "closed", opts.latency_count, scen.size, LATENCY_DOMAIN)
        failure = wait_for_sink(sink, source, limit, server.name == "sink")
        finished = failure is None
        t1 = sink.ended if finished else time.monotonic()
        cpu_after = tree_cpu_seconds(server.roots())
    except BaseException:
        for child in (source, latency, sink):
            if child is not None:
                child.stop(0.5)
        raise
    finally:
        sampler.finish()
    if not finished:
        res["error"] = f"{failure}: sink got {sink_message_count(sink)} of {count} messages"
        sink.stop()
    seconds = t1 - t0
    if latency is not None:
        latency.signal(signal.SIGTERM)
        res["latency"] = latency_result(latency, 90.0)
    if source is not None:
        if not source.wait(60.0 if finished else 0):
            source.stop()
            res.setdefault("error", "smtp-source did not finish within 60 s after the sink")
        res["generator_cpu_s"] = round(source.cpu_seconds() or 0, 3)
        res["generator_status"] = source.status
        # Direct into the sink, smtp-source always ends with "lost connection" (smtp-sink -M
        # exits before it answers the last message), so its end time means nothing there.
        if server.name != "sink" and source.ended is not None:
            res["accept_seconds"] = round(source.ended - t0, 3)
            res["accept_rate"] = round(count / (source.ended - t0), 1)
        if source.status not in (0, None) and server.name != "sink":
            res["generator_error"] = source.stderr_text(300)
    res["seconds"] = round(seconds, 3)
    res["sink_cpu_s"] = round(sink.cpu_seconds() or 0, 3)
    if server.name == "sink":
        cpu = sink.cpu_seconds() or 0.0
    else:
        cpu = cpu_after - cpu_before
    res["server_cpu_s"] = round(cpu, 3)
    res["peak_pss_mb"] = round(sampler.peak_pss_kb / 1024, 1)
    res["peak_rss_mb"] = round(sampler.peak_rss_kb / 1024, 1)
    res["peak_processes"] = sampler.peak_procs
    if finished and "error" not in res:
        res["ok"] = True
        res["e2e_rate"] = round(count / seconds, 1)
        res["cpu_us_per_msg"] = round(cpu * 1e6 / count, 1)
    try:
        drained = server.drain()
    except BenchError as exc:
        res["ok"] = False
        res["error"] = "; ".join(filter(None, [res.get("error"), str(exc)]))
        return res
    if drained is not None:
        res["drained_after"] = drained
    return res


def warm_up(server, scen, opts):
    if opts.warmup <= 0:
        return
    tag = f"{scen.key}-warmup"
    sink = start_sink(server.workdir, server.sink_port, f"sink-{tag}", opts.warmup)
    sessions = scen.sessions or 20
    source = start_source(server.workdir, f"source-{tag}", server.port, opts.warmup, scen.size,
                          sessions, MAIN_DOMAIN)
    failure = wait_for_sink(sink, source, 120.0, server.name == "sink")
    if failure is not None:
        got = sink_message_count(sink)
        sink.stop()
        source.stop()
        raise BenchError(f"warm-up: {failure}: sink got {got} of {opts.warmup} messages")
    if not source.wait(30.0):
        source.stop()
    server.drain()


def make_server(kind, opts, base):
    workdir = tempfile.mkdtemp(prefix=f"relay-bench-{kind}-", dir=base)
    os.chmod(workdir, 0o755)
    sink_port, side_port = free_port(), free_port()
    if kind == "sink":
        return SinkOnly(workdir, sink_port, side_port)
    if kind == "postfix":
        return PostfixServer(workdir, sink_port, side_port, opts.postfix_maillog)
    return MxgateServer(workdir, sink_port, side_port, opts.mxgate,
                        checks=opts.corpora if kind == "mxgate-checks" else None)


def run_subject(kind, scen, opts, base):
    """Fresh server for one scenario: start, side sink, warm-up, runs, stop, clean up."""
    server = make_server(kind, opts, base)
    side = None
    results = []
    try:
        side = start_sink(server.workdir, server.side_port, "side-sink")
        server.start()
        warm_up(server, scen, opts)
        for run_no in range(1, opts.repeat + 1):
            log(f"{server.label}: {scen.title}: run {run_no}/{opts.repeat} ({scen.count()} messages)")
            res = measured_run(server, scen, opts, run_no)
            results.append(res)
            log("  " + summary_line(res))
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        log(f"{server.label}: {scen.title}: FAILED: {exc}")
        results.append({"server": kind, "scenario": scen.key, "ok": False, "error": str(exc),
                        "messages": scen.count()})
    finally:
        server.stop()
        if side is not None:
            side.stop()
        if opts.keep:
            log(f"kept {server.workdir}")
        else:
            shutil.rmtree(server.workdir, ignore_errors=True)
    return results


def summary_line(res):
    if not res.get("ok"):
        return f"FAILED: {res.get('error', 'unknown')}"
    lat = res.get("latency") or {}
    accept = f"accept {res['accept_rate']} msg/s, " if res.get("accept_rate") else ""
    return (f"e2e {res['e2e_rate']} msg/s, {accept}"
            f"CPU {res['cpu_us_per_msg']} us/msg, peak PSS {res['peak_pss_mb']} MB, "
            f"latency p50/p99 {fmt_ms(lat.get('p50_ms'))}/{fmt_ms(lat.get('p99_ms'))} ms "
            f"(n={lat.get('ok', 0)})")


def pick_median(runs):
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return runs[-1] if runs else None
    ok.sort(key=lambda r: r["e2e_rate"])
    return ok[(len(ok) - 1) // 2]


# ---------------------------------------------------------------- report


def fmt_ms(v):
    return "-" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def fmt_num(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"×{a / b:.2f}"


def scenario_load(scen):
    if scen.steady:
        return f"steady {scen.rate:g} msgs/s × {scen.seconds:g} s, {scen.size // 1024} KiB"
    return f"{scen.size // 1024} KiB × {scen.sessions} sessions, N={scen.messages}"


def table(scenarios, chosen, opts):
    head = ("| server | load | e2e msgs/s | accept msgs/s | server CPU µs/msg | peak PSS MB "
            "| p50 / p99 ms (n) |")
    rows = [head, "|---|---|---:|---:|---:|---:|---|"]
    for scen in scenarios:
        by_server = {}
        for kind in opts.subjects:
            res = chosen.get((kind, scen.key))
            if res is None:
                continue
            by_server[kind] = res
            label = {"sink": "sink direct", "postfix": "Postfix", "mxgate": "mxgate",
                     "mxgate-checks": "mxgate (checks)"}[kind]
            if not res.get("ok"):
                error = " ".join(str(res.get("error", "")).split()).replace("|", "/")[:160]
                rows.append(f"| {label} | {scenario_load(scen)} | FAILED: {error} | | | | |")
                continue
            lat = res.get("latency") or {}
            lat_text = "-"
            if lat.get("ok"):
                lat_text = f"{fmt_ms(lat.get('p50_ms'))} / {fmt_ms(lat.get('p99_ms'))} ({lat['ok']})"
            rows.append(
                f"| {label} | {scenario_load(scen)} | {fmt_num(res['e2e_rate'])} "
                f"| {fmt_num(res.get('accept_rate'))} | {fmt_num(res['cpu_us_per_msg'])} "
                f"| {res['peak_pss_mb']:.0f} | {lat_text} |"
            )
        for top, bottom, title in (("mxgate", "postfix", "mxgate / Postfix"),
                                   ("mxgate-checks", "postfix", "mxgate (checks) / Postfix"),
                                   ("mxgate-checks", "mxgate", "mxgate (checks) / mxgate")):
            rows.extend(ratio_row(by_server.get(top), by_server.get(bottom), title, scen))
    return "\n".join(rows)


def ratio_row(mx, pf, title, scen):
    """The ratio row of two subjects of one scenario, or nothing if either is missing."""
    if not (mx and pf and mx.get("ok") and pf.get("ok")):
        return []
    mlat, plat = mx.get("latency") or {}, pf.get("latency") or {}
    return [
        f"| **{title}** | {scenario_load(scen)} "
        f"| {fmt_ratio(mx['e2e_rate'], pf['e2e_rate'])} "
        f"| {fmt_ratio(mx.get('accept_rate'), pf.get('accept_rate'))} "
        f"| {fmt_ratio(mx['cpu_us_per_msg'], pf['cpu_us_per_msg'])} "
        f"| {fmt_ratio(mx['peak_pss_mb'], pf['peak_pss_mb'])} "
        f"| {fmt_ratio(mlat.get('p50_ms'), plat.get('p50_ms'))} / "
        f"{fmt_ratio(mlat.get('p99_ms'), plat.get('p99_ms'))} |"
    ]


def first_line(path, prefix):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1]
    except OSError:
        pass
    return None


def filesystem_of(path):
    best, fstype, device = "", "?", "?"
    try:
        with open("/proc/mounts", "r", encoding="utf-8") as f:
            for line in f:
                dev, mnt, typ = line.split()[:3]
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype, device = mnt, typ, dev
    except OSError:
        pass
    return f"{fstype} ({device} on {best})"


def machine_info(opts, base):
    os_release = (first_line("/etc/os-release", "PRETTY_NAME") or "").strip('"\n ')
    postfix_version = subprocess.run(
        [tool("postconf"), "-d", "-h", "mail_version"], capture_output=True, text=True
    ).stdout.strip()
    mem_kb = int((first_line("/proc/meminfo", "MemTotal") or "0").split()[0])
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": first_line("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "os": os_release,
        "memory": f"{mem_kb / 1048576:.1f} GiB",
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "workdir_fs": filesystem_of(base),
        "postfix": postfix_version,
        "python": platform.python_version(),
    }
    if {"mxgate", "mxgate-checks"} & set(opts.subjects):
        info["mxgate_binary"] = opts.mxgate
        rev = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        info["repo_commit"] = rev.stdout.strip() or None
    return info


# ---------------------------------------------------------------- main


def build_scenarios(opts):
    four_k = opts.messages or (2000 if opts.quick else 20000)
    hundred_k = opts.messages or (2000 if opts.quick else 20000)
    all_scenarios = [
        Scenario("4k-20", "4 KiB x 20 sessions", 4096, sessions=20, messages=four_k),
        Scenario("4k-100", "4 KiB x 100 sessions", 4096, sessions=100, messages=four_k),
        Scenario("100k-20", "100 KiB x 20 sessions", 102400, sessions=20, messages=hundred_k),
        Scenario("steady", f"steady {opts.steady_rate:g} msgs/s for {opts.steady_seconds:g} s", 4096,
                 rate=opts.steady_rate, seconds=opts.steady_seconds),
    ]
    wanted = opts.scenarios.split(",") if opts.scenarios else [s.key for s in all_scenarios]
    unknown = set(wanted) - {s.key for s in all_scenarios}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return [s for s in all_scenarios if s.key in wanted]


def default_corpora():
    """Where the tests find the shared corpora: MXGATE_SHARED_DIR, beside the checkout, or
    this workplace's /work/shared."""
    for base in (os.environ.get("MXGATE_SHARED_DIR"), os.path.join(REPO_ROOT, "..", "shared"), "/work/shared"):
        if base and os.path.isdir(os.path.join(base, "corpora")):
            return os.path.abspath(os.path.join(base, "corpora"))
    return None


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Relay benchmark: smtp-source -> {smtp-sink | Postfix | mxgate} -> smtp-sink.")
    p.add_argument("--only", default="all",
                   help="all (default: sink, postfix, mxgate), or one or a comma list of "
                        "sink, postfix, mxgate, mxgate-checks (mxgate with SPF, DKIM, DMARC and "
                        "ClamAV on)")
    p.add_argument("--corpora", default=default_corpora(),
                   help="the shared corpora directory (ClamAV test signatures for mxgate-checks)")
    p.add_argument("--quick", action="store_true", help="smoke run: N=2000 per scenario")
    p.add_argument("--messages", type=int, help="N for every throughput scenario "
                   "(default 20000)")
    p.add_argument("--scenarios", help="comma list of 4k-20,4k-100,100k-20,steady (default all)")
    p.add_argument("--repeat", type=int, default=1, help="measured runs per scenario; the "
                   "table shows the median by e2e rate (default 1)")
    p.add_argument("--warmup", type=int, default=300, help="warm-up messages (default 300)")
    p.add_argument("--latency-count", type=int, default=200,
                   help="closed-loop latency probes during each throughput run (0 = off)")
    p.add_argument("--steady-rate", type=float, default=200.0, help="msgs/s (default 200)")
    p.add_argument("--steady-seconds", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--mxgate", default=os.path.join(REPO_ROOT, "build", "src", "app", "mxgate"),
                   help="mxgate binary (default: build/src/app/mxgate in the repo)")
    p.add_argument("--workdir", default="/var/tmp",
                   help="where temp dirs (queues, spools) go; use a real disk (default /var/tmp)")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep temp dirs (logs, configs)")
    p.add_argument("--postfix-maillog", action="store_true",
                   help="make Postfix log to <tmp>/maillog (costs CPU; for debugging)")
    opts = p.parse_args(argv)
    if opts.repeat < 1 or opts.warmup < 0 or opts.latency_count < 0:
        p.error("--repeat must be >= 1, --warmup and --latency-count >= 0")
    if opts.messages is not None and opts.messages < 1:
        p.error("--messages must be >= 1")
    if opts.steady_rate <= 0 or opts.steady_seconds <= 0:
        p.error("--steady-rate and --steady-seconds must be > 0")
    subjects = ["sink", "postfix", "mxgate", "mxgate-checks"]
    wanted = subjects[:3] if opts.only == "all" else opts.only.split(",")
    if not wanted or any(w not in subjects for w in wanted):
        p.error("--only takes all, or sink, postfix, mxgate, mxgate-checks (comma-separated)")
    if "mxgate-checks" in wanted and not os.path.isdir(os.path.join(opts.corpora or "", "clamav")):
        p.error("mxgate-checks needs --corpora (the shared corpora directory holding clamav/)")
    opts.subjects = [s for s in subjects if s in wanted]
    opts.mxgate = os.path.abspath(opts.mxgate)
    return opts


def terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    opts = parse_args(argv)
    scenarios = build_scenarios(opts)
    if {"mxgate", "mxgate-checks"} & set(opts.subjects) and not os.access(opts.mxgate, os.X_OK):
        print(f"error: mxgate binary not found or not executable: {opts.mxgate}\n"
              "build it first (cmake --build build) or pass --mxgate PATH, "
              "or use --only postfix|sink", file=sys.stderr)
        return 2
    base = os.path.abspath(opts.workdir)
    if not os.path.isdir(base):
        print(f"error: --workdir {base} is not a directory", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    command = shlex.join(["/usr/bin/python3", os.path.relpath(os.path.abspath(__file__), REPO_ROOT)]
                         + argv)
    all_results = []
    try:
        ensure_tools()
        info = machine_info(opts, base)
        log(f"machine: {info['nproc']} x {info['cpu_model']}, load {info['loadavg_at_start']}, "
            f"workdir {info['workdir_fs']}")
        for scen in scenarios:
            for kind in opts.subjects:
                all_results.extend(run_subject(kind, scen, opts, base))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in list(LIVE_CHILDREN):
            child.stop(0.5)
    chosen = {}
    for scen in scenarios:
        for kind in opts.subjects:
            runs = [r for r in all_results if r["server"] == kind and r["scenario"] == scen.key]
            if runs:
                chosen[(kind, scen.key)] = pick_median(runs)
    report = [
        f"Date: {info['date']}",
        f"Machine: {info['nproc']} CPUs, {info['cpu_model']}, {info['memory']} RAM, "
        f"kernel {info['kernel']}, {info['os']}",
        f"Load average at start: {info['loadavg_at_start']}; work dir on {info['workdir_fs']}",
        f"Postfix {info['postfix']}" + (f"; mxgate {info['mxgate_binary']}"
                                        f" (repo commit {info.get('repo_commit') or 'none'})"
                                        if "mxgate_binary" in info else ""),
        f"Command: `{command}`",
        "",
        table(scenarios, chosen, opts),
    ]
    loads = [r["loadavg_before"] for r in all_results if "loadavg_before" in r]
    if loads:
        report.insert(3, f"Load average (1 min) before the measured runs: {min(loads):.2f} to {max(loads):.2f}")
        if max(loads) > 0.5 * info["nproc"]:
            report.insert(4, "WARNING: the machine was busy with other work during the runs; "
                             "absolute figures are unreliable, compare ratios only.")
    if opts.repeat > 1:
        report.append(f"\nMedian of {opts.repeat} runs by e2e rate.")
    print("\n".join(report))
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({"command": command, "machine": info,
                       "scenarios": [vars(s) for s in scenarios],
                       "results": all_results,
                       "table": [chosen[k] for k in chosen]}, f, indent=2)
        log(f"wrote {opts.json}")
    return 0 if all(r.get("ok") for r in all_results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
