"""The SMTP abuse corpus (shared/corpora/smtp-abuse/smtp-abuse-cases.yaml) against the real
server: every case with role "inbound" runs as one test, following its `send` list exactly
(one element = one TCP write, "<wait-reply>" = read one reply), then QUIT. Each test asserts
the exact reply sequence mxgate is designed to give (codes and enhanced codes from
src/smtp/replies.cpp; among the answers a case allows, the one session.cpp chooses) and the
case's `must` properties on what the file target stored. The smuggling cases (and the two
BDAT ones) run again with smtp.bare_newline = "normalize". Outbound cases are in test_relay.py.
"""

import os
import re
import ssl
import time
import unittest

import yaml

from harness import Client, Gateway, queue_id, rss_bytes
from support_protocol import (ehlo_keywords, has_bare_cr_or_lf, normalized_content, read_inbox_file, split_stored,
                              wait_queue_empty)

SHARED = os.environ["MXGATE_SHARED_DIR"]  # set by ctest (tests/CMakeLists.txt finds the shared corpora)
CORPUS = os.path.join(SHARED, "corpora/smtp-abuse/smtp-abuse-cases.yaml")

RCPT = "user@example.test"
OTHER = "other@example.test"
SMUG = "smuggled@example.test"
SENDER = "a@example.org"
DEFAULT_MAX_MESSAGE = 25 * 1024 * 1024  # conf/mxgate.toml smtp.max_message_size default
DEFAULT_MAX_RECIPIENTS = 1000           # conf/mxgate.toml smtp.max_recipients default

OUTBOUND_IDS = {"out-normalize-bare-lf", "client-starttls-response-injection", "client-starttls-required",
                "8bit-to-7bit-peer", "dot-stuffing-outbound"}


def load_cases():
    with open(CORPUS, "rb") as f:
        return yaml.safe_load(f)["cases"]


CASES = load_cases()
CASES_BY_ID = {case["id"]: case for case in CASES}


def expand(text):
    """Substitutes the corpus placeholders and inline generators; returns the bytes to write."""
    text = text.replace("{RCPT}", RCPT).replace("{OTHER}", OTHER).replace("{SMUG}", SMUG)
    text = re.sub(r"\{(\d+) x '(.)'\}", lambda m: m.group(2) * int(m.group(1)), text)
    text = re.sub(r"a+\.\.\.\((\d+) '(.)'\)\.\.\.", lambda m: m.group(2) * int(m.group(1)), text)
    data = text.encode("latin-1")  # YAML \xNN escapes are code points < 256 = the bytes
    if data.startswith(b"BDAT {LEN}"):
        head, rest = data.split(b"\r\n", 1)
        data = head.replace(b"{LEN}", str(len(rest)).encode()) + b"\r\n" + rest
    if b"{" in data and re.search(rb"\{[A-Z]+\}", data):
        raise AssertionError(f"unsubstituted placeholder in {data[:80]!r}")
    return data


def big_data_body():
    """'(DATA with n+1 MiB body)': n (the size limit) plus 1 MiB of 998-octet lines, then the dot."""
    line = b"x" * 998 + b"\r\n"
    count = (DEFAULT_MAX_MESSAGE + 1024 * 1024) // len(line) + 1
    return b"Subject: big\r\n\r\n" + line * count + b".\r\n"


GENERATED = {
    "(10 MiB of 'A' with no CRLF)": lambda: b"A" * (10 * 1024 * 1024),
    "(DATA with n+1 MiB body)": big_data_body,
    "(RCPT TO repeated past the gateway's limit, e.g. 1001 times)":
        lambda: b"".join(f"RCPT TO:<r{i}@example.test>\r\n".encode() for i in range(DEFAULT_MAX_RECIPIENTS + 1)),
}


def sent_content(case_id, element_index=0):
    """The message content a DATA case sends (its send element without the final dot line)."""
    data = expand(CASES_BY_ID[case_id]["send"][element_index])
    assert data.endswith(b"\r\n.\r\n"), data[-20:]
    return data[:-3]


# ---- setups: what the case's `setup` text asks for, each step checked ---------------------

def setup_none(test, client):
    pass


def setup_ehlo(test, client):
    client.ehlo()


def setup_helo(test, client):
    test.assertEqual(client.command("HELO client.example\r\n").code, 250)


def setup_mail(test, client):
    setup_ehlo(test, client)
    test.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")


