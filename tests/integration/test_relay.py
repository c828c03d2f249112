"""The `smtp` delivery target (mxgate as an SMTP client relaying to a fixed next hop) and the
outbound cases of the abuse corpus: bulk relay byte-exactness, dot-stuffing on the wire,
no bare CR/LF on the wire (out-normalize-bare-lf), STARTTLS response injection and required
TLS (client-starttls-*), the TLS security levels (none, may with its plaintext fallback,
encrypt, verify against a test CA: good, wrong name, self-signed, expired), replies that do not
fit their command (a 2xx to DATA, 3xx to MAIL/RCPT/end of data) and 421 at every point of the
session (the connection is closed at once and the message delivered later on a fresh one),
4xx retry, 5xx per recipient and dead letters, 8BITMIME towards a 7-bit peer, next hop down,
connection reuse, and queue.max_age expiry.
Peers are aiosmtpd (RecordingSink) and RawPeer (support_protocol), which records raw bytes.
"""

import json
import re
import smtplib
import ssl
import tempfile
import threading
import time
import unittest

from harness import Client, Gateway, RecordingSink, dot_stuff, free_port, queue_id, smtp_tenant, wait_until
from support_protocol import (RawPeer, TestPki, has_bare_cr_or_lf, normalized_content, queue_listing, self_signed,
                              server_tls_context, split_received)
from test_abuse_corpus import CASES_BY_ID, expand

SENDER = "sender@remote.example"
HOST = "mx.test.mxgate"


def content(subject, body=b"hello\r\n", to="user@example.test"):
    return f"From: {SENDER}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@remote.example>" \
           f"\r\n\r\n".encode() + body


def submit(gw, recipients, data, mail_params=""):
    """One message through the inbound listener (data is raw content, dot-stuffed here);
    returns the queue id."""
    with Client(gw.smtp_port) as c:
        c.ehlo()
        assert c.command(f"MAIL FROM:<{SENDER}>{mail_params}\r\n").short() == "250 2.1.0"
        for r in recipients:
            reply = c.command(f"RCPT TO:<{r}>\r\n")
            assert reply.short() == "250 2.1.5", reply
        assert c.command("DATA\r\n").code == 354
        c.send(dot_stuff(data) + b".\r\n")
        reply = c.reply()
        assert reply.short() == "250 2.0.0", reply
        return queue_id(reply)


def server_context(directory):
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def wait_listing(gw, qid, predicate, timeout=20.0):
    """Polls `queue ls --json` until predicate(message) holds; returns the message (or the last seen)."""
    seen = {}

    def check():
        listing = queue_listing(gw)
        seen["m"] = listing.get(qid)
        return seen["m"] is not None and predicate(seen["m"])
    wait_until(check, timeout, 0.2)
    return seen.get("m")


def check_relayed(test, data, sent, qid=None):
    """data at the next hop = exactly one Received: of ours + the content as it was sent."""
    received, rest = split_received(data)
    test.assertEqual(rest, sent)
    test.assertTrue(received.startswith(b"Received: from client.example ([127.0.0.1])\r\n\tby " + HOST.encode()
                                        + b" (mxgate) with ESMTP id "), received)
    if qid:
        test.assertIn(b" id " + qid.encode(), received)


class TlsSpy:
    """Wraps a RecordingSink handler to note, per message, the TLS version the session used."""

    def __init__(self, inner):
        self.inner = inner
        self.versions = []

    @staticmethod
    def attach(sink):
        """Puts a spy in front of sink's handler (sink.spy); returns the sink."""
        sink.spy = TlsSpy(sink.controller.handler)
        sink.controller.handler = sink.spy
        return sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return await self.inner.handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        ssl_object = session.ssl.get("ssl_object") if session.ssl else None
        self.versions.append(ssl_object.version() if ssl_object else None)
        return await self.inner.handle_DATA(server, session, envelope)


