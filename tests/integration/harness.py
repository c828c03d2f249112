"""Integration-test harness: runs the real mxgate binary on loopback against real peers.

Gateway writes a node config and tenant policies into a temporary directory, starts
`mxgate run`, waits until its first listener and the admin port accept connections, and stops
it (TERM or KILL). Client is the one byte-level SMTP client of the suite: it writes exactly the
bytes a test gives it, reads replies as Reply objects (code, enhanced status code, lines),
upgrades to TLS (STARTTLS or implicit), reads until the server closes, and runs whole
MAIL/RCPT/DATA transactions (dot_stuff does the RFC 5321 transparency, queue_id reads the
"queued as" reply). RecordingSink is an aiosmtpd SMTP server that records every message it
accepts (and can be told to defer, reject or hang); SilentServer accepts connections and never
answers (a hung next hop or webhook endpoint). rss_bytes reads a process's VmRSS.
Every Gateway has its own DNS server on 127.0.0.1 (dns_server.DnsServer, fed from the zone
given, empty by default): no test ever asks the machine's resolver.
In a sanitizer build (MXGATE_SANITIZER set, see tests/CMakeLists.txt) Gateway.stop() and
cleanup() fail the test with the text of every sanitizer report mxgate wrote to its stderr.
Ports are chosen by binding port 0; everything listens on 127.0.0.1; every socket has a
timeout. Run with Debian's /usr/bin/python3 (aiosmtpd, yaml, dkim, spf live there).
"""

import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request

from aiosmtpd.controller import Controller

from dns_server import DnsServer

MXGATE = os.environ.get("MXGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/app/mxgate"))
# Names the sanitizers the binary under test was built with ("thread", "address,undefined");
# empty for a normal build.
SANITIZER = os.environ.get("MXGATE_SANITIZER", "")
# The first line of a ThreadSanitizer, AddressSanitizer or LeakSanitizer report, or of a
# UndefinedBehaviorSanitizer runtime error.
SANITIZER_REPORT = re.compile(r"^(?:==\d+==)?(?:WARNING|ERROR|FATAL): \w+Sanitizer\b|: runtime error: ", re.M)


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

    tenants: {tenant_id: {"domains": [...], "delivery": {...}, "inbound": {...}, ...}} (every key
    but domains is a section of the policy file); by default
    one tenant "example" owning example.test and delivering to files in <dir>/inbox.
    zone: DNS data for the gateway's own DNS server (see dns_server.py); gateway.dns is it.
    overrides: extra keys per section, e.g. {"smtp": {"max_recipients": 100}}.
    node.shutdown_timeout is 10s, so stop() (SIGTERM, a drain) waits at most that for deliveries
    to a hung next hop before mxgate exits.
    listeners: [{...}, ...] replaces the default inbound (smtp_port) and submission
    (submission_port) listeners; start() waits on the first listener's port (first_port),
    and smtp() and client() connect to it unless given another port.

    write_config() (called by the constructor; call it again after changing tenants,
    listeners or overrides) writes the config file and rewrites the policies directory: every
    file in it is deleted, then one <tenant>.toml per tenant is written.
    """

    def __init__(self, tenants=None, overrides=None, listeners=None, workdir=None, zone=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="mxgate-it-")
        self.dns = DnsServer(zone or {}).start()
        self.smtp_port = free_port()
        self.submission_port = free_port()
        self.admin_port = free_port()
        self.links_port = free_port()
        self.api_port = free_port()
        self.spool = os.path.join(self.dir, "queue")
        self.inbox = os.path.join(self.dir, "inbox")
        self.policies = os.path.join(self.dir, "policies")
        self.log_path = os.path.join(self.dir, "mxgate.log")
        self.config_path = os.path.join(self.dir, "mxgate.toml")
        self.process = None
        self.stderr_offset = 0
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
                     "postmaster": "postmaster@" + next(iter(self.tenants.values()))["domains"][0],
                     "shutdown_timeout": "10s"},
            "log": {"level": "info", "file": self.log_path},
            "listener": self.listeners,
            "spool": {"path": self.spool},
            "queue": {"retry_initial": "1s", "retry_max": "2s"},
            "admin": {"address": "127.0.0.1", "port": self.admin_port},
            "links": {"address": "127.0.0.1", "port": self.links_port},
            "api": {"address": "127.0.0.1", "port": self.api_port},
            "dns": {"servers": [f"127.0.0.1:{self.dns.port}"], "timeout": "500ms", "tries": 2},
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
            text += render_toml({section: values for section, values in spec.items() if section != "domains"})
            with open(os.path.join(self.policies, tenant + ".toml"), "w") as f:
                f.write(text)

    @property
    def first_port(self):
        """The first listener's port."""
        return self.listeners[0]["port"]

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=20.0, file_limit=None, env=None, hard_file_limit=False):
        """file_limit: the soft RLIMIT_NOFILE mxgate starts with (e.g. a fresh machine's 1024),
        with hard_file_limit the hard limit too, so mxgate cannot raise it (prlimit --nofile);
        env: variables added to mxgate's environment (e.g. NOTIFY_SOCKET)."""
        def limit_files():
            hard = file_limit if hard_file_limit else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, hard))
        with open(self.log_path + ".stderr", "ab") as stderr:  # the child keeps its own copy of the fd
            self.stderr_offset = stderr.tell()
            self.process = subprocess.Popen([MXGATE, "run", "--config", self.config_path], cwd=self.dir,
                                            stdout=subprocess.DEVNULL, stderr=stderr,
                                            preexec_fn=limit_files if file_limit else None,
                                            env={**os.environ, **env} if env else None)
        if not (wait_port(self.first_port, timeout) and wait_port(self.admin_port, timeout)):
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
        self.check_sanitizer_reports()
        return code

    def check_sanitizer_reports(self):
        """In a sanitizer build: AssertionError quoting mxgate's stderr from its first sanitizer
        report on, when the run that just ended wrote any."""
        if not SANITIZER:
            return
        with open(self.log_path + ".stderr", errors="replace") as f:
            f.seek(self.stderr_offset)
            text = f.read()
        first = SANITIZER_REPORT.search(text)
        if first:
            start = text.rfind("\n", 0, first.start()) + 1
            raise AssertionError(f"mxgate ({SANITIZER} sanitizer build) reported "
                                 f"{len(SANITIZER_REPORT.findall(text))} problem(s); its stderr from the first:\n"
                                 + text[start:start + 30000])

    def reload(self):
        self.process.send_signal(signal.SIGHUP)

    def cleanup(self):
        try:
            self.stop(kill=True)
        finally:
            if self.dns is not None:
                self.dns.stop()
                self.dns = None
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
        """An smtplib client connected to the first listener (or port)."""
        return smtplib.SMTP("127.0.0.1", port or self.first_port, timeout=timeout)

    def client(self, port=None, timeout=10.0):
        """A Client connected to the first listener (or port), greeting already read."""
        return Client(port or self.first_port, timeout)

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


