"""Integration-test harness: runs the real mxgate binary on loopback against real peers.

Gateway writes a node config and tenant policies into a temporary directory, starts
`mxgate run`, waits until the SMTP and admin ports accept connections, and stops it (TERM or
KILL). RecordingSink is an aiosmtpd SMTP server that records every message it accepts (and can
be told to defer, reject or hang). Ports are chosen by binding port 0; everything listens on
127.0.0.1. Run with Debian's /usr/bin/python3 (aiosmtpd, yaml, dkim, spf live there).
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from aiosmtpd.controller import Controller

MXGATE = os.environ.get("MXGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/app/mxgate"))


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_until(predicate, timeout=30.0, interval=0.05):
    """Polls predicate() until it is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def render_toml(sections):
    """sections: {"node": {...}, "listener": [{...}, ...], ...} -> TOML text."""
    lines = []
    for name, body in sections.items():
        if isinstance(body, list):
            for table in body:
                lines.append(f"[[{name}]]")
                lines.extend(f"{k} = {toml_value(v)}" for k, v in table.items())
                lines.append("")
        else:
            lines.append(f"[{name}]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in body.items())
            lines.append("")
    return "\n".join(lines)


class Gateway:
    """One mxgate node in a temporary directory.

    tenants: {tenant_id: {"domains": [...], "delivery": {...}}}; by default one tenant
    "example" owning example.test and delivering to files in <dir>/inbox.
    overrides: extra keys per section, e.g. {"smtp": {"max_recipients": 100}}.
    """

    def __init__(self, tenants=None, overrides=None, listeners=None, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="mxgate-it-")
        self.smtp_port = free_port()
        self.submission_port = free_port()
        self.admin_port = free_port()
        self.spool = os.path.join(self.dir, "queue")
        self.inbox = os.path.join(self.dir, "inbox")
        self.policies = os.path.join(self.dir, "policies")
        self.log_path = os.path.join(self.dir, "mxgate.log")
        self.config_path = os.path.join(self.dir, "mxgate.toml")
        self.process = None
        self.tenants = tenants or {
            "example": {"domains": ["example.test"], "delivery": {"target": "file", "path": self.inbox}}
        }
        self.listeners = listeners or [
            {"name": "inbound", "role": "inbound", "address": "127.0.0.1", "port": self.smtp_port, "tls": "starttls"},
            {"name": "submission", "role": "submission", "address": "127.0.0.1", "port": self.submission_port,
             "tls": "starttls"},
        ]
        self.overrides = overrides or {}
        self.write_config()

    def write_config(self):
        sections = {
            "node": {"hostname": "mx.test.mxgate", "policies": self.policies, "workers": 2,
                     "postmaster": "postmaster@" + next(iter(self.tenants.values()))["domains"][0]},
            "log": {"level": "info", "file": self.log_path},
            "listener": self.listeners,
            "spool": {"path": self.spool},
            "queue": {"retry_initial": "1s", "retry_max": "2s"},
            "admin": {"address": "127.0.0.1", "port": self.admin_port},
        }
        for section, values in self.overrides.items():
            sections.setdefault(section, {}).update(values)
        with open(self.config_path, "w") as f:
            f.write(render_toml(sections))
        os.makedirs(self.policies, exist_ok=True)
        for name in os.listdir(self.policies):
            os.unlink(os.path.join(self.policies, name))
        for tenant, spec in self.tenants.items():
            text = f"tenant = {toml_value(tenant)}\ndomains = {toml_value(spec['domains'])}\n\n"
            text += render_toml({"delivery": spec["delivery"]})
            with open(os.path.join(self.policies, tenant + ".toml"), "w") as f:
                f.write(text)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=20.0):
        self.process = subprocess.Popen([MXGATE, "run", "--config", self.config_path], cwd=self.dir,
                                        stdout=subprocess.DEVNULL, stderr=open(self.log_path + ".stderr", "ab"))
        if not (wait_port(self.smtp_port, timeout) and wait_port(self.admin_port, timeout)):
            self.stop(kill=True)
            raise RuntimeError("mxgate did not start; log:\n" + self.log())
        return self

    def stop(self, kill=False, timeout=30.0):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def reload(self):
        self.process.send_signal(signal.SIGHUP)

    def cleanup(self):
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- clients ---------------------------------------------------------------------------

    def smtp(self, port=None, timeout=30):
        client = smtplib.SMTP("127.0.0.1", port or self.smtp_port, timeout=timeout)
        return client

    def raw(self, port=None, timeout=10):
        """A RawSession connected to the inbound listener, greeting already read."""
        return RawSession(port or self.smtp_port, timeout)

    def admin(self, path, method="GET", token=True):
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", method=method)
        if token:
            request.add_header("Authorization", "Bearer " + self.token())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            body = error.read().decode()
            status = error.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def token(self):
        with open(os.path.join(self.spool, "admin.token")) as f:
            return f.read().strip()

    def cli(self, *args):
        return subprocess.run([MXGATE, *args, "--config", self.config_path], cwd=self.dir, capture_output=True,
                              text=True, timeout=60)

    def metric(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
        return None

    def inbox_files(self):
        if not os.path.isdir(self.inbox):
            return []
        return sorted(name for name in os.listdir(self.inbox) if name.endswith(".eml"))

    def inbox_messages(self):
        messages = []
        for name in self.inbox_files():
            with open(os.path.join(self.inbox, name), "rb") as f:
                messages.append(f.read())
        return messages


class RawSession:
    """A byte-level SMTP client: send exactly what a test says, read replies as they come."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """Reads one complete (possibly multi-line) reply; returns (code, text) or (None, b'') at EOF."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return (None, b"\r\n".join(lines))
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] == b" ":
                return (int(line[:3]), b"\r\n".join(lines))

    def command(self, data):
        self.send(data)
        return self.reply()

    def closed(self, timeout=5.0):
        """True when the server closed the connection (after any pending replies)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


class _Recorder:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.sink.rcpt_mode(address)
        if mode:
            return mode
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        if self.sink.data_reply:
            return self.sink.data_reply
        with self.sink.lock:
            self.sink.messages.append(
                {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "data": envelope.original_content})
        return "250 2.0.0 OK recorded"


class RecordingSink:
    """An aiosmtpd server on a free loopback port that records what it receives.

    data_reply: e.g. "451 4.3.0 try later" or "550 5.1.1 no" to refuse at end of data.
    rcpt_replies: {address: reply} to refuse particular recipients at RCPT.
    """

    def __init__(self, data_reply=None, rcpt_replies=None, delay=0.0, starttls_context=None):
        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        self.data_reply = data_reply
        self.rcpt_replies = rcpt_replies or {}
        self.delay = delay
        self.controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port,
                                     server_kwargs={"decode_data": False, "tls_context": starttls_context,
                                                    "require_starttls": False})

    def rcpt_mode(self, address):
        return self.rcpt_replies.get(address)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def count(self):
        with self.lock:
            return len(self.messages)


def smtp_tenant(port, **extra):
    """A tenant delivery block relaying to a sink on 127.0.0.1:port."""
    delivery = {"target": "smtp", "host": "127.0.0.1", "port": port, "tls": "none", "max_connections": 4}
    delivery.update(extra)
    return delivery


def make_message(subject="test", body="hello\r\n", sender="sender@remote.example", to="user@example.test",
                 extra_headers=""):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{time.time_ns()}@remote.example>\r\n"
            f"{extra_headers}\r\n{body}").encode()