class BulkRelayTest(unittest.TestCase):
    """(a) 200 messages, (b) dot-stuffing-outbound, via an aiosmtpd sink."""

    @classmethod
    def setUpClass(cls):
        cls.sink = RecordingSink().start()
        cls.gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(cls.sink.port)}})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.sink.stop()

    def sink_messages_with(self, marker):
        with self.sink.lock:
            return [m for m in self.sink.messages if marker in m["data"]]

    def test_relay_200_messages_exactly_once_byte_exact(self):
        sent = {}
        for n in range(200):
            body = (f"message {n}\r\n".encode() + (b"x" * (n * 37 % 998) + b"\r\n") * (n % 7) + b".dot\r\n"
                    + b"\xc3\xa9 8bit\r\n")
            sent[n] = content(f"bulk {n}", body)
        errors = []

        def worker(numbers):
            try:
                with smtplib.SMTP("127.0.0.1", self.gw.smtp_port, local_hostname="client.example", timeout=30) as s:
                    for n in numbers:
                        s.sendmail(SENDER, ["user@example.test"], sent[n])
            except Exception as error:  # reported below; the thread must not die silently
                errors.append(error)
        threads = [threading.Thread(target=worker, args=(range(k, 200, 4),)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertTrue(wait_until(lambda: len(self.sink_messages_with(b"Subject: bulk ")) >= 200, 60),
                        f"{len(self.sink_messages_with(b'Subject: bulk '))} of 200 arrived; log:\n{self.gw.log()[-3000:]}")
        self.assertTrue(wait_until(lambda: self.gw.metric("mxgate_queue_messages") == 0, 20))
        time.sleep(0.5)
        arrived = self.sink_messages_with(b"Subject: bulk ")
        self.assertEqual(len(arrived), 200)
        seen = set()
        for message in arrived:
            n = int(re.search(rb"Subject: bulk (\d+)\r\n", message["data"]).group(1))
            self.assertNotIn(n, seen, f"message {n} arrived twice")
            seen.add(n)
            check_relayed(self, message["data"], sent[n])
            self.assertEqual(message["mail_from"], SENDER)
            self.assertEqual(message["rcpt_tos"], ["user@example.test"])
        self.assertEqual(seen, set(range(200)))

    def test_large_messages_with_dot_lines_across_body_slices(self):
        """~1 MiB bodies of '.'-lines, with 0..2 bytes of padding so that, for one of them,
        a line start and a CR/LF pair fall on every boundary the relay cuts the body at
        (spool chunks, send slices); each arrives byte-exact."""
        sent = {}
        for pad in range(3):
            body = b"p" * pad + b"\r\n" + b".\r\n" * 350000  # a 3-octet cycle, shifted by pad
            sent[pad] = content(f"slices {pad}", body)
            submit(self.gw, ["user@example.test"], sent[pad])
        self.assertTrue(wait_until(lambda: len(self.sink_messages_with(b"Subject: slices ")) == 3, 60),
                        self.gw.log()[-2000:])
        for message in self.sink_messages_with(b"Subject: slices "):
            pad = int(re.search(rb"Subject: slices (\d)", message["data"]).group(1))
            check_relayed(self, message["data"], sent[pad])

    def test_dot_stuffing_outbound(self):
        case = CASES_BY_ID["dot-stuffing-outbound"]
        self.assertEqual(case["role"], "outbound")
        data = content("dots out", b".\r\n.x\r\n..\r\nend\r\n")
        qid = submit(self.gw, ["user@example.test"], data)
        self.assertTrue(wait_until(lambda: self.sink_messages_with(b"Subject: dots out"), 20))
        [message] = self.sink_messages_with(b"Subject: dots out")
        check_relayed(self, message["data"], data, qid)


class WireFormatTest(unittest.TestCase):
    """(c) out-normalize-bare-lf and the wire side of dot-stuffing-outbound, with a raw peer
    that offers PIPELINING and records every byte; bare_newline = "normalize" inbound."""

    @classmethod
    def setUpClass(cls):
        cls.peer = RawPeer(keywords=("PIPELINING", "8BITMIME", "SIZE 104857600")).start()
        cls.gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(cls.peer.port)}},
                         overrides={"smtp": {"bare_newline": "normalize"}})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.peer.stop()

    def test_out_normalize_bare_lf(self):
        case = CASES_BY_ID["out-normalize-bare-lf"]
        self.assertEqual(case["role"], "outbound")
        bodies = []
        for case_id in ("smug-lf-dot-lf", "smug-lf-dot-cr", "smug-cr-dot-lf", "smug-cr-dot-cr", "smug-lf-dot-crlf",
                        "smug-cr-dot-crlf", "smug-crlf-dot-crcrlf", "smug-crcrlf-dot-crcrlf"):
            bodies.append(expand(CASES_BY_ID[case_id]["send"][0]))
        bodies.append(b"Subject: dots wire\r\n\r\n..\r\n..x\r\n...\r\n....\r\n.\r\n")  # '.', '.x', '..', '...'"
        expected = {}
        for data in bodies:
            with Client(self.gw.smtp_port) as c:
                c.ehlo()
                self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
                self.assertEqual(c.command("RCPT TO:<user@example.test>\r\n").short(), "250 2.1.5")
                self.assertEqual(c.command("DATA\r\n").code, 354)
                c.send(data)
                reply = c.reply()
                self.assertEqual(reply.short(), "250 2.0.0", data)
                expected[queue_id(reply)] = normalized_content(data)
        self.assertTrue(wait_until(lambda: len(self.peer.messages()) >= len(bodies), 30), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: self.gw.metric("mxgate_queue_messages") == 0, 20))
        time.sleep(0.3)
        with self.peer.lock:
            raw = b"".join(bytes(c.raw) for c in self.peer.connections)
        self.assertFalse(has_bare_cr_or_lf(raw), "bare CR or LF on the wire")
        self.assertEqual(self.peer.mail_commands(), len(bodies))  # one transaction per message
        wire_messages = self.peer.messages()
        self.assertEqual(len(wire_messages), len(bodies))
        for wire in wire_messages:
            self.assertTrue(wire.endswith(b"\r\n.\r\n"))
            lines = wire[:-3].split(b"\r\n")
            unstuffed = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
            received, rest = split_received(unstuffed)
            qid = re.search(rb" id ([0-9A-Z]{20})", received).group(1).decode()
            self.assertEqual(rest, expected[qid])
            for line in lines[:-1]:
                self.assertNotEqual(line, b".")  # a lone dot inside the data would end it
        dots = [w for w in wire_messages if b"Subject: dots wire" in w][0]
        self.assertIn(b"\r\n\r\n..\r\n..x\r\n...\r\n....\r\n.\r\n", dots)


