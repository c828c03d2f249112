"""SMTP protocol conformance of the real server over loopback: the EHLO keyword list per
listener kind, HELO, STARTTLS (state, versions, ciphers), implicit TLS, the submission
listener, the minimal commands, the open-relay battery (reliability.md T10), every smtp.*
limit (T12-T18), CHUNKING/BDAT (RFC 3030) and PIPELINING (RFC 2920). Replies are checked
against src/smtp/replies.cpp exactly (code and enhanced code, and text where it matters).
"""

import os
import ssl
import time
import unittest

from harness import Client, Gateway, free_port, queue_id, unverified_context, wait_until
from support_protocol import ehlo_keywords, read_inbox_file, split_stored, wait_queue_empty

HOST = "mx.test.mxgate"
RCPT = "user@example.test"
SENDER = "sender@remote.example"
DEFAULT_SIZE = 25 * 1024 * 1024
KEYWORDS_BEFORE_TLS = ["PIPELINING", f"SIZE {DEFAULT_SIZE}", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                       "STARTTLS", "CHUNKING"]
KEYWORDS_NO_TLS = [k for k in KEYWORDS_BEFORE_TLS if k != "STARTTLS"]
AEAD_MARKERS = ("GCM", "CHACHA20", "CCM")


def content(subject="t", body=b"hello\r\n"):
    return f"From: {SENDER}\r\nTo: {RCPT}\r\nSubject: {subject}\r\n\r\n".encode() + body


def start_gateway(smtp=None, extra_listeners=()):
    """A Gateway with the default inbound+submission listeners plus extra_listeners
    [(name, role, tls)], each on its own free port; returns (gateway, {name: port})."""
    gw = Gateway(overrides={"smtp": dict(smtp or {})})
    ports = {"inbound": gw.smtp_port, "submission": gw.submission_port}
    for name, role, tls in extra_listeners:
        port = free_port()
        ports[name] = port
        gw.listeners.append({"name": name, "role": role, "address": "127.0.0.1", "port": port, "tls": tls})
    gw.write_config()
    gw.start()
    return gw, ports