# ---- the SMTP client ------------------------------------------------------------------------

ENHANCED = re.compile(rb"^[245]\.\d{1,3}\.\d{1,3}$")
QUEUED = re.compile(rb"Ok: queued as ([0-9A-Z]{20})")


class Reply:
    """One SMTP reply: code (int), enhanced status code (str or ""), text lines (bytes)."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])
        last_text = lines[-1][4:]
        first = last_text.split(b" ", 1)[0]
        self.enhanced = first.decode() if ENHANCED.match(first) else ""
        self.text = last_text

    @property
    def raw(self):
        return b"\r\n".join(self.lines) + b"\r\n"

    def short(self):
        """'250 2.0.0' style summary used in assertion messages and comparisons."""
        return f"{self.code} {self.enhanced}".strip()

    def __repr__(self):
        return "Reply(" + repr(self.raw) + ")"


def unverified_context(minimum=None, maximum=None, ciphers=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def dot_stuff(content):
    """RFC 5321 §4.5.2 transparency for canonical CRLF content (adds a final CRLF if missing):
    every line that starts with a dot gets one more."""
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    stuffed = content.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def queue_id(reply):
    """The queue id of a '250 2.0.0 Ok: queued as <id>' Reply; AssertionError for any other."""
    match = QUEUED.search(reply.text) if reply is not None else None
    if not match:
        raise AssertionError(f"not a queued reply: {reply!r}")
    return match.group(1).decode()


class Client:
    """A byte-level SMTP client on 127.0.0.1. send() writes exactly the bytes given (one
    sendall = one write); reply() reads one complete reply. starttls() upgrades the same
    socket; implicit_tls (a client SSLContext) wraps it before the greeting."""

    def __init__(self, port, timeout=10.0, greeting=True, implicit_tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        if implicit_tls is not None:
            self.sock = implicit_tls.wrap_socket(self.sock)
        self.greeting = self.reply() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def reply(self, timeout=None):
        """One reply, or None when the peer closed the connection before a complete one."""
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                try:
                    if not self._fill():
                        return None
                except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
                    return None
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] == b" ":
                if len(line) < 3 or not line[:3].isdigit():
                    raise AssertionError(f"malformed reply line {line!r}")
                return Reply(lines)

    def command(self, data, timeout=None):
        self.send(data)
        return self.reply(timeout)

    def command_then_eof(self, data, timeout=10.0):
        """Sends data and returns every reply until the server closes the connection."""
        self.send(data)
        return self.replies_until_eof(timeout)

    def replies(self, count, timeout=None):
        return [self.reply(timeout) for _ in range(count)]

    def replies_until_eof(self, timeout=10.0):
        """Every reply until the server closes the connection (bounded by timeout overall)."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server did not close the connection; replies so far: {out!r}")
            try:
                reply = self.reply(left)
            except socket.timeout:
                raise AssertionError(f"server did not close the connection; replies so far: {out!r}")
            if reply is None:
                if self.buffer:
                    raise AssertionError(f"connection closed inside a reply: {self.buffer!r}")
                return out
            out.append(reply)

    def silent_for(self, seconds):
        """True when nothing at all arrives for `seconds` (and the connection stays open)."""
        if self.buffer:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        except ssl.SSLWantReadError:
            return True
        self.buffer += chunk
        return False

    def closed(self, timeout=5.0):
        """True when the server closes the connection within timeout (pending bytes kept)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self._fill():
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True

    def starttls(self, context=None):
        """Wraps the socket after a 220 to STARTTLS; plaintext still buffered is an error."""
        if self.buffer:
            raise AssertionError(f"plaintext after the STARTTLS reply: {self.buffer!r}")
        self.sock.settimeout(self.timeout)
        self.sock = (context or unverified_context()).wrap_socket(self.sock)
        return self.sock

    def ehlo(self, name="client.example"):
        reply = self.command(f"EHLO {name}\r\n")
        if reply is None or reply.code != 250:
            raise AssertionError(f"EHLO failed: {reply!r}")
        return reply

    def transaction(self, mail_from, recipients, content):
        """MAIL, one RCPT per recipient and DATA in lock step, then the dot-stuffed content and
        the final dot. Returns (stage, reply): stage names the command whose reply ended the
        transaction, "mail", "rcpt", "data" or "dot" (the reply after the final dot); reply is
        None when the connection closed first. A refused RCPT is followed by RSET (its reply
        read) so that the session can go on."""
        reply = self.command(f"MAIL FROM:<{mail_from}>\r\n")
        if reply is None or reply.code != 250:
            return "mail", reply
        for recipient in recipients:
            reply = self.command(f"RCPT TO:<{recipient}>\r\n")
            if reply is None or reply.code != 250:
                if reply is not None:
                    self.command("RSET\r\n")
                return "rcpt", reply
        reply = self.command("DATA\r\n")
        if reply is None or reply.code != 354:
            return "data", reply
        self.send(dot_stuff(content) + b".\r\n")
        return "dot", self.reply()

    def close(self, quit_first=False):
        """Closes the connection; with quit_first, QUIT is sent and its reply read first (socket
        errors on the way are ignored)."""
        try:
            if quit_first:
                self.command("QUIT\r\n")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rss_bytes(pid):
    """VmRSS of pid in bytes, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