class RelayFailureModesTest(unittest.TestCase):
    """(d) STARTTLS response injection, (e) TLS required, (j) 8BITMIME to a 7-bit peer,
    (k) next hop down then up: one tenant (domain) per peer."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-relay-")
        context = server_context(cls.tmp)
        cls.inject_peer = RawPeer(keywords=("PIPELINING", "8BITMIME", "STARTTLS"), starttls="inject",
                                  tls_context=context).start()
        cls.plain_peer = RawPeer(keywords=("PIPELINING", "8BITMIME")).start()
        cls.sevenbit_peer = RawPeer(keywords=("PIPELINING", "SIZE 1000000")).start()
        cls.down_port = free_port()
        cls.down_peer = None
        cls.gw = Gateway(tenants={
            "inject": {"domains": ["inject.test"], "delivery": smtp_tenant(cls.inject_peer.port, tls="may")},
            "required": {"domains": ["required.test"], "delivery": smtp_tenant(cls.plain_peer.port, tls="encrypt")},
            "sevenbit": {"domains": ["sevenbit.test"], "delivery": smtp_tenant(cls.sevenbit_peer.port)},
            "down": {"domains": ["down.test"], "delivery": smtp_tenant(cls.down_port)},
        }, overrides={"smtp_client": {"connect_timeout": "2s", "command_timeout": "5s"}})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        for peer in (cls.inject_peer, cls.plain_peer, cls.sevenbit_peer, cls.down_peer):
            if peer:
                peer.stop()

    def test_client_starttls_response_injection(self):
        self.assertEqual(CASES_BY_ID["client-starttls-response-injection"]["role"], "outbound")
        qid = submit(self.gw, ["user@inject.test"], content("inject", to="user@inject.test"))
        message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 2)
        self.assertIsNotNone(message)
        self.assertEqual(message["state"], "queued")
        [recipient] = message["recipients"]
        self.assertEqual(recipient["state"], "pending")
        self.assertIn("STARTTLS response injection", recipient["last_reply"])
        self.assertIn("STARTTLS response injection", message["last_reply"])
        with self.inject_peer.lock:
            commands = [line for c in self.inject_peer.connections for line in c.commands]
        self.assertIn(b"STARTTLS", commands)
        self.assertEqual(self.inject_peer.mail_commands(), 0)
        self.assertFalse(any(line.startswith(b"MAIL") for line in commands), commands)
        self.assertFalse(any(c.tls for c in self.inject_peer.connections), "a handshake followed the injection")

    def test_client_starttls_required(self):
        self.assertEqual(CASES_BY_ID["client-starttls-required"]["role"], "outbound")
        qid = submit(self.gw, ["user@required.test"], content("required", to="user@required.test"))
        message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 1)
        self.assertIsNotNone(message)
        self.assertEqual(message["state"], "queued")
        [recipient] = message["recipients"]
        self.assertEqual(recipient["state"], "pending")
        self.assertIn("TLS is required", recipient["last_reply"])
        self.assertIn("STARTTLS", recipient["last_reply"])
        self.assertEqual(self.plain_peer.mail_commands(), 0)
        with self.plain_peer.lock:
            self.assertTrue(self.plain_peer.connections)
            self.assertFalse(any(b"MAIL" in bytes(c.raw) for c in self.plain_peer.connections))

    def test_8bit_to_7bit_peer(self):
        self.assertEqual(CASES_BY_ID["8bit-to-7bit-peer"]["role"], "outbound")
        data = content("eight bit", b"caf\xc3\xa9\r\n", to="user@sevenbit.test")
        qid = submit(self.gw, ["user@sevenbit.test"], data, " BODY=8BITMIME")
        message = wait_listing(self.gw, qid, lambda m: m["state"] == "dead")
        self.assertIsNotNone(message, self.gw.log()[-2000:])
        self.assertEqual(message["state"], "dead")
        [recipient] = message["recipients"]
        self.assertEqual(recipient["state"], "failed")
        self.assertTrue(recipient["last_reply"].startswith("554 5.6.3 "), recipient["last_reply"])
        self.assertEqual(self.sevenbit_peer.mail_commands(), 0)
        with self.sevenbit_peer.lock:
            self.assertFalse(any(b"\xc3\xa9" in bytes(c.raw) for c in self.sevenbit_peer.connections))

    def test_smtputf8_to_a_peer_without_smtputf8(self):
        """T19: a UTF-8 envelope is not downgraded silently: 553 5.6.7, nothing sent."""
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            sender = "\u7528\u6237@\u4f8b\u5b50.example"
            self.assertEqual(c.command(f"MAIL FROM:<{sender}> SMTPUTF8\r\n".encode()).short(), "250 2.1.0")
            self.assertEqual(c.command("RCPT TO:<utf8@sevenbit.test>\r\n").short(), "250 2.1.5")
            self.assertEqual(c.command("DATA\r\n").code, 354)
            c.send(content("utf8 out", to="utf8@sevenbit.test") + b".\r\n")
            qid = queue_id(c.reply())
        message = wait_listing(self.gw, qid, lambda m: m["state"] == "dead")
        self.assertIsNotNone(message, self.gw.log()[-2000:])
        self.assertTrue(message["recipients"][0]["last_reply"].startswith("553 5.6.7 "), message)
        self.assertEqual(self.sevenbit_peer.mail_commands(), 0)

    def test_message_larger_than_the_peer_size_limit(self):
        """The peer announces SIZE 1000000: a bigger message fails with 552 5.3.4 unsent."""
        data = content("too big for peer", (b"q" * 998 + b"\r\n") * 1100, to="big@sevenbit.test")
        qid = submit(self.gw, ["big@sevenbit.test"], data)
        message = wait_listing(self.gw, qid, lambda m: m["state"] == "dead")
        self.assertIsNotNone(message, self.gw.log()[-2000:])
        self.assertTrue(message["recipients"][0]["last_reply"].startswith("552 5.3.4 "), message)
        self.assertEqual(self.sevenbit_peer.mail_commands(), 0)

    def test_next_hop_down_then_up(self):
        qid = submit(self.gw, ["user@down.test"], content("down", to="user@down.test"))
        message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 1)
        self.assertIsNotNone(message)
        self.assertEqual(message["state"], "queued")
        self.assertIn("connection refused", message["recipients"][0]["last_reply"].lower())
        type(self).down_peer = RawPeer(port=self.down_port).start()
        self.assertTrue(wait_until(lambda: len(self.down_peer.messages()) == 1, 30), self.gw.log()[-2000:])
        self.assertTrue(wait_until(lambda: qid not in queue_listing(self.gw), 20))
        self.assertIn(b"Subject: down\r\n", self.down_peer.messages()[0])


class OpportunisticTlsTest(unittest.TestCase):
    """(f) an aiosmtpd sink offering STARTTLS with a self-signed certificate."""

    def test_opportunistic_tls(self):
        tmp = tempfile.mkdtemp(prefix="mxgate-tls-")
        sink = RecordingSink(starttls_context=server_context(tmp))
        spy = TlsSpy(sink.controller.handler)
        sink.controller.handler = spy
        with sink:
            with Gateway(tenants={"example": {"domains": ["example.test"],
                                              "delivery": smtp_tenant(sink.port, tls="may")}}) as gw:
                data = content("over tls")
                qid = submit(gw, ["user@example.test"], data)
                self.assertTrue(wait_until(lambda: sink.count() == 1, 20), gw.log()[-2000:])
                check_relayed(self, sink.messages[0]["data"], data, qid)
                self.assertIn(spy.versions[0], ("TLSv1.2", "TLSv1.3"))


class RetryTest(unittest.TestCase):
    """(g) 4xx at DATA: deferred, retried, delivered once the sink accepts."""

    def test_4xx_at_data_is_retried_until_accepted(self):
        with RecordingSink(data_reply="451 4.3.0 try later") as sink, \
                Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}}) as gw:
            data = content("deferred once")
            qid = submit(gw, ["user@example.test"], data)
            message = wait_listing(gw, qid, lambda m: m["attempts"] >= 1)
            self.assertIsNotNone(message)
            self.assertEqual(message["state"], "queued")
            self.assertEqual(message["recipients"][0]["state"], "pending")
            self.assertEqual(message["recipients"][0]["last_reply"], "451 4.3.0 try later")
            self.assertEqual(sink.count(), 0)
            sink.data_reply = None
            self.assertTrue(wait_until(lambda: sink.count() == 1, 20), gw.log()[-2000:])
            self.assertTrue(wait_until(lambda: qid not in queue_listing(gw), 20))
            time.sleep(2.5)  # longer than retry_max: no second copy
            self.assertEqual(sink.count(), 1)
            check_relayed(self, sink.messages[0]["data"], data, qid)


class DeadLetterTest(unittest.TestCase):
    """(h) 5xx at RCPT for one of two recipients; dead letter, retry, delete."""

    def test_partial_5xx_dead_letter_retry_delete(self):
        with RecordingSink(rcpt_replies={"bad@example.test": "550 5.1.1 no such user"}) as sink, \
                Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}}) as gw:
            qid = submit(gw, ["good@example.test", "bad@example.test"], content("half"))
            message = wait_listing(gw, qid, lambda m: m["state"] == "dead")
            self.assertIsNotNone(message, gw.log()[-2000:])
            self.assertEqual(message["dead_reason"], "permanent failure")
            states = {r["address"]: (r["state"], r["last_reply"]) for r in message["recipients"]}
            self.assertEqual(states["bad@example.test"], ("failed", "550 5.1.1 no such user"))
            self.assertEqual(states["good@example.test"][0], "delivered")
            self.assertEqual(sink.count(), 1)
            self.assertEqual(sink.messages[0]["rcpt_tos"], ["good@example.test"])

            shown = gw.cli("queue", "show", qid, "--json")
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertEqual(json.loads(shown.stdout)["state"], "dead")

            retried = gw.cli("queue", "retry", qid)
            self.assertEqual(retried.returncode, 0, retried.stdout + retried.stderr)
            self.assertIn("dead letter requeued", retried.stdout)
            again = wait_listing(gw, qid, lambda m: m["state"] == "dead" and m["attempts"] >= 2)
            self.assertIsNotNone(again, gw.log()[-2000:])
            states = {r["address"]: (r["state"], r["attempts"]) for r in again["recipients"]}
            self.assertEqual(states["bad@example.test"], ("failed", 2))
            self.assertEqual(states["good@example.test"], ("delivered", 1))
            self.assertEqual(sink.count(), 1)  # the delivered recipient is not sent again

            deleted = gw.cli("queue", "delete", qid)
            self.assertEqual(deleted.returncode, 0, deleted.stdout + deleted.stderr)
            self.assertNotIn(qid, queue_listing(gw))
            gone = gw.cli("queue", "show", qid)
            self.assertEqual(gone.returncode, 1)
            self.assertIn("no such message", gone.stdout)


class ConnectionReuseTest(unittest.TestCase):
    """(l) 50 messages over at most max_connections (4) connections to the next hop."""

    def test_connection_reuse(self):
        with RawPeer() as peer, \
                Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(peer.port)}}) as gw:
            errors = []

            def worker(numbers):
                try:
                    with smtplib.SMTP("127.0.0.1", gw.smtp_port, local_hostname="client.example", timeout=30) as s:
                        for n in numbers:
                            s.sendmail(SENDER, ["user@example.test"], content(f"reuse {n}"))
                except Exception as error:  # reported below
                    errors.append(error)
            threads = [threading.Thread(target=worker, args=(range(k, 50, 5),)) for k in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(errors, [])
            self.assertTrue(wait_until(lambda: len(peer.messages()) >= 50, 30), gw.log()[-2000:])
            time.sleep(0.5)
            self.assertEqual(len(peer.messages()), 50)
            subjects = {re.search(rb"Subject: reuse (\d+)", m).group(1) for m in peer.messages()}
            self.assertEqual(len(subjects), 50)
            self.assertLessEqual(len(peer.connections), 4)


class OddRepliesTest(unittest.TestCase):
    """Issue 9 items 2 and 3: a reply that does not fit its command, and 421 at every point.
    The peer answers one point oddly until the first attempt is on record, then normally: the
    message must be deferred (never delivered by the odd reply), the odd connection must get
    no further byte and be closed by mxgate, and the retry must deliver exactly one copy on a
    fresh connection. `plain` offers no PIPELINING (one reply per command), `piped` does,
    `tls` offers STARTTLS (level may)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-odd-")
        cls.plain = RawPeer(keywords=("8BITMIME",)).start()
        cls.piped = RawPeer(keywords=("PIPELINING", "8BITMIME")).start()
        cls.tls = RawPeer(keywords=("8BITMIME", "STARTTLS"), starttls="ok", tls_context=server_context(cls.tmp)).start()
        cls.gw = Gateway(tenants={
            "plain": {"domains": ["plain.test"], "delivery": smtp_tenant(cls.plain.port)},
            "piped": {"domains": ["piped.test"], "delivery": smtp_tenant(cls.piped.port)},
            "tls": {"domains": ["tls.test"], "delivery": smtp_tenant(cls.tls.port, tls="may")},
        }, overrides={"smtp_client": {"command_timeout": "20s"}})
        cls.gw.start()
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        for peer in (cls.plain, cls.piped, cls.tls):
            peer.stop()

    def deferred_then_delivered(self, peer, overrides, expected, recipients=("user",)):
        """Runs one case; expected: text every recipient's last reply of the odd attempt holds."""
        type(self).count += 1
        subject = f"odd {self.count}"
        marker = f"Subject: {subject}\r\n".encode()
        domain = {self.plain: "plain.test", self.piped: "piped.test", self.tls: "tls.test"}[peer]
        addresses = [f"{r}@{domain}" for r in recipients]
        with peer.lock:
            odd_before = {id(c) for c in peer.connections if c.overridden is not None}
        peer.overrides = overrides
        try:
            qid = submit(self.gw, addresses, content(subject, to=addresses[0]))
            message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 1)
            self.assertIsNotNone(message, self.gw.log()[-3000:])
            self.assertEqual(message["state"], "queued", message)
            for recipient in message["recipients"]:
                self.assertEqual(recipient["state"], "pending", message)
                self.assertIn(expected, recipient["last_reply"], message)
        finally:
            peer.overrides = {}

        def delivered():
            with peer.lock:
                return [c for c in peer.connections if c.overridden is None and any(marker in d for d in c.data)]
        self.assertTrue(wait_until(delivered, 30), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: qid not in queue_listing(self.gw), 20), self.gw.log()[-3000:])
        with peer.lock:
            odd = [c for c in peer.connections if c.overridden is not None and id(c) not in odd_before]
        self.assertTrue(odd)
        for c in odd:
            self.assertTrue(wait_until(lambda: c.after_override is not None, 20), c.commands)
            self.assertEqual(c.after_override, b"", f"sent after the odd reply to {c.overridden}")
            self.assertTrue(c.client_closed, "mxgate did not close the connection")
        self.assertEqual(len(delivered()), 1)
        self.assertEqual(sum(marker in d for c in delivered() for d in c.data), 1)
        return qid

    # ---- item 2: replies that do not fit their command ----

    def test_2xx_to_data_is_not_delivered(self):
        self.deferred_then_delivered(self.plain, {"DATA": (b"250 2.0.0 Ok: queued\r\n", "drain")},
                                     "answered DATA with 250 2.0.0 Ok: queued (expected 354, 4xx or 5xx)")

    def test_2xx_to_data_under_pipelining_is_not_delivered(self):
        self.deferred_then_delivered(self.piped, {"DATA": (b"250 2.0.0 Ok\r\n", "drain")},
                                     "protocol error: ", recipients=("a", "b"))

    def test_3xx_other_than_354_to_data(self):
        self.deferred_then_delivered(self.plain, {"DATA": (b"334 VXNlcm5hbWU6\r\n", "drain")},
                                     "answered DATA with 334")

    def test_3xx_to_mail_rcpt_and_the_end_of_data(self):
        self.deferred_then_delivered(self.plain, {"MAIL": (b"354 go ahead\r\n", "drain")}, "answered MAIL with 354")
        self.deferred_then_delivered(self.plain, {"RCPT": (b"354 go ahead\r\n", "drain")}, "answered RCPT with 354")
        self.deferred_then_delivered(self.plain, {"DOT": (b"354 more\r\n", "drain")},
                                     "answered the end of the data with 354")

    def test_3xx_to_starttls(self):
        self.deferred_then_delivered(self.tls, {"STARTTLS": (b"354 what\r\n", "drain")}, "answered STARTTLS with 354")

    def test_4xx_and_5xx_to_data_are_refusals(self):
        """The legitimate refusals keep their meaning: 4xx temporary (RSET, the connection is
        reused), 5xx permanent for the accepted recipients."""
        self.plain.overrides = {"DATA": (b"451 4.3.0 not now\r\n", "continue")}
        try:
            qid = submit(self.gw, ["user@plain.test"], content("data 451", to="user@plain.test"))
            message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 1)
            self.assertEqual(message["recipients"][0]["last_reply"], "451 4.3.0 not now")
            self.assertEqual(message["state"], "queued")
            self.plain.overrides = {"DATA": (b"554 5.6.0 never\r\n", "continue")}
            qid = submit(self.gw, ["user@plain.test"], content("data 554", to="user@plain.test"))
            message = wait_listing(self.gw, qid, lambda m: m["state"] == "dead")
            self.assertIsNotNone(message, self.gw.log()[-2000:])
            self.assertEqual(message["recipients"][0]["last_reply"], "554 5.6.0 never")
        finally:
            self.plain.overrides = {}
        with self.plain.lock:
            refused = [c for c in self.plain.connections if c.overridden == "DATA"]
        self.assertTrue(any(b"RSET" in c.commands for c in refused))

    # ---- item 3: 421 closes the connection, at every point ----

    def test_421_at_every_point(self):
        bye = b"421 4.3.2 peer.test closing\r\n"
        for point in ("greeting", "EHLO", "MAIL", "RCPT", "DATA", "DOT"):
            with self.subTest(point=point):
                self.deferred_then_delivered(self.plain, {point: (bye, "drain")}, "421 4.3.2 peer.test closing")
        with self.subTest(point="RSET"):
            self.deferred_then_delivered(self.plain, {"RCPT": (b"450 4.2.1 later\r\n", "continue"),
                                                      "RSET": (bye, "drain")}, "421 4.3.2 peer.test closing")
        with self.subTest(point="STARTTLS"):
            self.deferred_then_delivered(self.tls, {"STARTTLS": (bye, "drain")}, "421 4.3.2 peer.test closing")

    def test_replies_queued_behind_a_421_are_not_read(self):
        """PIPELINING: MAIL, RCPT a, RCPT b and DATA go out together; the second RCPT is
        answered by a 421 followed by a stale 354. The 354 must not start the body."""
        self.deferred_then_delivered(
            self.piped, {"RCPT2": (b"421 4.3.2 closing\r\n354 go ahead\r\n", "drain")}, "421 4.3.2 closing",
            recipients=("a", "b"))


