"""Helpers shared by the protocol-level integration tests (test_abuse_corpus, test_protocol,
test_relay, test_operations), on top of harness.Client: the EHLO keywords of a reply, readers
for what the file target stored (Return-Path, Delivered-To, our Received: field, content) and
what "normalize" must store, queue waits and `mxgate queue ls`, certificates for TLS peers (a
self-signed one, and TestPki: a test CA issuing good, wrong-name and expired certificates, all
made with the openssl CLI), and RawPeer, a threaded fake SMTP server that records the exact
bytes a client (mxgate's relay) puts on the wire and can answer any command oddly.

Everything is bounded: every socket has a timeout, every wait has a deadline.
"""

import json
import os
import socket
import ssl
import subprocess
import threading

from harness import free_port, wait_until


def ehlo_keywords(reply):
    """The EHLO keyword lines after the greeting line, as str."""
    return [line[4:].decode() for line in reply.lines[1:]]


# ---- what the file target stored ---------------------------------------------------------

def split_stored(message):
    """Splits a file-target message into (return_path, [delivered_to], received, content).

    The file target writes Return-Path and Delivered-To lines and the fields the inbound checks
    added (Authentication-Results, X-Mxgate-Tag: skipped here), the session wrote its own
    Received: field (continuation lines start with a tab) in front of the content as it
    arrived."""
    rest = message
    line, rest = rest.split(b"\r\n", 1)
    if not line.startswith(b"Return-Path: <") or not line.endswith(b">"):
        raise AssertionError(f"no Return-Path first: {message[:200]!r}")
    return_path = line[len(b"Return-Path: <"):-1]
    delivered = []
    while rest.startswith(b"Delivered-To: "):
        line, rest = rest.split(b"\r\n", 1)
        delivered.append(line[len(b"Delivered-To: "):])
    received, content = split_received(rest)
    return return_path, delivered, received, content


def skip_check_fields(data):
    """data without the leading fields the inbound checks prepend (Authentication-Results,
    X-Mxgate-Tag, with their continuation lines)."""
    while data.startswith((b"Authentication-Results: ", b"X-Mxgate-Tag: ")):
        _, data = data.split(b"\r\n", 1)
        while data[:1] in (b" ", b"\t"):
            _, data = data.split(b"\r\n", 1)
    return data


def split_received(data):
    """Splits our leading Received: field (with its tab continuations, after the fields the
    inbound checks prepend) from the content."""
    data = skip_check_fields(data)
    if not data.startswith(b"Received: from "):
        raise AssertionError(f"no leading Received: field: {data[:200]!r}")
    end = 0
    while True:
        nl = data.index(b"\r\n", end)
        end = nl + 2
        if not data[end:end + 1] == b"\t":
            break
    return data[:end], data[end:]


def has_bare_cr_or_lf(data):
    stripped = data.replace(b"\r\n", b"")
    return b"\r" in stripped or b"\n" in stripped


def normalized_content(data):
    """What bare_newline = "normalize" must store for DATA input `data`: the content up to the
    first <CRLF>.<CRLF> (its CRLF kept), leading dots of CRLF-delimited lines removed
    (RFC 5321 §4.5.2), then every bare LF made a CRLF and every bare CR dropped."""
    end = data.index(b"\r\n.\r\n") + 2
    lines = data[:end].split(b"\r\n")
    content = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
    out = bytearray()
    for i, byte in enumerate(content):
        if byte == 0x0D:
            if content[i + 1:i + 2] == b"\n":
                out += b"\r"
        elif byte == 0x0A:
            out += b"\n" if content[i - 1:i] == b"\r" else b"\r\n"
        else:
            out.append(byte)
    return bytes(out)


def wait_queue_empty(gw, timeout=20.0):
    return wait_until(lambda: gw.metric("mxgate_queue_messages") == 0, timeout)


def read_inbox_file(gw, qid, timeout=20.0):
    path = os.path.join(gw.inbox, qid + ".eml")
    if not wait_until(lambda: os.path.exists(path), timeout):
        raise AssertionError(f"{qid}.eml was not delivered; log tail:\n{gw.log()[-3000:]}")
    with open(path, "rb") as f:
        return f.read()


def queue_listing(gw):
    """`mxgate queue ls --json` as a dict {id: message}."""
    result = gw.cli("queue", "ls", "--json")
    if result.returncode != 0:
        raise AssertionError(f"queue ls failed: {result.returncode} {result.stdout} {result.stderr}")
    return {m["id"]: m for m in json.loads(result.stdout)["messages"]}


# ---- certificates --------------------------------------------------------------------------