# ---- peers ---------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.sink.lock:
            self.sink.rcpts.append(address)
        if self.sink.rcpt_delay:
            await asyncio.sleep(self.sink.rcpt_delay)
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
                {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "data": envelope.original_content,
                 "at": time.time()})
        return "250 2.0.0 OK recorded"


class RecordingSink:
    """An aiosmtpd server on a free loopback port that records what it receives.

    data_reply: e.g. "451 4.3.0 try later" or "550 5.1.1 no" to refuse at end of data.
    rcpt_replies: {address: reply} to refuse particular recipients at RCPT.
    rcpts lists every RCPT address asked, in order; rcpt_delay (seconds) delays each answer.
    host and port: where it listens (another loopback address such as 127.0.0.2 serves as a
    mail exchanger; the port defaults to a free one).
    """

    def __init__(self, data_reply=None, rcpt_replies=None, delay=0.0, starttls_context=None, rcpt_delay=0.0,
                 host="127.0.0.1", port=None):
        self.port = port or free_port()
        self.messages = []
        self.rcpts = []
        self.rcpt_delay = rcpt_delay
        self.lock = threading.Lock()
        self.data_reply = data_reply
        self.rcpt_replies = rcpt_replies or {}
        self.delay = delay
        self.controller = Controller(_Recorder(self), hostname=host, port=self.port,
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


class SilentServer:
    """Accepts every connection on a free 127.0.0.1 port and never sends a byte: a hung SMTP
    next hop or webhook endpoint. connections holds the accepted sockets."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                connection, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        for connection in self.connections:
            connection.close()
        self.sock.close()


def smtp_tenant(port, **extra):
    """A tenant delivery block relaying to a sink on 127.0.0.1:port."""
    delivery = {"target": "smtp", "host": "127.0.0.1", "port": port, "tls": "none", "max_connections": 4}
    delivery.update(extra)
    return delivery


def make_message(subject="test", body="hello\r\n", sender="sender@remote.example", to="user@example.test",
                 extra_headers=""):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{time.time_ns()}@remote.example>\r\n"
            f"{extra_headers}\r\n{body}").encode()