class Waiting421Test(unittest.TestCase):
    """Item 3: a 421 in the middle of one transaction fails only that job; the job waiting for
    the same (single) connection goes to a new connection and is delivered at its first attempt."""

    def test_waiting_job_is_not_failed_by_another_connections_421(self):
        with RawPeer(keywords=("8BITMIME",)) as peer, \
                Gateway(tenants={"example": {"domains": ["example.test"],
                                             "delivery": smtp_tenant(peer.port, max_connections=1)}},
                        overrides={"node": {"workers": 1}}) as gw:
            # The 421 comes 3 s after MAIL, by when the second message waits for the connection.
            peer.overrides = {"MAIL": (b"421 4.3.2 closing\r\n", "drain", 3.0)}
            peer.override_connections = 1
            qids = [submit(gw, ["user@example.test"], content(f"waiting {n}")) for n in range(2)]
            self.assertTrue(wait_until(lambda: len(peer.messages()) == 2, 30), gw.log()[-3000:])
            self.assertTrue(wait_until(lambda: not any(q in queue_listing(gw) for q in qids), 20))
            log = gw.log()
            deferred = [q for q in qids if re.search(q + r": event=deferred .*421 4\.3\.2 closing", log)]
            self.assertEqual(len(deferred), 1, log[-3000:])
            [other] = [q for q in qids if q not in deferred]
            self.assertRegex(log, other + r": event=done attempts=1\b")
            self.assertEqual(peer.connections[0].after_override, b"")
            self.assertTrue(peer.connections[0].client_closed)