def self_signed(directory, name="sink.test"):
    """(cert, key) paths of a fresh self-signed certificate made with the openssl CLI."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + name], check=True, capture_output=True, timeout=60)
    return cert, key


class TestPki:
    """A test certificate authority in `directory` (ca.crt) and server certificates it issues,
    made with the openssl CLI (P-256 keys). Each method returns (cert, key) paths."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_cert = os.path.join(directory, "ca.crt")
        self.ca_key = os.path.join(directory, "ca.key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2", "-subj", "/CN=mxgate test CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=self.dir)

    def _request(self, stem, name):
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name)
        return csr, key

    def issue(self, stem, name):
        """A certificate for DNS name `name`, valid for two days, signed by the CA."""
        csr, key = self._request(stem, name)
        cert = os.path.join(self.dir, stem + ".crt")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-CAcreateserial",
                      "-days", "2", "-copy_extensions", "copy", "-out", cert)
        return cert, key

    def expired(self, stem, name):
        """A certificate for `name` signed by the CA, valid only in January 2020 (`openssl ca`
        takes explicit start and end dates)."""
        csr, key = self._request(stem, name)
        cert = os.path.join(self.dir, stem + ".crt")
        config = os.path.join(self.dir, "ca.cnf")
        with open(config, "w") as f:
            f.write("[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = index.txt\nnew_certs_dir = .\n"
                    "serial = ca.serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
                    "unique_subject = no\n[any]\ncommonName = supplied\n")
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "ca.serial"), "w") as f:
            f.write("1000\n")
        self._openssl("ca", "-batch", "-config", config, "-cert", self.ca_cert, "-keyfile", self.ca_key,
                      "-in", csr, "-out", cert, "-notext", "-startdate", "20200101000000Z",
                      "-enddate", "20200102000000Z")
        return cert, key