def setup_rcpt(test, client):
    setup_mail(test, client)
    test.assertEqual(client.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")


def setup_data(test, client):
    setup_rcpt(test, client)
    test.assertEqual(client.command("DATA\r\n").code, 354)


def setup_rcpt_rejected(test, client):
    setup_mail(test, client)
    test.assertEqual(client.command("RCPT TO:<nobody@relay.invalid>\r\n").short(), "550 5.7.1")


def setup_tls_ehlo(test, client):
    setup_ehlo(test, client)
    test.assertEqual(client.command("STARTTLS\r\n").short(), "220 2.0.0")
    client.starttls()
    keywords = ehlo_keywords(client.ehlo())
    test.assertNotIn("STARTTLS", keywords)


class Spec:
    """How mxgate must answer one case: the setup, the replies after it (QUIT's 221 included
    when the session stays open), the bytes sent at the end (None = the server closes), extra
    steps after the send list, and checks on the stored messages."""

    def __init__(self, setup, replies, quit=b"QUIT\r\n", extra=None, check=None, messages=0):
        self.setup = setup
        self.replies = replies
        self.quit = quit
        self.extra = extra
        self.check = check
        self.messages = messages


def smuggling_spec(case_id, normalize):
    case = CASES_BY_ID[case_id]
    if case["category"] == "chunking":
        if case_id == "smug-bdat-embedded-eod":
            payload = expand(case["send"][0]).split(b"\r\n", 1)[1]

            def check(test, messages):
                content = split_stored(messages[0])[3]
                test.assertEqual(content, payload)  # BDAT: no dot termination, no un-stuffing
                test.assertIn(b"\r\n.\r\nMAIL FROM:<admin@example.org>\r\nRCPT TO:<smuggled@example.test>\r\n"
                              b"DATA\r\n", content)
            return Spec(setup_rcpt, ["250 2.0.0", "221 2.0.0"], check=check, messages=1)
        if normalize:
            def check(test, messages):
                test.assertEqual(split_stored(messages[0])[3], b"Subject: x\r\n\r\nbare lf\r\n.\r\n")
            return Spec(setup_rcpt, ["250 2.0.0", "221 2.0.0"], check=check, messages=1)
        return Spec(setup_rcpt, ["550 5.5.2", "221 2.0.0"])
    if case_id == "smug-nul-dot":
        # reject_nul (default true) applies in both bare_newline modes.
        return Spec(setup_data, ["550 5.6.0", "221 2.0.0"])
    if not normalize:
        return Spec(setup_data, ["550 5.5.2", "221 2.0.0"])

    def check(test, messages):
        content = split_stored(messages[0])[3]
        test.assertEqual(content, normalized_content(expand(case["send"][0])))
        test.assertIn(b"MAIL FROM:<admin@example.org>\r\nRCPT TO:<smuggled@example.test>\r\nDATA\r\n", content)
    return Spec(setup_data, ["250 2.0.0", "221 2.0.0"], check=check, messages=1)


def check_content_equals(case_id):
    def check(test, messages):
        test.assertEqual(split_stored(messages[0])[3], sent_content(case_id))
    return check


def check_dot_stuffing(test, messages):
    content = split_stored(messages[0])[3]
    test.assertEqual(content, b"Subject: dots\r\n\r\n.leading dot\r\n..\r\n")


def check_header_line_over_998(test, messages):
    content = split_stored(messages[0])[3]
    test.assertEqual(content, sent_content("header-line-over-998"))
    header, _, body = content.partition(b"\r\n\r\n")
    test.assertTrue(header.endswith(b"\r\nFrom: a@example.org"), header[-60:])
    test.assertEqual(body, b"body\r\n")


def check_pipelining_legit(test, messages):
    return_path, delivered, _, content = split_stored(messages[0])
    test.assertEqual(return_path, SENDER.encode())
    test.assertEqual(delivered, [RCPT.encode(), OTHER.encode()])
    test.assertEqual(content, b"Subject: p\r\n\r\nbody\r\n")


def check_8bitmime(test, messages):
    content = split_stored(messages[0])[3]
    test.assertEqual(content, sent_content("8bitmime-declared", 6))
    test.assertIn(b"\r\n\r\ncaf\xc3\xa9\r\n", content)


UTF8_SENDER = "\u7528\u6237@\u4f8b\u5b50.example".encode()


def extra_smtputf8(test, client, replies):
    replies.append(client.reply())  # the MAIL's reply
    replies.append(client.command(f"RCPT TO:<{RCPT}>\r\n"))
    replies.append(client.command("DATA\r\n"))
    client.send(b"Subject: utf8\r\n\r\nhello\r\n.\r\n")
    replies.append(client.reply())


def check_smtputf8(test, messages):
    return_path, _, received, _ = split_stored(messages[0])
    test.assertEqual(return_path, UTF8_SENDER)
    test.assertIn(b"with UTF8SMTP", received)


def extra_postmaster(test, client, replies):
    replies.append(client.reply())  # the RCPT's reply
    replies.append(client.command("DATA\r\n"))
    client.send(b"Subject: to postmaster\r\n\r\nhi\r\n.\r\n")
    replies.append(client.reply())


def check_postmaster(test, messages):
    test.assertEqual(split_stored(messages[0])[1], [b"postmaster@example.test"])


SPECS = {
    # pipelining / sequencing
    "pipelining-legit": Spec(setup_ehlo, ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"],
                             quit=b"", check=check_pipelining_legit, messages=1),
    "pipelining-data-before-354": Spec(setup_ehlo, ["250 2.1.0", "250 2.1.5", "554 5.5.0"], quit=None),
    "pipelining-without-ehlo-keyword": Spec(setup_helo, ["554 5.5.0"], quit=None),
    "http-on-smtp-port": Spec(setup_none, ["221 2.7.0"], quit=None),
    "mail-before-helo": Spec(setup_none, ["503 5.5.1", "221 2.0.0"]),
    "rcpt-before-mail": Spec(setup_ehlo, ["503 5.5.1", "221 2.0.0"]),
    "data-without-valid-rcpt": Spec(setup_rcpt_rejected, ["554 5.5.1", "221 2.0.0"]),
    "null-sender": Spec(setup_ehlo, ["250 2.1.0", "250 2.1.5", "221 2.0.0"]),
    "postmaster-no-domain": Spec(setup_mail, ["250 2.1.5", "354", "250 2.0.0", "221 2.0.0"], extra=extra_postmaster,
                                 check=check_postmaster, messages=1),
    "rset-clears-transaction": Spec(setup_rcpt, ["250 2.0.0", "503 5.5.1", "221 2.0.0"]),
    # line length
    "command-line-too-long": Spec(setup_none, ["250", "501 5.5.2", "221 2.0.0"]),
    "local-part-too-long": Spec(setup_mail, ["553 5.1.3", "221 2.0.0"]),
    # the CRLF ends the discarded 10 MiB line, then QUIT must be answered: the session is in sync
    "huge-unterminated-line": Spec(setup_none, ["250", "500 5.5.2", "221 2.0.0"], quit=b"\r\nQUIT\r\n"),
    "data-line-over-1000": Spec(setup_data, ["250 2.0.0", "221 2.0.0"],
                                check=check_content_equals("data-line-over-1000"), messages=1),
    "header-line-over-998": Spec(setup_data, ["250 2.0.0", "221 2.0.0"], check=check_header_line_over_998,
                                 messages=1),
    # NUL
    "nul-in-command": Spec(setup_none, ["500 5.5.2", "221 2.0.0"]),
    "nul-in-header": Spec(setup_data, ["550 5.6.0", "221 2.0.0"]),
    "nul-in-body": Spec(setup_data, ["550 5.6.0", "221 2.0.0"]),
    # 8BITMIME / SMTPUTF8 / SIZE / limits
    "8bitmime-declared": Spec(setup_ehlo, ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"],
                              check=check_8bitmime, messages=1),
    "body-param-invalid": Spec(setup_ehlo, ["501 5.5.4", "221 2.0.0"]),
    "smtputf8-declared": Spec(setup_ehlo, ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"],
                              extra=extra_smtputf8, check=check_smtputf8, messages=1),
    "smtputf8-missing-param": Spec(setup_ehlo, ["553 5.6.7", "221 2.0.0"]),
    "size-too-big": Spec(setup_ehlo, ["552 5.3.4", "221 2.0.0"]),
    "data-exceeds-size": Spec(setup_data, ["552 5.3.4", "221 2.0.0"]),
    "too-many-recipients": Spec(setup_mail, ["250 2.1.5"] * DEFAULT_MAX_RECIPIENTS + ["452 4.5.3", "221 2.0.0"]),
    # transparency
    "dot-stuffing-inbound": Spec(setup_data, ["250 2.0.0", "221 2.0.0"], check=check_dot_stuffing, messages=1),
    # starttls-twice: the reply inside TLS
    "starttls-twice": Spec(setup_tls_ehlo, ["503 5.5.1", "221 2.0.0"]),
}

# Cases that need their own choreography (TLS handshakes, pre-greeting writes).
CUSTOM = {"starttls-cmd-injection", "starttls-cmd-injection-separate-segment", "starttls-state-reset",
          "pregreet-talker"}

SMUGGLING_IDS = [c["id"] for c in CASES if c["role"] == "inbound" and c["category"] in ("smuggling", "chunking")]


class CorpusRunner:
    """Mixin: runs one corpus case against self.gw and checks it."""

    gw = None

    @classmethod
    def start_gateway(cls, overrides):
        cls.gw = Gateway(overrides=overrides)
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def run_case(self, case_id, spec):
        case = CASES_BY_ID[case_id]
        gw = self.gw
        before = set(gw.inbox_files())
        client = Client(gw.smtp_port, timeout=15)
        try:
            self.assertEqual(client.greeting.short(), "220")
            spec.setup(self, client)
            replies = []
            for element in case["send"]:
                if element == "<wait-reply>":
                    replies.append(client.reply())
                elif element in GENERATED:
                    client.send(GENERATED[element]())
                else:
                    client.send(expand(element))
            if spec.extra:
                spec.extra(self, client, replies)
            before_quit = len(spec.replies) - (1 if spec.quit else 0)
            while len(replies) < before_quit:
                reply = client.reply(timeout=15)
                if reply is None:
                    break
                replies.append(reply)
            if spec.quit:
                try:
                    client.send(spec.quit)
                except OSError:
                    pass
            replies += client.replies_until_eof(timeout=15)
        finally:
            client.close()
        self.assertEqual([r.short() for r in replies if r is not None], spec.replies,
                         f"{case_id}: replies {replies[-5:]!r}")
        self.check_stored(case_id, spec, replies, before)

    def check_stored(self, case_id, spec, replies, before):
        gw = self.gw
        ids = [queue_id(r) for r in replies if r is not None and b"queued as" in r.text]
        self.assertEqual(len(ids), spec.messages, f"{case_id}: accepted messages")
        messages = [read_inbox_file(gw, qid) for qid in ids]
        self.assertTrue(wait_queue_empty(gw), gw.log()[-2000:])
        new = set(gw.inbox_files()) - before
        self.assertEqual(new, {qid + ".eml" for qid in ids}, f"{case_id}: stored messages")
        for message in messages:
            self.assertNotIn(b"Delivered-To: " + SMUG.encode(), message)
            self.assertFalse(has_bare_cr_or_lf(message), f"{case_id}: bare CR/LF stored")
        if spec.check:
            spec.check(self, messages)


def make_test(case_id, spec):
    def test(self):
        self.run_case(case_id, spec)
    test.__doc__ = f"corpus case {case_id}"
    return test


class AbuseCorpusRejectTest(CorpusRunner, unittest.TestCase):
    """Every inbound case with the shipped defaults (bare_newline = "reject", reject_nul)."""

    @classmethod
    def setUpClass(cls):
        cls.start_gateway({"smtp": {"command_timeout": "20s", "data_timeout": "20s"}})

    def test_corpus_is_fully_covered(self):
        inbound = {c["id"] for c in CASES if c["role"] == "inbound"}
        outbound = {c["id"] for c in CASES if c["role"] == "outbound"}
        self.assertEqual(outbound, OUTBOUND_IDS)
        self.assertEqual(inbound, set(SPECS) | CUSTOM | set(SMUGGLING_IDS))
        self.assertEqual(len(inbound) + len(outbound), len(CASES))
        self.assertTrue({"smug-nul-dot", "smug-bdat-embedded-eod", "smug-bdat-bare-lf"} <= set(SMUGGLING_IDS))

    # ---- cases with their own choreography ------------------------------------------------

    def test_case_starttls_cmd_injection(self):
        """STARTTLS\\r\\nRSET\\r\\nMAIL in one write: the plaintext after STARTTLS is discarded."""
        case = CASES_BY_ID["starttls-cmd-injection"]
        with Client(self.gw.smtp_port) as client:
            self.assertIn("STARTTLS", ehlo_keywords(client.ehlo()))
            client.send(expand(case["send"][0]))
            self.assertEqual(client.reply().short(), "220 2.0.0")
            client.starttls()  # raises if a plaintext reply to RSET/MAIL followed the 220
            self.assertTrue(client.silent_for(1.0), f"reply to an injected command: {client.buffer!r}")
            # state reset: the injected MAIL did not run, and EHLO is required again
            self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "503 5.5.1")
            self.assertNotIn("STARTTLS", ehlo_keywords(client.ehlo()))
            self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(client.command("QUIT\r\n").short(), "221 2.0.0")
        self.assertIn("starttls_injection", self.gw.log())

    def test_case_starttls_cmd_injection_separate_segment(self):
        """STARTTLS and MAIL as two writes: MAIL is discarded or breaks the handshake, never runs.
        Run twice: back to back (the server sees both in one read) and with a pause (the MAIL
        bytes arrive after the server started the handshake)."""
        case = CASES_BY_ID["starttls-cmd-injection-separate-segment"]
        self.assertEqual(case["send"][2], "<start TLS handshake now>")
        for pause in (0.0, 0.3):
            with self.subTest(pause=pause), Client(self.gw.smtp_port) as client:
                client.ehlo()
                client.send(expand(case["send"][0]))
                if pause:
                    time.sleep(pause)
                client.send(expand(case["send"][1]))
                self.assertEqual(client.reply().short(), "220 2.0.0")
                try:
                    client.starttls()
                    handshake = True
                except (ssl.SSLError, OSError) as error:
                    handshake = False
                    failure = error
                if handshake:
                    # the MAIL arrived with STARTTLS and was discarded with the plaintext buffer
                    self.assertTrue(client.silent_for(1.0), f"reply inside TLS: {client.buffer!r}")
                    self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "503 5.5.1")
                else:
                    # the MAIL bytes reached the TLS layer as a bogus record: the handshake failed
                    self.assertIsInstance(failure, (ssl.SSLError, ConnectionError), failure)

    def test_case_starttls_state_reset(self):
        """After STARTTLS, MAIL needs a fresh EHLO; Received: names the post-TLS EHLO."""
        case = CASES_BY_ID["starttls-state-reset"]
        with Client(self.gw.smtp_port) as client:
            client.ehlo("evil.example")
            self.assertEqual(client.command("STARTTLS\r\n").short(), "220 2.0.0")
            client.starttls()
            self.assertEqual(client.command(expand(case["send"][0])).short(), "503 5.5.1")
            client.ehlo("good.example")
            self.assertEqual(client.command(f"MAIL FROM:<{SENDER}>\r\n").short(), "250 2.1.0")
            self.assertEqual(client.command(f"RCPT TO:<{RCPT}>\r\n").short(), "250 2.1.5")
            self.assertEqual(client.command("DATA\r\n").code, 354)
            client.send(b"Subject: reset\r\n\r\nafter tls\r\n.\r\n")
            reply = client.reply()
            self.assertEqual(reply.short(), "250 2.0.0")
            self.assertEqual(client.command("QUIT\r\n").short(), "221 2.0.0")
        received = split_stored(read_inbox_file(self.gw, queue_id(reply)))[2]
        self.assertTrue(received.startswith(b"Received: from good.example ([127.0.0.1])"), received)
        self.assertNotIn(b"evil.example", received)
        self.assertIn(b"with ESMTPS (TLSv1.3 ", received)

    def test_case_pregreet_talker(self):
        """EHLO written right after connect: the greeting is sent before any command is answered."""
        case = CASES_BY_ID["pregreet-talker"]
        with Client(self.gw.smtp_port, greeting=False) as client:
            client.send(expand(case["send"][0]))
            first = client.reply()
            self.assertEqual(first.short(), "220")
            self.assertEqual(first.lines, [b"220 mx.test.mxgate ESMTP mxgate"])
            self.assertEqual(client.reply().code, 250)
            self.assertEqual(client.command("QUIT\r\n").short(), "221 2.0.0")

    def test_case_huge_unterminated_line_memory(self):
        """huge-unterminated-line again, measuring the server's RSS: 10 MiB is not buffered."""
        rss_before = rss_bytes(self.gw.process.pid)
        self.run_case("huge-unterminated-line", SPECS["huge-unterminated-line"])
        growth = (rss_bytes(self.gw.process.pid) - rss_before) // 1024
        self.assertLess(growth, 6 * 1024, f"RSS grew by {growth} KiB while discarding a 10 MiB line")


class AbuseCorpusNormalizeTest(CorpusRunner, unittest.TestCase):
    """The smuggling and BDAT cases with smtp.bare_newline = "normalize": one message, no bare
    CR/LF stored, the smuggled text inside its body."""

    @classmethod
    def setUpClass(cls):
        cls.start_gateway({"smtp": {"bare_newline": "normalize", "command_timeout": "20s", "data_timeout": "20s"}})


for _id, _spec in SPECS.items():
    setattr(AbuseCorpusRejectTest, "test_case_" + _id.replace("-", "_"), make_test(_id, _spec))
for _id in SMUGGLING_IDS:
    setattr(AbuseCorpusRejectTest, "test_case_" + _id.replace("-", "_"), make_test(_id, smuggling_spec(_id, False)))
    setattr(AbuseCorpusNormalizeTest, "test_case_" + _id.replace("-", "_"), make_test(_id, smuggling_spec(_id, True)))


if __name__ == "__main__":
    unittest.main()