class TlsLevelsTest(unittest.TestCase):
    """Item 4: the TLS security levels. A test CA (openssl CLI) issues a good certificate for
    mx.verify.test, one for another name and an expired one; a self-signed one stands beside
    them. Every peer is an aiosmtpd sink with STARTTLS unless said otherwise; mxgate connects to
    127.0.0.1 and checks the name delivery.tls_verify_name."""

    NAME = "mx.verify.test"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-levels-")
        pki = TestPki(cls.tmp)
        cls.contexts = {
            "good": server_tls_context(*pki.issue("good", cls.NAME)),
            "wrong": server_tls_context(*pki.issue("wrong", "other.verify.test")),
            "self": server_tls_context(*self_signed(cls.tmp, cls.NAME)),
            "expired": server_tls_context(*pki.expired("expired", cls.NAME)),
        }
        cls.sinks = {name: TlsSpy.attach(RecordingSink(starttls_context=context)).start()
                     for name, context in cls.contexts.items()}
        cls.sinks["plain"] = TlsSpy.attach(RecordingSink()).start()
        cls.broken = RawPeer(keywords=("8BITMIME", "STARTTLS"), starttls="broken").start()
        cls.offering = RawPeer(keywords=("8BITMIME", "STARTTLS"), starttls="ok",
                               tls_context=cls.contexts["self"]).start()
        verify = {"tls": "verify", "tls_ca_file": pki.ca_cert, "tls_verify_name": cls.NAME}
        tenants = {f"verify-{name}": smtp_tenant(cls.sinks[name].port, **verify)
                   for name in ("good", "wrong", "self", "expired")}
        tenants.update({
            "encrypt-self": smtp_tenant(cls.sinks["self"].port, tls="encrypt"),
            "encrypt-plain": smtp_tenant(cls.sinks["plain"].port, tls="encrypt"),
            "may-plain": smtp_tenant(cls.sinks["plain"].port, tls="may"),
            "may-broken": smtp_tenant(cls.broken.port, tls="may"),
            "none-offering": smtp_tenant(cls.offering.port, tls="none"),
        })
        cls.gw = Gateway(tenants={name: {"domains": [name + ".test"], "delivery": delivery}
                                  for name, delivery in tenants.items()})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        for sink in cls.sinks.values():
            sink.stop()
        cls.broken.stop()
        cls.offering.stop()

    def send(self, tenant):
        address = f"user@{tenant}.test"
        return submit(self.gw, [address], content(tenant, to=address))

    def arrived(self, sink, tenant):
        return [m for m in self.sinks[sink].messages if f"Subject: {tenant}\r\n".encode() in m["data"]]

    def assert_delivered(self, sink, tenant):
        """Sends a message for tenant and waits until it arrives at sink; returns the TLS
        versions that sink's sessions used."""
        self.send(tenant)
        self.assertTrue(wait_until(lambda: self.arrived(sink, tenant), 20), self.gw.log()[-3000:])
        return self.sinks[sink].spy.versions

    def assert_deferred(self, tenant, reason):
        qid = self.send(tenant)
        message = wait_listing(self.gw, qid, lambda m: m["attempts"] >= 1)
        self.assertIsNotNone(message, self.gw.log()[-3000:])
        self.assertEqual(message["state"], "queued", message)
        [recipient] = message["recipients"]
        self.assertEqual(recipient["state"], "pending")
        self.assertIn(reason, recipient["last_reply"])
        self.assertRegex(self.gw.log(), qid + r": event=smtp_client_failed .*" + re.escape(reason))
        return recipient["last_reply"]

    def test_verify_delivers_to_the_good_peer_with_sni(self):
        [version] = self.assert_delivered("good", "verify-good")
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        self.assertIn(self.NAME, self.contexts["good"].sni_names)

    def test_verify_defers_for_a_wrong_name(self):
        reply = self.assert_deferred("verify-wrong", "certificate verify failed: hostname mismatch")
        self.assertIn("name checked: " + self.NAME, reply)
        self.assertFalse(self.arrived("wrong", "verify-wrong"))

    def test_verify_defers_for_a_self_signed_certificate(self):
        self.assert_deferred("verify-self", "certificate verify failed: self-signed certificate")
        self.assertFalse(self.arrived("self", "verify-self"))

    def test_verify_defers_for_an_expired_certificate(self):
        self.assert_deferred("verify-expired", "certificate verify failed: certificate has expired")
        self.assertFalse(self.arrived("expired", "verify-expired"))

    def test_encrypt_delivers_to_a_self_signed_peer(self):
        versions = self.assert_delivered("self", "encrypt-self")
        self.assertTrue(all(v in ("TLSv1.2", "TLSv1.3") for v in versions))

    def test_encrypt_defers_to_a_peer_without_starttls(self):
        self.assert_deferred("encrypt-plain", "does not offer STARTTLS")
        self.assertFalse(self.arrived("plain", "encrypt-plain"))

    def test_may_delivers_in_plaintext_to_a_peer_without_starttls(self):
        self.assertIn(None, self.assert_delivered("plain", "may-plain"))

    def test_may_retries_in_plaintext_after_a_failed_handshake(self):
        qid = self.send("may-broken")
        self.assertTrue(wait_until(lambda: len(self.broken.messages()) == 1, 20), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: qid not in queue_listing(self.gw), 20))
        with self.broken.lock:
            first, second = self.broken.connections[:2]
        self.assertIn(b"STARTTLS", first.commands)
        self.assertEqual(first.data, [])
        self.assertNotIn(b"STARTTLS", second.commands)
        self.assertEqual(len(second.data), 1)
        self.assertRegex(self.gw.log(), qid + r": event=smtp_client_tls_fallback .*TLS handshake with")
        self.assertRegex(self.gw.log(), qid + r": event=done attempts=1\b")

    def test_none_never_sends_starttls(self):
        qid = self.send("none-offering")
        self.assertTrue(wait_until(lambda: len(self.offering.messages()) == 1, 20), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: qid not in queue_listing(self.gw), 20))
        with self.offering.lock:
            self.assertFalse(any(b"STARTTLS" in c.commands for c in self.offering.connections))
            self.assertFalse(any(c.tls for c in self.offering.connections))