def server_tls_context(cert, key):
    """A Python server-side TLS context presenting cert; it records the SNI names it is sent
    in context.sni_names."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_names = []

    def remember(_socket, name, _context):
        context.sni_names.append(name)
    context.sni_callback = remember
    return context


# ---- a raw fake SMTP peer ----------------------------------------------------------------

class PeerConnection:
    """What one client connection to a RawPeer did."""

    def __init__(self):
        self.raw = bytearray()       # every byte received (plaintext part)
        self.commands = []           # command lines (bytes, without CRLF)
        self.data = []               # raw DATA bytes of each transaction, terminator included
        self.mail_count = 0
        self.tls = False
        self.closed = False
        self.overridden = None       # the point whose reply came from RawPeer.overrides
        self.after_override = None   # bytes the client sent after that reply (None: not drained)
        self.client_closed = False   # the client closed the connection after that reply


class RawPeer:
    """A minimal threaded SMTP server for relay tests. It offers `keywords` after EHLO,
    accepts every MAIL/RCPT, records the exact bytes of each DATA section, and can misbehave
    on STARTTLS:
      starttls="inject"  -> "220 2.0.0 Ready\\r\\n250 ok-injected\\r\\n" in one segment, then TLS
      starttls="ok"      -> a plain 220, then a TLS handshake with tls_context
      starttls="broken"  -> a plain 220, then bytes that are not TLS
    overrides replaces the reply at a point ("greeting", "EHLO", "STARTTLS", "MAIL", "RCPT",
    "DATA", "DOT" for the reply after the data, "RSET"; "RCPT2" is the second RCPT of a
    connection) by {point: (reply bytes, "drain" | "continue"[, seconds])}. Before an override
    the peer waits a moment (0.3 s or the seconds given) so that pipelined commands have
    arrived; after a "drain" override it answers nothing more and records what the client
    still sends until it closes (PeerConnection.after_override, client_closed). Change
    overrides at any time (a dict assignment); each connection looks them up as it goes.
    override_connections = n limits them to the next n connections that use one.
    """

    def __init__(self, keywords=("PIPELINING", "8BITMIME", "SIZE 104857600"), starttls=None, tls_context=None,
                 port=None, data_reply=b"250 2.0.0 Ok: stored\r\n"):
        self.keywords = list(keywords)
        self.starttls = starttls
        self.tls_context = tls_context
        self.data_reply = data_reply
        self.overrides = {}
        self.override_connections = None
        self.port = port or free_port()
        self.connections = []
        self.lock = threading.Lock()
        self.listener = None
        self.thread = None
        self.stopping = False

    def start(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        if self.thread:
            self.thread.join(5)
        if self.listener:
            self.listener.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            record = PeerConnection()
            with self.lock:
                self.connections.append(record)
            threading.Thread(target=self._serve, args=(sock, record), daemon=True).start()

    def messages(self):
        with self.lock:
            return [data for c in self.connections for data in c.data]

    def mail_commands(self):
        with self.lock:
            return sum(c.mail_count for c in self.connections)

    def _serve(self, sock, record):
        sock.settimeout(30)
        buffer = b""

        def out(data):
            sock.sendall(data)

        def receive():
            """Appends one recv() to buffer (and to record.raw before TLS); False at EOF."""
            nonlocal buffer
            chunk = sock.recv(65536)
            if not chunk:
                return False
            if not record.tls:
                record.raw += chunk
            buffer += chunk
            return True

        seen = {}

        def override(point):
            """The override for this occurrence of point, or None."""
            seen[point] = seen.get(point, 0) + 1
            overrides = self.overrides
            special = overrides.get(f"{point}{seen[point]}") or overrides.get(point)
            if special and record.overridden is None:
                with self.lock:
                    if self.override_connections is not None:
                        if self.override_connections == 0:
                            return None
                        self.override_connections -= 1
            return special

        def answer(point, default, special=None):
            """Sends the reply for point (special: its override, already looked up); True when
            the peer must stop answering (drain)."""
            special = special or override(point)
            if special is None:
                out(default)
                return False
            reply, then = special[:2]
            sock.settimeout(special[2] if len(special) > 2 else 0.3)
            try:
                while receive():
                    pass
            except (socket.timeout, ssl.SSLError):
                pass
            sock.settimeout(30)
            record.overridden = point
            out(reply)
            if then != "drain":
                return False
            mark = len(record.raw)
            sock.settimeout(15)
            try:
                while receive():
                    pass
                record.client_closed = True
            except (socket.timeout, OSError):
                pass
            record.after_override = bytes(record.raw[mark:])
            return True

        try:
            if answer("greeting", b"220 peer.test ESMTP rawpeer\r\n"):
                return
            while not self.stopping:
                while b"\r\n" not in buffer:
                    if not receive():
                        return
                line, buffer = buffer.split(b"\r\n", 1)
                record.commands.append(line)
                verb = line[:4].upper()
                if verb in (b"EHLO",):
                    keywords = [k for k in self.keywords if not (record.tls and k == "STARTTLS")]
                    lines = [b"peer.test"] + [k.encode() for k in keywords]
                    if answer("EHLO", b"".join((b"250-" if i + 1 < len(lines) else b"250 ") + l + b"\r\n"
                                               for i, l in enumerate(lines))):
                        return
                elif verb == b"HELO":
                    out(b"250 peer.test\r\n")
                elif verb == b"STAR" and line.upper() == b"STARTTLS" and self.starttls:
                    special = override("STARTTLS")
                    if special:
                        if answer("STARTTLS", b"", special):
                            return
                        continue
                    if self.starttls == "inject":
                        out(b"220 2.0.0 Ready\r\n250 ok-injected\r\n")
                    else:
                        out(b"220 2.0.0 Ready\r\n")
                    if buffer:
                        return  # plaintext after STARTTLS from the client: refuse it all
                    if self.starttls == "broken":
                        receive()  # the ClientHello
                        out(b"this is not TLS\r\n" * 4)
                        return
                    sock = self.tls_context.wrap_socket(sock, server_side=True)
                    record.tls = True
                elif verb == b"MAIL":
                    record.mail_count += 1
                    if answer("MAIL", b"250 2.1.0 Ok\r\n"):
                        return
                elif verb == b"RCPT":
                    if answer("RCPT", b"250 2.1.5 Ok\r\n"):
                        return
                elif verb == b"DATA":
                    special = override("DATA")
                    if special:
                        if answer("DATA", b"", special):
                            return
                        if not special[0].startswith(b"354"):
                            continue
                    else:
                        out(b"354 go ahead\r\n")
                    while b"\r\n.\r\n" not in buffer and not buffer.startswith(b".\r\n"):
                        if not receive():
                            return
                    if buffer.startswith(b".\r\n"):
                        end = 3
                    else:
                        end = buffer.index(b"\r\n.\r\n") + 5
                    with self.lock:
                        record.data.append(buffer[:end])
                    buffer = buffer[end:]
                    if answer("DOT", self.data_reply):
                        return
                elif verb == b"RSET":
                    if answer("RSET", b"250 2.0.0 Ok\r\n"):
                        return
                elif verb == b"NOOP":
                    out(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    out(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    out(b"502 5.5.2 unknown\r\n")
        except (OSError, ssl.SSLError):
            return
        finally:
            record.closed = True
            try:
                sock.close()
            except OSError:
                pass