class ProtocolTest(unittest.TestCase):
    """One node with four listeners: inbound/STARTTLS, submission/STARTTLS, inbound/none,
    inbound/implicit TLS. max_errors is raised so the relay battery can run on one session."""

    @classmethod
    def setUpClass(cls):
        cls.gw, cls.ports = start_gateway({"max_errors": 1000, "command_timeout": "20s"},
                                          [("plain", "inbound", "none"), ("implicit", "inbound", "implicit")])

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def client(self, listener="inbound", **kwargs):
        return Client(self.ports[listener], **kwargs)

    def assertReply(self, reply, expected, text=None):
        self.assertIsNotNone(reply, "connection closed instead of a reply")
        self.assertEqual(reply.short(), expected, reply)
        if text is not None:
            self.assertEqual(reply.lines[-1], text.encode())

    # ---- greeting, EHLO, HELO --------------------------------------------------------------

    def test_greeting(self):
        with self.client() as c:
            self.assertEqual(c.greeting.lines, [f"220 {HOST} ESMTP mxgate".encode()])

    def test_ehlo_keywords_exact_on_starttls_listener(self):
        with self.client() as c:
            reply = c.ehlo()
            self.assertEqual(reply.lines[0], f"250-{HOST}".encode())
            self.assertEqual(ehlo_keywords(reply), KEYWORDS_BEFORE_TLS)
            self.assertEqual(reply.lines[-1], b"250 CHUNKING")
            self.assertTrue(all(line.startswith(b"250-") for line in reply.lines[:-1]))

    def test_ehlo_keywords_without_starttls_on_plain_listener(self):
        with self.client("plain") as c:
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_NO_TLS)
            self.assertReply(c.command("STARTTLS\r\n"), "454 4.7.0", "454 4.7.0 TLS not available due to local problem")

    def test_helo_reply(self):
        with self.client() as c:
            reply = c.command("HELO client.example\r\n")
            self.assertEqual(reply.lines, [f"250 {HOST}".encode()])
            self.assertReply(c.command("HELO\r\n"), "501 5.5.4", "501 5.5.4 Syntax: HELO hostname")
            self.assertReply(c.command("EHLO\r\n"), "501 5.5.4", "501 5.5.4 Syntax: EHLO hostname")

    def test_starttls_then_ehlo_hides_starttls_and_second_starttls_is_503(self):
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("STARTTLS\r\n"), "220 2.0.0", "220 2.0.0 Ready to start TLS")
            c.starttls()
            self.assertReply(c.command("MAIL FROM:<a@example.org>\r\n"), "503 5.5.1")  # EHLO again first
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_NO_TLS)
            self.assertReply(c.command("STARTTLS\r\n"), "503 5.5.1", "503 5.5.1 Error: TLS already active")
            _, reply = c.transaction(SENDER, [RCPT], content("tls"))
            self.assertReply(reply, "250 2.0.0")
        received = split_stored(read_inbox_file(self.gw, queue_id(reply)))[2]
        self.assertIn(b"with ESMTPS (TLSv1.3 ", received)

    # ---- TLS versions and ciphers ----------------------------------------------------------

    def tls_session(self, context):
        c = self.client()
        c.ehlo()
        self.assertReply(c.command("STARTTLS\r\n"), "220 2.0.0")
        c.starttls(context)
        return c

    def test_tls13_negotiates(self):
        with self.tls_session(unverified_context(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)) as c:
            self.assertEqual(c.sock.version(), "TLSv1.3")
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_NO_TLS)

    def test_tls12_negotiates_with_an_aead_cipher(self):
        with self.tls_session(unverified_context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)) as c:
            self.assertEqual(c.sock.version(), "TLSv1.2")
            cipher = c.sock.cipher()[0]
            self.assertTrue(any(marker in cipher for marker in AEAD_MARKERS), cipher)
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_NO_TLS)

    def test_tls12_client_offering_only_cbc_ciphers_is_refused(self):
        context = unverified_context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                                     "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA:AES128-SHA256")
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("STARTTLS\r\n"), "220 2.0.0")
            with self.assertRaises(ssl.SSLError):
                c.starttls(context)

    def test_tls11_client_fails_the_handshake(self):
        context = unverified_context(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0")
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("STARTTLS\r\n"), "220 2.0.0")
            with self.assertRaises(ssl.SSLError) as caught:
                c.starttls(context)
            if "NO_PROTOCOLS_AVAILABLE" in (caught.exception.reason or ""):
                self.skipTest("the local OpenSSL refuses to offer TLS 1.1 at all")
            # the server answered the TLS 1.1 ClientHello with a protocol_version alert
            self.assertIn("PROTOCOL_VERSION", caught.exception.reason or str(caught.exception))

    # ---- implicit TLS ----------------------------------------------------------------------

    def test_implicit_tls_greeting_inside_tls(self):
        with self.client("implicit", implicit_tls=unverified_context()) as c:
            self.assertEqual(c.sock.version(), "TLSv1.3")
            self.assertEqual(c.greeting.lines, [f"220 {HOST} ESMTP mxgate".encode()])
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_NO_TLS)
            _, reply = c.transaction(SENDER, [RCPT], content("implicit"))
            self.assertReply(reply, "250 2.0.0")
            self.assertReply(c.command("QUIT\r\n"), "221 2.0.0")
        received = split_stored(read_inbox_file(self.gw, queue_id(reply)))[2]
        self.assertIn(b"with ESMTPS (TLSv1.3 ", received)

    def test_implicit_tls_sends_no_plaintext_greeting(self):
        with self.client("implicit", greeting=False) as c:
            self.assertTrue(c.silent_for(1.0), c.buffer)

    # ---- submission listener ---------------------------------------------------------------

    def test_submission_requires_auth_for_mail(self):
        with self.client("submission") as c:
            self.assertEqual(ehlo_keywords(c.ehlo()), KEYWORDS_BEFORE_TLS)
            self.assertReply(c.command(f"MAIL FROM:<{RCPT}>\r\n"), "530 5.7.0", "530 5.7.0 Authentication required")

    # ---- minimal commands ------------------------------------------------------------------

    def test_minimal_commands(self):
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"), "503 5.5.1",
                             "503 5.5.1 Error: authentication not enabled")
            self.assertReply(c.command(f"VRFY {RCPT}\r\n"), "252 2.5.0",
                             "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery")
            self.assertReply(c.command("EXPN staff\r\n"), "502 5.5.1", "502 5.5.1 Error: command not implemented")
            self.assertReply(c.command("HELP\r\n"), "214 2.0.0")
            self.assertReply(c.command("NOOP\r\n"), "250 2.0.0", "250 2.0.0 Ok")
            self.assertReply(c.command("MAIL FROM:<a@example.org>\r\n"), "250 2.1.0")
            self.assertReply(c.command("RSET\r\n"), "250 2.0.0", "250 2.0.0 Ok")
            self.assertReply(c.command(f"RCPT TO:<{RCPT}>\r\n"), "503 5.5.1", "503 5.5.1 Error: need MAIL command")
            self.assertReply(c.command("FROB\r\n"), "500 5.5.2", "500 5.5.2 Error: command not recognized")
            self.assertReply(c.command("QUIT\r\n"), "221 2.0.0", "221 2.0.0 Bye")
            self.assertTrue(c.closed(5.0))

    def test_http_and_proxy_requests_get_221_and_close(self):
        for request in ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST /submit HTTP/1.0\r\n\r\n",
                        "CONNECT relay.invalid:25 HTTP/1.1\r\n\r\n"):
            with self.subTest(request=request.split()[0]), self.client() as c:
                c.send(request)
                self.assertEqual([r.lines for r in c.replies_until_eof()],
                                 [[b"221 2.7.0 Error: this is an SMTP server. Goodbye."]])

    def test_auth_before_tls_on_a_submission_listener_is_538_and_on_inbound_503(self):
        with self.client("submission") as c:
            c.ehlo()
            self.assertReply(c.command("AUTH LOGIN\r\n"), "538 5.7.11")  # RFC 4954 §6: TLS first
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("AUTH LOGIN\r\n"), "503 5.5.1")

    # ---- open relay battery (T10) ------------------------------------------------------------

    # (form, expected reply) for RCPT TO:<form> after MAIL FROM:<a@example.org>. The real
    # destination of each 550 form is not a tenant domain; the 501 forms are not RFC 5321
    # mailboxes at all. None of them may get a 250.
    RELAY_DENIED = [
        "relaytest@relay.invalid",
        "RelayTest@RELAY.INVALID",
        "relaytest%example.test@relay.invalid",            # percent hack, hosted name in the local part
        "relaytest%relay.invalid@[127.0.0.1]",             # percent hack at our own IP literal
        "relaytest%example.test@[127.0.0.1]",
        "relaytest@[127.0.0.1]",                           # IP literal domain
        "relaytest@[IPv6:::1]",
        '"relaytest@relay.invalid"@[127.0.0.1]',           # quoted local part
        '"relaytest@example.test"@relay.invalid',
        "@[127.0.0.1]:relaytest@relay.invalid",            # source routes (route ignored)
        "@example.test:relaytest@relay.invalid",
        "@example.test,@relay.invalid:relaytest@relay.invalid",
        "relay.invalid!relaytest@[127.0.0.1]",             # bang paths
        "relay.invalid!relaytest@relay.invalid",
        "example.test!relaytest@relay.invalid",
        "relaytest@sub.example.test",                      # sub-domain of a hosted domain
        "relaytest@example.test.relay.invalid",            # hosted domain as a prefix
        "relaytest@example.testrelay.invalid",
        "relaytest@xn--exmple-cua.test",                   # IDN look-alike
        "postmaster@relay.invalid",                        # postmaster of another domain
        "relaytest@[192.0.2.1]",
    ]
    RELAY_SYNTAX = [
        '"relaytest@relay.invalid"',                       # quoted "a@b" without a domain
        '"relaytest%relay.invalid"',
        "relaytest@relay.invalid@[127.0.0.1]",             # double @
        "relaytest@relay.invalid@example.test",
        "relay.invalid!relaytest",                         # bang path without a domain
        "relaytest@relay.invalid.",                        # trailing dot (not RFC 5321 Domain syntax)
        "user@example.test.",
    ]
    # Destination is a hosted domain: the local part is opaque (RFC 5321 §2.4), a source
    # route is ignored (§3.6.1, appendix C); these are deliveries to the tenant, not relaying.
    HOSTED = [
        ("user@EXAMPLE.TEST", "user@example.test"),
        ("User@Example.Test", "User@example.test"),
        ("relaytest%relay.invalid@example.test", "relaytest%relay.invalid@example.test"),
        ("relay.invalid!relaytest@example.test", "relay.invalid!relaytest@example.test"),
        ('"relaytest@relay.invalid"@example.test', '"relaytest@relay.invalid"@example.test'),
        ("@relay.invalid:user@example.test", "user@example.test"),
        ("postmaster", "postmaster@example.test"),
        ("PostMaster", "postmaster@example.test"),
    ]

    def test_open_relay_battery(self):
        self.assertGreaterEqual(len(self.RELAY_DENIED) + len(self.RELAY_SYNTAX), 20)
        with self.client() as c:
            c.ehlo()
            for sender in ("a@example.org", "", RCPT):  # a hosted sender grants nothing
                for form in self.RELAY_DENIED:
                    with self.subTest(sender=sender, form=form):
                        self.assertReply(c.command(f"MAIL FROM:<{sender}>\r\n"), "250 2.1.0")
                        reply = c.command(f"RCPT TO:<{form}>\r\n")
                        self.assertReply(reply, "550 5.7.1")
                        self.assertTrue(reply.text.endswith(b">: Relay access denied"), reply)
                        self.assertReply(c.command("RSET\r\n"), "250 2.0.0")
            for form in self.RELAY_SYNTAX:
                with self.subTest(form=form):
                    self.assertReply(c.command("MAIL FROM:<a@example.org>\r\n"), "250 2.1.0")
                    self.assertReply(c.command(f"RCPT TO:<{form}>\r\n"), "501 5.1.3")
                    self.assertReply(c.command("DATA\r\n"), "554 5.5.1")  # nothing was accepted
                    self.assertReply(c.command("RSET\r\n"), "250 2.0.0")
            # a hosted domain only as a display name / outside the path
            for line, expected in [("RCPT TO:example.test <relaytest@relay.invalid>", "501 5.5.4"),
                                   ('RCPT TO:"user@example.test" <relaytest@relay.invalid>', "501 5.5.4"),
                                   ("RCPT TO:<relaytest@relay.invalid> user@example.test", "555 5.5.4"),
                                   ("RCPT TO: <relaytest@relay.invalid>", "550 5.7.1")]:
                with self.subTest(line=line):
                    self.assertReply(c.command("MAIL FROM:<a@example.org>\r\n"), "250 2.1.0")
                    self.assertReply(c.command(line + "\r\n"), expected)
                    self.assertReply(c.command("RSET\r\n"), "250 2.0.0")
            # a UTF-8 domain that is not hosted, with SMTPUTF8
            self.assertReply(c.command("MAIL FROM:<a@example.org> SMTPUTF8\r\n"), "250 2.1.0")
            self.assertReply(c.command("RCPT TO:<relaytest@ex\u00e4mple.test>\r\n".encode()), "550 5.7.1")
            self.assertReply(c.command("RSET\r\n"), "250 2.0.0")

    def test_hosted_forms_are_accepted_and_delivered_locally(self):
        with self.client() as c:
            c.ehlo()
            for form, delivered_to in self.HOSTED:
                with self.subTest(form=form):
                    self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")
                    self.assertReply(c.command(f"RCPT TO:<{form}>\r\n"), "250 2.1.5")
                    self.assertEqual(c.command("DATA\r\n").code, 354)
                    c.send(content("hosted form") + b".\r\n")
                    reply = c.reply()
                    self.assertReply(reply, "250 2.0.0")
                    delivered = split_stored(read_inbox_file(self.gw, queue_id(reply)))[1]
                    self.assertEqual(delivered, [delivered_to.encode()])

    # ---- max_line_length (default 2 KiB) -------------------------------------------------------

    def test_command_line_length_limit(self):
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("NOOP " + "x" * (2048 - 7) + "\r\n"), "250 2.0.0")  # 2048 octets: fits
            self.assertReply(c.command("NOOP " + "x" * (2048 - 6) + "\r\n"), "500 5.5.2",
                             "500 5.5.2 Error: line too long")
            self.assertReply(c.command("MAIL FROM:<" + "a" * 2980 + "@example.org>\r\n"), "500 5.5.2")
            self.assertReply(c.command("NOOP\r\n"), "250 2.0.0")  # in sync
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")

    def test_bare_lf_in_command_is_rejected(self):
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command("NOOP\n"), "500 5.5.2", "500 5.5.2 Error: bare <LF> received")
            self.assertReply(c.command("NOOP\r\n"), "250 2.0.0")

    # ---- CHUNKING / BDAT ---------------------------------------------------------------------

    def bdat_ready(self, c):
        c.ehlo()
        self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")
        self.assertReply(c.command(f"RCPT TO:<{RCPT}>\r\n"), "250 2.1.5")

    def stored_content(self, reply):
        return split_stored(read_inbox_file(self.gw, queue_id(reply)))[3]

    def test_bdat_one_chunk_last(self):
        payload = content("bdat one") + b".leading dot stays\r\n.\r\n"
        with self.client() as c:
            self.bdat_ready(c)
            reply = c.command(f"BDAT {len(payload)} LAST\r\n".encode() + payload)
            self.assertReply(reply, "250 2.0.0")
        self.assertEqual(self.stored_content(reply), payload)

    def test_bdat_several_chunks_split_anywhere(self):
        payload = content("bdat many", b"line one\r\nline two\r\n" * 50)
        cuts = [0, 7, len(payload) // 2 - 1, len(payload) // 2, len(payload) - 3, len(payload)]
        cr = payload.index(b"\r\n", 60) + 1  # a chunk boundary between CR and LF
        cuts = sorted(set(cuts + [cr]))
        chunks = [payload[a:b] for a, b in zip(cuts, cuts[1:])]
        with self.client() as c:
            self.bdat_ready(c)
            for chunk in chunks:
                self.assertReply(c.command(f"BDAT {len(chunk)}\r\n".encode() + chunk), "250 2.0.0",
                                 f"250 2.0.0 Ok: {len(chunk)} octets received")
            reply = c.command("BDAT 0 LAST\r\n")
            self.assertReply(reply, "250 2.0.0")
        self.assertEqual(self.stored_content(reply), payload)

    def test_large_messages_are_stored_byte_exact(self):
        """5 MiB by DATA and 3 MiB by BDAT in irregular chunks: many spool chunks, read back
        for delivery, equal to what was sent."""
        line = bytes(range(32, 127)) + b"\r\n"
        big = content("big data", line * (5 * 1024 * 1024 // len(line)))
        chunked = content("big bdat", b".dot line\r\n" + line * (3 * 1024 * 1024 // len(line)))
        with self.client() as c:
            c.ehlo()
            _, by_data = c.transaction(SENDER, [RCPT], big)
            self.assertReply(by_data, "250 2.0.0")
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")
            self.assertReply(c.command(f"RCPT TO:<{RCPT}>\r\n"), "250 2.1.5")
            offset, size = 0, 1
            while offset < len(chunked):
                piece = chunked[offset:offset + size]
                offset += len(piece)
                last = b" LAST" if offset == len(chunked) else b""
                by_bdat = c.command(b"BDAT %d%s\r\n" % (len(piece), last) + piece)
                self.assertEqual(by_bdat.code, 250, by_bdat)
                size = size * 7 + 13
        self.assertEqual(self.stored_content(by_data), big)
        self.assertEqual(self.stored_content(by_bdat), chunked)

    def test_bdat_without_mail_is_503_after_the_chunk_and_stays_in_sync(self):
        chunk = b"MAIL FROM:<x@example.org>\r\nQUIT\r\n"
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command(f"BDAT {len(chunk)}\r\n".encode() + chunk), "503 5.5.1",
                             "503 5.5.1 Error: need MAIL command")
            self.assertTrue(c.silent_for(0.5), c.buffer)  # the chunk's text ran as no command
            self.assertReply(c.command("NOOP\r\n"), "250 2.0.0")
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")

    def test_bdat_without_valid_recipients_is_554_after_the_chunk(self):
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")
            self.assertReply(c.command("RCPT TO:<relaytest@relay.invalid>\r\n"), "550 5.7.1")
            self.assertReply(c.command(b"BDAT 6 LAST\r\nNOOP\r\n"), "554 5.5.1", "554 5.5.1 Error: no valid recipients")
            self.assertTrue(c.silent_for(0.5), c.buffer)
            self.assertReply(c.command("NOOP\r\n"), "250 2.0.0")

    def test_bdat_with_a_bad_size_closes_the_session(self):
        """Without a valid size the chunk cannot be skipped (RFC 3030 §3): 501 and close."""
        with self.client() as c:
            self.bdat_ready(c)
            self.assertEqual([r.lines for r in c.command_then_eof("BDAT 12x LAST\r\nhello\r\n")],
                             [[b"501 5.5.4 Syntax: BDAT size [LAST]"]])

    def test_data_after_bdat_is_503(self):
        first = content("mixed")
        with self.client() as c:
            self.bdat_ready(c)
            self.assertReply(c.command(f"BDAT {len(first)}\r\n".encode() + first), "250 2.0.0")
            self.assertReply(c.command("DATA\r\n"), "503 5.5.1",
                             "503 5.5.1 Error: DATA and BDAT cannot be mixed in one transaction")
            reply = c.command("BDAT 0 LAST\r\n")
            self.assertReply(reply, "250 2.0.0")
        self.assertEqual(self.stored_content(reply), first)

    def test_bdat_after_a_completed_data_transaction_needs_mail(self):
        with self.client() as c:
            self.bdat_ready(c)
            self.assertEqual(c.command("DATA\r\n").code, 354)
            c.send(content("data first") + b".\r\n")
            self.assertReply(c.reply(), "250 2.0.0")
            self.assertReply(c.command("BDAT 3 LAST\r\nabc"), "503 5.5.1")  # no transaction any more

    def test_pipelined_two_bdat_transactions_in_one_write(self):
        one, two = content("pipe one"), content("pipe two")
        group = b"".join(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nBDAT {len(p)} LAST\r\n".encode() + p
                         for p in (one, two))
        with self.client() as c:
            c.ehlo()
            c.send(group)
            replies = c.replies(6)
            self.assertEqual([r.short() for r in replies], ["250 2.1.0", "250 2.1.5", "250 2.0.0"] * 2)
            self.assertReply(c.command("QUIT\r\n"), "221 2.0.0")
        self.assertEqual(self.stored_content(replies[2]), one)
        self.assertEqual(self.stored_content(replies[5]), two)

    # ---- PIPELINING --------------------------------------------------------------------------

    def test_pipelining_group_answers_in_order(self):
        with self.client() as c:
            c.ehlo()
            c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n")
            self.assertEqual([r.short() for r in c.replies(4)], ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"])
            c.send(content("pipelined") + b".\r\nQUIT\r\n")
            final = c.reply()
            self.assertReply(final, "250 2.0.0")
            self.assertReply(c.reply(), "221 2.0.0")
        self.assertEqual(split_stored(read_inbox_file(self.gw, queue_id(final)))[1],
                         [b"user@example.test", b"other@example.test"])

    def test_next_transaction_pipelined_after_the_final_dot(self):
        """RFC 2920: commands may follow <CRLF>.<CRLF> in the same write; DATA ends the group."""
        with self.client() as c:
            c.ehlo()
            c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n")
            self.assertEqual([r.short() for r in c.replies(3)], ["250 2.1.0", "250 2.1.5", "354"])
            c.send(content("first") + b".\r\n" + f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode())
            replies = c.replies(4)
            self.assertEqual([r.short() for r in replies], ["250 2.0.0", "250 2.1.0", "250 2.1.5", "354"])
            c.send(content("second") + b".\r\n")
            second = c.reply()
            self.assertReply(second, "250 2.0.0")
        self.assertEqual(self.stored_content(replies[0]), content("first"))
        self.assertEqual(self.stored_content(second), content("second"))

    def test_end_of_data_split_across_writes(self):
        """The terminator and stuffed dots are found whatever the segmenting (CRLF split
        between writes, a stuffed dot alone in a write); nothing is answered before the end."""
        pieces = [b"Subject: split\r\n\r\nline\r", b"\n.", b".stuffed\r\n", b"..", b"\r\n", b"end\r\n", b"\r",
                  b"\n", b".", b"\r", b"\n"]
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")
            self.assertReply(c.command(f"RCPT TO:<{RCPT}>\r\n"), "250 2.1.5")
            self.assertEqual(c.command("DATA\r\n").code, 354)
            for piece in pieces[:-1]:
                c.send(piece)
                self.assertTrue(c.silent_for(0.05), c.buffer)
            reply = c.command(pieces[-1])
            self.assertReply(reply, "250 2.0.0")
        self.assertEqual(self.stored_content(reply), b"Subject: split\r\n\r\nline\r\n.stuffed\r\n.\r\nend\r\n\r\n")

    def test_commands_are_case_insensitive(self):
        with self.client() as c:
            self.assertEqual(c.command("ehlo client.example\r\n").code, 250)
            self.assertReply(c.command(f"mail from:<{SENDER}>\r\n"), "250 2.1.0")
            self.assertReply(c.command(f"Rcpt To:<{RCPT}>\r\n"), "250 2.1.5")
            self.assertEqual(c.command("data\r\n").code, 354)
            c.send(content("lower") + b".\r\n")
            self.assertReply(c.reply(), "250 2.0.0")
            self.assertReply(c.command("quit\r\n"), "221 2.0.0")

    def test_invalid_utf8_and_control_bytes_in_commands(self):
        with self.client() as c:
            c.ehlo()
            for line in (b"NOOP \xc3\x28\r\n", b"NOOP \xff\r\n", b"MAIL FROM:<a\x01@example.org>\r\n"):
                with self.subTest(line=line):
                    self.assertReply(c.command(line), "500 5.5.2", "500 5.5.2 Error: invalid characters in command")
            self.assertReply(c.command(f"MAIL FROM:<{SENDER}>\r\n"), "250 2.1.0")  # session continues

    def test_received_header_format(self):
        with self.client() as c:
            c.ehlo("trace.example")
            _, reply = c.transaction(SENDER, [RCPT], content("trace"))
        qid = queue_id(reply)
        received = split_stored(read_inbox_file(self.gw, qid))[2]
        self.assertRegex(received.decode(),
                         r"^Received: from trace\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.mxgate \(mxgate\) "
                         r"with ESMTP id " + qid + r"\r\n\tfor <user@example\.test>; "
                         r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d \+0000\r\n$")

    def test_pipelined_commands_after_ehlo_are_refused(self):
        with self.client() as c:
            c.send(f"EHLO client.example\r\nMAIL FROM:<{SENDER}>\r\n")
            self.assertEqual([r.short() for r in c.replies_until_eof()], ["554 5.5.0"])


class MessageLimitsTest(unittest.TestCase):
    """max_recipients, max_message_size, max_header_size, max_received_headers and
    max_messages_per_connection, each at and past its boundary."""

    @classmethod
    def setUpClass(cls):
        cls.gw, _ = start_gateway({"max_recipients": 100, "max_message_size": "64KiB", "max_header_size": "8KiB",
                                   "max_messages_per_connection": 2, "command_timeout": "20s"})

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def ready(self, c, recipients=(RCPT,), size=None):
        c.ehlo()
        param = f" SIZE={size}" if size is not None else ""
        self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>{param}\r\n").short(), "250 2.1.0")
        for r in recipients:
            self.assertEqual(c.command(f"RCPT TO:<{r}>\r\n").short(), "250 2.1.5")
        self.assertEqual(c.command("DATA\r\n").code, 354)

    def test_size_keyword_shows_the_limit(self):
        with Client(self.gw.smtp_port) as c:
            self.assertIn("SIZE 65536", ehlo_keywords(c.ehlo()))

    def test_max_recipients(self):
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            c.send(b"".join(f"RCPT TO:<r{i}@example.test>\r\n".encode() for i in range(101)))
            replies = c.replies(101)
            self.assertEqual([r.short() for r in replies[:100]], ["250 2.1.5"] * 100)
            self.assertEqual(replies[100].lines, [b"452 4.5.3 Error: too many recipients"])
            self.assertEqual(c.command("DATA\r\n").code, 354)
            c.send(content("hundred") + b".\r\n")
            final = c.reply()
            self.assertEqual(final.short(), "250 2.0.0")
        delivered = split_stored(read_inbox_file(self.gw, queue_id(final)))[1]
        self.assertEqual(delivered, [f"r{i}@example.test".encode() for i in range(100)])

    def test_size_parameter_above_limit_is_552_at_mail(self):
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.command(f"MAIL FROM:<{SENDER}> SIZE=65537\r\n").lines,
                             [b"552 5.3.4 Error: message file too big"])
            self.assertEqual(c.command(f"MAIL FROM:<{SENDER}> SIZE=65536\r\n").short(), "250 2.1.0")

    def test_message_size_enforced_after_the_dot_and_session_continues(self):
        exact = content("exact", b"")
        exact += b"y" * (65536 - len(exact) - 2) + b"\r\n"
        self.assertEqual(len(exact), 65536)
        before = set(self.gw.inbox_files())
        with Client(self.gw.smtp_port) as c:
            self.ready(c)
            c.send(exact[:-2] + b"yy\r\n.\r\n")  # 65537 octets of content, no SIZE given
            self.assertEqual(c.reply().lines, [b"552 5.3.4 Error: message file too big"])
            # the transaction was reset, the session goes on
            self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(c.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")
            self.assertEqual(c.command("DATA\r\n").code, 354)
            c.send(exact + b".\r\n")  # exactly the limit: accepted
            accepted = c.reply()
            self.assertEqual(accepted.short(), "250 2.0.0")
        self.assertEqual(split_stored(read_inbox_file(self.gw, queue_id(accepted)))[3], exact)
        self.assertTrue(wait_queue_empty(self.gw))
        self.assertEqual(set(self.gw.inbox_files()) - before, {queue_id(accepted) + ".eml"})

    def test_big_message_streamed_is_rejected_and_nothing_stored(self):
        before = set(self.gw.inbox_files())
        with Client(self.gw.smtp_port) as c:
            self.ready(c)
            c.send(content("huge", (b"z" * 998 + b"\r\n") * 2000) + b".\r\n")  # ~2 MB
            self.assertEqual(c.reply().short(), "552 5.3.4")
            self.assertEqual(c.command("NOOP\r\n").short(), "250 2.0.0")
        self.assertTrue(wait_queue_empty(self.gw))
        self.assertEqual(set(self.gw.inbox_files()) - before, set())

    def test_header_size_limit(self):
        def header_of(size):
            head = f"From: {SENDER}\r\nSubject: h\r\n".encode()
            filler = b"X-Fill: " + b"f" * 70 + b"\r\n"
            while len(head) + len(filler) <= size:
                head += filler
            return head
        with Client(self.gw.smtp_port) as c:
            self.ready(c)
            c.send(header_of(9 * 1024) + b"\r\nbody\r\n.\r\n")
            self.assertEqual(c.reply().lines, [b"552 5.3.4 Error: message header size exceeds limit"])
            self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(c.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")
            self.assertEqual(c.command("DATA\r\n").code, 354)
            small = header_of(7 * 1024) + b"\r\nbody\r\n"
            c.send(small + b".\r\n")
            reply = c.reply()
            self.assertEqual(reply.short(), "250 2.0.0")
        self.assertEqual(split_stored(read_inbox_file(self.gw, queue_id(reply)))[3], small)

    def test_bdat_over_the_size_limit(self):
        """A LAST chunk past max_message_size is 552 after it is consumed; a non-LAST one ends
        the transaction, so the next chunk finds no MAIL (503) and the session stays in sync."""
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            for chunk_command, expected in ((b"BDAT 70000 LAST\r\n", ["552 5.3.4"]),
                                            (b"BDAT 70000\r\n", ["552 5.3.4", "503 5.5.1"])):
                self.assertEqual(c.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
                self.assertEqual(c.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")
                c.send(chunk_command + b"b" * 70000)
                replies = [c.reply()]
                if len(expected) > 1:
                    replies.append(c.command(b"BDAT 5 LAST\r\nhello"))
                self.assertEqual([r.short() for r in replies], expected)
                self.assertEqual(c.command("NOOP\r\n").short(), "250 2.0.0")

    def test_max_received_headers(self):
        def with_received(n):
            return b"".join(b"Received: from hop%d.example by hop.example; x\r\n" % i for i in range(n)) + content("loop")
        with Client(self.gw.smtp_port) as c:
            self.ready(c)
            c.send(with_received(101) + b".\r\n")
            self.assertEqual(c.reply().lines, [b"554 5.4.6 Error: too many hops (mail loop)"])
        with Client(self.gw.smtp_port) as c:
            self.ready(c)
            c.send(with_received(100) + b".\r\n")
            reply = c.reply()
            self.assertEqual(reply.short(), "250 2.0.0")
        self.assertEqual(split_stored(read_inbox_file(self.gw, queue_id(reply)))[3], with_received(100))

    def test_max_messages_per_connection(self):
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            for n in range(2):
                self.assertEqual(c.transaction(SENDER, [RCPT], content(f"m{n}"))[1].short(), "250 2.0.0")
            self.assertEqual([r.lines for r in [c.command(f"MAIL FROM:<{SENDER}>\r\n")]],
                             [[f"421 4.7.0 {HOST} Error: too many messages in one connection".encode()]])
            self.assertTrue(c.closed(5.0))


class SessionLimitsTest(unittest.TestCase):
    """max_errors, max_junk_commands, max_connections_per_ip, command_timeout, data_timeout,
    min_data_rate, tls_handshake_timeout. The timeouts are per request (T16 slowloris): a
    command trickled a byte at a time is cut at command_timeout from the reply before it, and
    message data slower than min_data_rate (5 B/s here) reaches data_timeout."""

    @classmethod
    def setUpClass(cls):
        cls.gw, cls.ports = start_gateway({"max_errors": 3, "max_junk_commands": 5, "max_connections_per_ip": 3,
                                           "command_timeout": "2s", "data_timeout": "2s", "min_data_rate": 5,
                                           "tls_handshake_timeout": "2s"},
                                          [("implicit", "inbound", "implicit")])

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def start_data(self, client):
        """EHLO, MAIL, RCPT, then DATA answered 354: the session waits for content."""
        client.ehlo()
        self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
        self.assertEqual(client.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")
        self.assertEqual(client.command("DATA\r\n").code, 354)

    def no_sessions(self):
        self.assertTrue(wait_until(lambda: self.gw.metric("mxgate_smtp_connections_open") == 0, 10))

    def test_max_errors(self):
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:
            c.send("FROB\r\nFROB\r\nFROB\r\nNOOP\r\n")
            replies = c.replies_until_eof()
            self.assertEqual([r.short() for r in replies], ["500 5.5.2"] * 3 + ["421 4.7.0"])
            self.assertEqual(replies[-1].lines, [f"421 4.7.0 {HOST} Error: too many errors".encode()])

    def test_max_junk_commands(self):
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            for _ in range(5):
                self.assertEqual(c.command("NOOP\r\n").short(), "250 2.0.0")
            reply = c.command("RSET\r\n")
            self.assertEqual(reply.lines, [f"421 4.7.0 {HOST} Error: too many commands without mail".encode()])
            self.assertTrue(c.closed(5.0))

    def test_max_connections_per_ip(self):
        self.no_sessions()
        held = [Client(self.gw.smtp_port) for _ in range(3)]
        try:
            for c in held:
                self.assertEqual(c.greeting.short(), "220")
            with Client(self.gw.smtp_port, greeting=False) as fourth:
                self.assertEqual([r.lines for r in fourth.replies_until_eof()],
                                 [[b"421 4.7.0 Too many connections from 127.0.0.1"]])
        finally:
            for c in held:
                c.close()
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:  # a slot is free again
            self.assertEqual(c.greeting.short(), "220")

    def test_command_timeout(self):
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:
            start = time.monotonic()
            reply = c.reply(timeout=10)
            elapsed = time.monotonic() - start
            self.assertEqual(reply.lines, [f"421 4.4.2 {HOST} Error: timeout exceeded".encode()])
            self.assertTrue(c.closed(5.0))
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertLessEqual(elapsed, 3.5)

    def test_stalled_tls_handshakes_are_closed(self):
        self.no_sessions()
        with Client(self.ports["implicit"], greeting=False) as c:  # implicit TLS, no ClientHello
            start = time.monotonic()
            self.assertTrue(c.closed(6.0))
            self.assertLessEqual(time.monotonic() - start, 3.5)
            self.assertEqual(c.buffer, b"")  # no plaintext written into a TLS connection
        with Client(self.gw.smtp_port) as c:  # STARTTLS accepted, then silence
            c.ehlo()
            self.assertEqual(c.command("STARTTLS\r\n").short(), "220 2.0.0")
            start = time.monotonic()
            self.assertTrue(c.closed(6.0))
            self.assertLessEqual(time.monotonic() - start, 3.5)
            self.assertEqual(c.buffer, b"")

    def test_data_timeout_stores_nothing(self):
        self.no_sessions()
        before = set(self.gw.inbox_files())
        with Client(self.gw.smtp_port) as c:
            self.start_data(c)
            c.send(content("stalled") + b"and then nothing")
            start = time.monotonic()
            reply = c.reply(timeout=10)
            elapsed = time.monotonic() - start
            self.assertEqual(reply.short(), "421 4.4.2")
            self.assertTrue(c.closed(5.0))
        self.assertLessEqual(elapsed, 3.5)
        self.assertTrue(wait_queue_empty(self.gw))
        time.sleep(0.5)
        self.assertEqual(set(self.gw.inbox_files()) - before, set())

    def trickle(self, client, data, interval, limit):
        """Sends data a byte every interval seconds until the server closes the connection;
        returns how long that took and the reply (None if it never closed within limit)."""
        start = time.monotonic()
        for byte in data:
            try:
                client.send(bytes([byte]))
            except OSError:
                break
            if client.silent_for(interval) is False or time.monotonic() - start > limit:
                break
        return time.monotonic() - start, client.reply(timeout=2)

    def test_trickled_command_is_cut_at_the_command_timeout(self):
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            elapsed, reply = self.trickle(c, f"MAIL FROM:<{SENDER}>\r\n".encode(), 0.4, 8)
            self.assertIsNotNone(reply)
            self.assertEqual(reply.short(), "421 4.4.2")
            self.assertTrue(c.closed(5.0))
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertLessEqual(elapsed, 3.5)

    def test_data_slower_than_the_minimum_rate_is_cut(self):
        """Two bytes a second against min_data_rate 5: each byte moves the deadline on by 200 ms
        while 500 ms pass, so the 2 s deadline runs out after about 3.3 s; nothing is kept."""
        self.no_sessions()
        before = set(self.gw.inbox_files())
        with Client(self.gw.smtp_port) as c:
            self.start_data(c)
            elapsed, reply = self.trickle(c, content("trickled") * 4, 0.5, 15)
            self.assertIsNotNone(reply)
            self.assertEqual(reply.short(), "421 4.4.2")
        self.assertGreaterEqual(elapsed, 2.5)
        self.assertLessEqual(elapsed, 6.0)
        self.assertTrue(wait_queue_empty(self.gw))
        self.assertEqual(set(self.gw.inbox_files()) - before, set())

    def test_slow_but_steady_data_is_accepted(self):
        """data_timeout bounds data without progress, not the whole transfer: one byte every
        100 ms (10 B/s, above min_data_rate) for 3 s in total completes."""
        self.no_sessions()
        with Client(self.gw.smtp_port) as c:
            self.start_data(c)
            for byte in b"Subject: slow\r\n\r\nab\r\n.\r\n":
                c.send(bytes([byte]))
                time.sleep(0.1)
            self.assertEqual(c.reply(timeout=10).short(), "250 2.0.0")


class MultiTenantRoutingTest(unittest.TestCase):
    """RCPT routes by domain: one message for two tenants lands in each tenant's target with
    only that tenant's recipients."""

    def test_one_message_two_tenants(self):
        gw = Gateway(tenants={"alpha": {"domains": ["alpha.test"], "delivery": {"target": "file", "path": "inbox-a"}},
                              "beta": {"domains": ["beta.test", "beta2.test"],
                                       "delivery": {"target": "file", "path": "inbox-b"}}})
        try:
            gw.start()
            with Client(gw.smtp_port) as c:
                c.ehlo()
                _, reply = c.transaction(SENDER, ["a1@alpha.test", "b1@beta.test", "b2@BETA2.test"], content("two"))
                self.assertEqual(reply.short(), "250 2.0.0")
            qid = queue_id(reply)
            stored = {}
            for inbox in ("inbox-a", "inbox-b"):
                path = f"{gw.dir}/{inbox}/{qid}.eml"
                self.assertTrue(wait_until(lambda: os.path.exists(path), 20), gw.log()[-2000:])
                with open(path, "rb") as f:
                    stored[inbox] = split_stored(f.read())
            self.assertEqual(stored["inbox-a"][1], [b"a1@alpha.test"])
            self.assertEqual(stored["inbox-b"][1], [b"b1@beta.test", b"b2@beta2.test"])
            self.assertEqual(stored["inbox-a"][3], content("two"))
            self.assertEqual(stored["inbox-b"][3], content("two"))
        finally:
            gw.cleanup()


class NodeConnectionLimitTest(unittest.TestCase):
    """smtp.max_connections: the node-wide cap answers 421 4.3.2."""

    def test_max_connections(self):
        gw, _ = start_gateway({"max_connections": 2, "max_connections_per_ip": 50})
        try:
            self.assertTrue(wait_until(lambda: gw.metric("mxgate_smtp_connections_open") == 0, 10))
            with Client(gw.smtp_port) as one, Client(gw.smtp_port) as two:
                self.assertEqual((one.greeting.short(), two.greeting.short()), ("220", "220"))
                with Client(gw.smtp_port, greeting=False) as third:
                    self.assertEqual([r.lines for r in third.replies_until_eof()],
                                     [[f"421 4.3.2 {HOST} Too many connections, try again later".encode()]])
            refused = gw.metric("mxgate_smtp_connections_refused_total")
            self.assertEqual(refused, 1)
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