# ---- (i) queue.max_age expiry: started with the module, checked by the last test ----------

EXPIRY = {}


def setUpModule():
    sink = RecordingSink(data_reply="452 4.2.2 mailbox full").start()
    gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}},
                 overrides={"queue": {"max_age": "1m"}})
    gw.start()
    EXPIRY.update(sink=sink, gw=gw, started=time.monotonic(), qid=submit(gw, ["user@example.test"], content("expiry")))


def tearDownModule():
    if EXPIRY:
        EXPIRY["gw"].cleanup()
        EXPIRY["sink"].stop()


class ZzExpiryTest(unittest.TestCase):
    """Runs last (classes run in name order) so the minute of queue.max_age overlaps the
    other tests: a message that only ever gets 4xx is dead-lettered as expired."""

    def test_max_age_expiry(self):
        gw, qid = EXPIRY["gw"], EXPIRY["qid"]
        left = 60 + 15 - (time.monotonic() - EXPIRY["started"])
        message = wait_listing(gw, qid, lambda m: m["state"] == "dead", timeout=max(left, 5))
        self.assertIsNotNone(message, gw.log()[-2000:])
        self.assertEqual(message["state"], "dead", message)
        self.assertEqual(message["dead_reason"], "expired")
        [recipient] = message["recipients"]
        self.assertEqual(recipient["state"], "failed")
        self.assertTrue(recipient["last_reply"].startswith("expired after 60 s in the queue; last reply: 452 4.2.2"),
                        recipient["last_reply"])
        self.assertGreaterEqual(time.monotonic() - EXPIRY["started"], 59)
        self.assertEqual(EXPIRY["sink"].count(), 0)


if __name__ == "__main__":
    unittest.main()
