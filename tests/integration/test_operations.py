"""Operating mxgate: `mxgate check` on good and bad files (error lines "file:line: key:
message"), the queue CLI (ls/show/retry/delete, text and --json) and admin API (token,
/healthz, /metrics), SIGHUP reload (good and broken policy; queue.* applied live, keys that need
a restart named in the log and by `mxgate check`), the retention of dead letters and audit
records (legal hold respected), who a queue delete is audited as, SIGTERM, restart with queued
mail, and the self-signed certificate under <spool>/tls.
"""

import json
import os
import ssl
import stat
import subprocess
import tempfile
import textwrap
import time
import unittest
import urllib.error
import urllib.request

from harness import MXGATE, Client, Gateway, RecordingSink, SilentServer, free_port, queue_id, smtp_tenant, wait_until
from support_protocol import RawPeer, queue_listing

SENDER = "sender@remote.example"
UNKNOWN_ID = "00000000000000000000"


def message(subject):
    return f"From: {SENDER}\r\nTo: user@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


def submit(gw, recipient="user@example.test", subject="op"):
    with Client(gw.smtp_port) as c:
        c.ehlo()
        _, reply = c.transaction(SENDER, [recipient], message(subject))
        if reply.short() != "250 2.0.0":
            raise AssertionError(f"not accepted: {reply!r}")
        return queue_id(reply)


def rcpt_reply(gw, recipient):
    with Client(gw.smtp_port) as c:
        c.ehlo()
        c.command(f"MAIL FROM:<{SENDER}>\r\n")
        return c.command(f"RCPT TO:<{recipient}>\r\n").short()


def policy_text(tenant, domains, path):
    return (f'tenant = "{tenant}"\ndomains = {json.dumps(domains)}\n\n[delivery]\ntarget = "file"\n'
            f'path = "{path}"\n')


class CheckTest(unittest.TestCase):
    """`mxgate check`: exit 0 on a good node file, exit 1 with "file:line: key: message"."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mxgate-check-")
        self.policies = os.path.join(self.dir, "policies")
        os.makedirs(self.policies)
        self.write("policies/a.toml", policy_text("a", ["a.test"], "inbox"))

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def node(self, smtp_lines=""):
        """Writes a node file; smtp_lines are appended to [smtp], starting at line self.extra_line."""
        base = textwrap.dedent(f"""\
            [node]
            hostname = "mx.test"
            policies = "{self.policies}"

            [[listener]]
            name = "inbound"
            port = 2525

            [smtp]
            max_errors = 20
            """)
        self.extra_line = base.count("\n") + 1
        return self.write("node.toml", base + smtp_lines)

    def check(self, path):
        return subprocess.run([MXGATE, "check", "--config", path], cwd=self.dir, capture_output=True, text=True,
                              timeout=60)

    def assertError(self, result, path, line, key, message_part):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        prefix = f"{path}:{line}: " + (f"{key}: " if key else "")
        lines = [l for l in result.stderr.splitlines() if l.startswith(prefix)]
        self.assertTrue(lines, f"no line starting with {prefix!r} in:\n{result.stderr}")
        self.assertIn(message_part, lines[0])

    def test_good_config(self):
        path = self.node()
        result = self.check(path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"{path}: ok (1 listeners, 1 tenants)\n")
        self.assertEqual(result.stderr, "")

    def test_shipped_config_and_example_policy(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
        result = subprocess.run([MXGATE, "check", "--config", "conf/mxgate.toml"], cwd=root, capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_syntax_error(self):
        path = self.node("max_recipients = = 5\n")
        self.assertError(self.check(path), path, self.extra_line, None, "syntax error")

    def test_unknown_key(self):
        path = self.node("max_recipientz = 200\n")
        self.assertError(self.check(path), path, self.extra_line, "smtp.max_recipientz", "unknown key")

    def test_out_of_range_value(self):
        path = self.node("max_recipients = 99\n")
        self.assertError(self.check(path), path, self.extra_line, "smtp.max_recipients", "out of range")

    def test_every_error_is_reported_with_its_line(self):
        path = self.node('max_errors_x = 1\nreject_nul = "yes"\n')
        result = self.check(path)
        self.assertError(result, path, self.extra_line, "smtp.max_errors_x", "unknown key")
        self.assertError(result, path, self.extra_line + 1, "smtp.reject_nul", "wrong type")  # every error is reported

    def test_two_tenants_owning_one_domain(self):
        b = self.write("policies/b.toml", 'tenant = "b"\n# comment\ndomains = ["b.test", "A.Test"]\n\n[delivery]\n'
                                          'target = "file"\npath = "inbox"\n')
        result = self.check(self.node())
        self.assertError(result, b, 3, "domains", '"a.test" is already owned by tenant "a"')

    def test_bad_policy_value(self):
        b = self.write("policies/b.toml", policy_text("b", ["b.test"], "inbox").replace(
            'target = "file"\npath = "inbox"\n', 'target = "smtp"\nhost = "127.0.0.1"\nport = 70000\n'))
        self.assertError(self.check(self.node()), b, 7, "delivery.port", "out of range")


class QueueCliTest(unittest.TestCase):
    """The queue CLI and the admin API against a running node whose next hop is down
    (connection refused) and whose retry delay is long, so messages stay put."""

    @classmethod
    def setUpClass(cls):
        cls.dead_port = free_port()
        cls.gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(cls.dead_port)}},
                         overrides={"queue": {"retry_initial": "10m", "retry_max": "1h"}})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def held(self, subject):
        qid = submit(self.gw, subject=subject)
        self.assertTrue(wait_until(lambda: queue_listing(self.gw).get(qid, {}).get("attempts") == 1, 20),
                        self.gw.log()[-2000:])
        return qid

    def test_ls_and_show(self):
        qid = self.held("listed")
        text = self.gw.cli("queue", "ls")
        self.assertEqual(text.returncode, 0, text.stderr)
        lines = text.stdout.splitlines()
        self.assertTrue(lines[0].startswith("QUEUE ID"), lines[0])
        row = [l for l in lines if l.startswith(qid)]
        self.assertEqual(len(row), 1, text.stdout)
        self.assertIn("<sender@remote.example>", row[0])
        self.assertTrue(lines[-1].endswith(" message(s)"), lines[-1])
        recipient_line = lines[lines.index(row[0]) + 1]
        self.assertIn("-> user@example.test [pending]", recipient_line)
        self.assertIn("connection refused", recipient_line.lower())

        listed = json.loads(self.gw.cli("queue", "ls", "--json").stdout)
        entry = [m for m in listed["messages"] if m["id"] == qid][0]
        self.assertEqual(entry["state"], "queued")
        self.assertEqual(entry["mail_from"], SENDER)
        self.assertEqual(entry["attempts"], 1)
        self.assertEqual(entry["listener"], "inbound")
        self.assertEqual(entry["helo"], "client.example")
        self.assertEqual([r["address"] for r in entry["recipients"]], ["user@example.test"])

        shown = self.gw.cli("queue", "show", qid)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn(qid, shown.stdout)
        self.assertTrue(shown.stdout.rstrip().endswith("1 message(s)"))
        detail = json.loads(self.gw.cli("queue", "show", qid, "--json").stdout)
        self.assertEqual(detail["id"], qid)
        self.assertEqual(detail["size"], entry["size"])
        self.assertIn("connection refused", detail["recipients"][0]["last_reply"].lower())

    def test_retry_triggers_an_attempt(self):
        qid = self.held("retried")
        result = self.gw.cli("queue", "retry", qid)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "scheduled for immediate delivery\n")
        self.assertTrue(wait_until(lambda: queue_listing(self.gw)[qid]["attempts"] == 2, 20))
        as_json = self.gw.cli("queue", "retry", qid, "--json")
        self.assertEqual(as_json.returncode, 0, as_json.stdout + as_json.stderr)
        self.assertEqual(json.loads(as_json.stdout)["id"], qid)

    def test_delete(self):
        qid = self.held("deleted")
        result = self.gw.cli("queue", "delete", qid)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "removed\n")
        self.assertNotIn(qid, queue_listing(self.gw))
        shown = self.gw.cli("queue", "show", qid)
        self.assertEqual(shown.returncode, 1)
        self.assertEqual(shown.stdout, "no such message\n")

    def test_unknown_id_is_404(self):
        for verb in ("show", "retry", "delete"):
            with self.subTest(verb=verb):
                result = self.gw.cli("queue", verb, UNKNOWN_ID, "--json")
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                body = json.loads(result.stdout)
                self.assertEqual(body.get("error", body.get("detail")), "no such message")
        status, body = self.gw.admin(f"/v1/queue/{UNKNOWN_ID}")
        self.assertEqual(status, 404)
        status, _ = self.gw.admin("/v1/queue/not-an-id")
        self.assertEqual(status, 400)

    def test_admin_api_needs_the_token(self):
        status, body = self.gw.admin("/v1/queue", token=False)
        self.assertEqual(status, 401)
        self.assertEqual(body, {"error": "missing or wrong bearer token"})
        request = urllib.request.Request(f"http://127.0.0.1:{self.gw.admin_port}/v1/queue",
                                         headers={"Authorization": "Bearer " + "0" * 64})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(caught.exception.code, 401)
        status, body = self.gw.admin("/v1/queue")
        self.assertEqual(status, 200)
        self.assertIn("messages", body)

    def test_admin_api_methods_and_paths(self):
        request = urllib.request.Request(f"http://127.0.0.1:{self.gw.admin_port}/v1/queue", method="POST",
                                         headers={"Authorization": "Bearer " + self.gw.token()})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(caught.exception.code, 405)
        self.assertEqual(self.gw.admin("/v1/nothing")[0], 404)
        self.assertEqual(self.gw.admin("/nothing", token=False)[0], 404)

    def test_token_file_is_private(self):
        path = os.path.join(self.gw.spool, "admin.token")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertGreaterEqual(len(self.gw.token()), 32)

    def test_healthz_and_metrics(self):
        status, body = self.gw.admin("/healthz", token=False)
        self.assertEqual((status, body), (200, "ok\n"))
        status, text = self.gw.admin("/metrics", token=False)
        self.assertEqual(status, 200)
        for name in ("mxgate_queue_messages", "mxgate_smtp_connections_total", "mxgate_queue_dead_letters",
                     "mxgate_spool_synced_writes_total"):
            self.assertIn(f"\n{name} ", text)
            self.assertIn(f"# TYPE {name} ", text)
        accepted = 'mxgate_messages_received_total{outcome="accepted"}'
        connections_before = self.gw.metric("mxgate_smtp_connections_total")
        accepted_before = self.gw.metric(accepted)
        queued_before = self.gw.metric("mxgate_queue_messages")
        deferred_before = self.gw.metric('mxgate_recipient_deliveries_total{outcome="deferred"}')
        submit(self.gw, subject="metrics")
        self.assertEqual(self.gw.metric("mxgate_smtp_connections_total"), connections_before + 1)
        self.assertEqual(self.gw.metric(accepted), accepted_before + 1)
        self.assertTrue(wait_until(lambda: self.gw.metric("mxgate_queue_messages") == queued_before + 1, 10))
        self.assertTrue(wait_until(
            lambda: self.gw.metric('mxgate_recipient_deliveries_total{outcome="deferred"}') == deferred_before + 1, 10))


class CliWithoutDaemonTest(unittest.TestCase):
    def test_queue_ls_without_a_running_daemon(self):
        gw = Gateway()
        try:
            gw.start()
            gw.stop()
            result = gw.cli("queue", "ls")
            self.assertEqual(result.returncode, 3, result.stdout + result.stderr)
            self.assertIn("cannot connect to the admin API", result.stderr)
            self.assertEqual(result.stdout, "")
        finally:
            gw.cleanup()


class ReloadTest(unittest.TestCase):
    """SIGHUP: a new tenant is served afterwards; a broken policy keeps the old configuration."""

    def test_sighup_reload_good_then_broken(self):
        with Gateway() as gw:
            self.assertEqual(rcpt_reply(gw, "user@second.test"), "550 5.7.1")
            with open(os.path.join(gw.policies, "second.toml"), "w") as f:
                f.write(policy_text("second", ["second.test"], os.path.join(gw.dir, "inbox2")))
            gw.reload()
            self.assertTrue(wait_until(lambda: "event=reloaded" in gw.log(), 10), gw.log()[-2000:])
            self.assertEqual(rcpt_reply(gw, "user@second.test"), "250 2.1.5")
            self.assertEqual(rcpt_reply(gw, "user@example.test"), "250 2.1.5")

            with open(os.path.join(gw.policies, "third.toml"), "w") as f:
                f.write('tenant = "third"\ndomains = ["third.test"\n')  # unterminated array
            gw.reload()
            self.assertTrue(wait_until(lambda: "event=reload_failed" in gw.log(), 10), gw.log()[-2000:])
            self.assertIn("third.toml:", gw.log())
            self.assertEqual(rcpt_reply(gw, "user@example.test"), "250 2.1.5")
            self.assertEqual(rcpt_reply(gw, "user@second.test"), "250 2.1.5")
            self.assertEqual(rcpt_reply(gw, "user@third.test"), "550 5.7.1")
            self.assertIsNone(gw.process.poll())


class NodeReloadTest(unittest.TestCase):
    def test_sighup_applies_changed_smtp_limits_to_new_sessions(self):
        with Gateway() as gw:
            with Client(gw.smtp_port) as before:
                self.assertIn(b"250-SIZE 26214400", before.ehlo().raw)
                gw.overrides = {"smtp": {"max_message_size": "1MiB"}}
                gw.write_config()
                gw.reload()
                self.assertTrue(wait_until(lambda: "event=reloaded" in gw.log(), 10), gw.log()[-2000:])
                self.assertIn(b"250-SIZE 26214400", before.ehlo().raw)  # a session keeps its snapshot
            with Client(gw.smtp_port) as after:
                self.assertIn(b"250-SIZE 1048576", after.ehlo().raw)
                self.assertEqual(after.command(f"MAIL FROM:<{SENDER}> SIZE=1048577\r\n").short(), "552 5.3.4")


class QueueReloadTest(unittest.TestCase):
    """SIGHUP applies the queue.* settings that can change live; the changed keys that take a
    restart are named in one log line and by `mxgate check`, which compares the file with the
    settings the daemon runs with."""

    def test_sighup_applies_queue_settings_and_names_the_keys_that_need_a_restart(self):
        hung = SilentServer()  # the next hop never greets: deliveries stay under way
        self.addCleanup(hung.stop)
        gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(hung.port)}},
                     overrides={"queue": {"max_active": 1}})
        self.addCleanup(gw.cleanup)
        gw.start()
        for i in range(3):
            submit(gw, subject=f"reload {i}")
        self.assertTrue(wait_until(lambda: gw.metric("mxgate_queue_active") == 1, 20), gw.log()[-2000:])
        time.sleep(1)
        self.assertEqual(gw.metric("mxgate_queue_active"), 1)

        gw.overrides = {"queue": {"max_active": 3, "read_threads": 4}}
        gw.write_config()
        before = gw.cli("check")
        self.assertEqual(before.returncode, 0, before.stdout + before.stderr)
        self.assertIn("running daemon: 2 setting(s) differ from this file\n", before.stdout)
        self.assertIn("  queue.max_active: 1 -> 3 (a reload applies it: kill -HUP)\n", before.stdout)
        self.assertIn("  queue.read_threads: 2 -> 4 (needs a restart)\n", before.stdout)

        gw.reload()
        self.assertTrue(wait_until(lambda: "event=reloaded" in gw.log(), 10), gw.log()[-2000:])
        needs_restart = [line for line in gw.log().splitlines() if "event=reload_needs_restart" in line]
        self.assertEqual(len(needs_restart), 1, gw.log()[-2000:])
        self.assertIn(" keys=queue.read_threads ", needs_restart[0])
        self.assertTrue(wait_until(lambda: gw.metric("mxgate_queue_active") == 3, 20),
                        f"active={gw.metric('mxgate_queue_active')}\n{gw.log()[-2000:]}")

        after = gw.cli("check")
        self.assertEqual(after.returncode, 0, after.stdout + after.stderr)
        self.assertIn("running daemon: 1 setting(s) differ from this file\n", after.stdout)
        self.assertIn("  queue.read_threads: 2 -> 4 (needs a restart)\n", after.stdout)


def submit_quarantined(gw):
    """A message that DMARC (p=quarantine, SPF fails for 127.0.0.1) sends to quarantine."""
    with Client(gw.smtp_port) as c:
        c.ehlo()
        _, reply = c.transaction("eve@held.test", ["user@example.test"],
                                 b"From: <eve@held.test>\r\nSubject: hold\r\n\r\nbody\r\n")
    return queue_id(reply)


HELD_ZONE = {"held.test": [{"type": "TXT", "value": "v=spf1 ip4:192.0.2.1 -all"}],
             "_dmarc.held.test": [{"type": "TXT", "value": "v=DMARC1; p=quarantine"}]}


def audit_log(gw):
    result = gw.cli("audit", "--limit", "1000", "--json")
    if result.returncode != 0:
        raise AssertionError(f"audit failed: {result.stdout} {result.stderr}")
    return json.loads(result.stdout)["audit"]


class RetentionTest(unittest.TestCase):
    """Dead letters and audit records are purged after queue.dead_letter_retention and
    queue.audit_retention (short here), audited and counted; a legal hold keeps a message's
    audit records."""

    def gateway(self, queue, tenants=None):
        gw = Gateway(tenants=tenants, overrides={"queue": dict(queue, purge_interval="1s")}, zone=HELD_ZONE)
        self.addCleanup(gw.cleanup)
        return gw.start()

    def test_dead_letters_are_purged_after_their_retention(self):
        sink = RecordingSink(data_reply="550 5.1.1 no such user").start()
        self.addCleanup(sink.stop)
        gw = self.gateway({"dead_letter_retention": "3s"},
                          {"example": {"domains": ["example.test"], "delivery": smtp_tenant(sink.port)}})
        qid = submit(gw)
        self.assertTrue(wait_until(lambda: queue_listing(gw).get(qid, {}).get("state") == "dead", 20),
                        gw.log()[-2000:])
        self.assertEqual(gw.metric("mxgate_queue_dead_letters"), 1)
        self.assertTrue(wait_until(lambda: qid not in queue_listing(gw), 20), gw.log()[-2000:])
        self.assertEqual(gw.metric("mxgate_queue_dead_letters"), 0)
        self.assertEqual(gw.metric('mxgate_retention_purged_total{family="dead_letters"}'), 1)
        purges = [r for r in audit_log(gw) if r["id"] == qid]
        self.assertEqual([(r["actor"], r["action"], r["tenant"]) for r in purges], [("system", "purge", "example")])
        self.assertIn("queue.dead_letter_retention", purges[0]["detail"])
        self.assertRegex(gw.log(), rf"{qid}: event=dead_letter_purged by=system")

    def test_audit_records_are_purged_after_their_retention_unless_on_legal_hold(self):
        gw = self.gateway({"audit_retention": "5s"})
        kept, purged = submit_quarantined(gw), submit_quarantined(gw)
        hold = gw.cli("quarantine", "hold", kept)
        self.assertEqual(hold.returncode, 0, hold.stdout + hold.stderr)
        self.assertEqual(gw.metric("mxgate_audit_records"), 3)

        def ids():
            return [r["id"] for r in audit_log(gw)]
        self.assertTrue(wait_until(lambda: purged not in ids(), 30), audit_log(gw))
        self.assertEqual([r["action"] for r in audit_log(gw) if r["id"] == kept], ["hold", "quarantine"])
        summaries = [r for r in audit_log(gw) if r["action"] == "purge" and r["id"] == ""]
        self.assertTrue(summaries, audit_log(gw))
        self.assertIn("audit records written before", summaries[-1]["detail"])
        self.assertGreaterEqual(gw.metric('mxgate_retention_purged_total{family="audit"}'), 1)
        self.assertGreaterEqual(gw.metric("mxgate_audit_records"), 2)
        self.assertIn("event=audit_purged", gw.log())


class QueueDeleteAuditTest(unittest.TestCase):
    def test_queue_delete_audits_the_quarantine_removal_with_the_cli_user(self):
        gw = Gateway(zone=HELD_ZONE)
        self.addCleanup(gw.cleanup)
        gw.start()
        qid = submit_quarantined(gw)
        result = gw.cli("queue", "delete", qid)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        [deleted] = [r for r in audit_log(gw) if r["id"] == qid and r["action"] == "delete"]
        self.assertTrue(deleted["actor"].startswith("cli:"), deleted)
        self.assertEqual(deleted["tenant"], "example")
        self.assertRegex(gw.log(), rf"{qid}: event=removed by=cli:")
        status, _ = gw.admin(f"/v1/queue/{submit_quarantined(gw)}", method="DELETE")
        self.assertEqual(status, 200)
        self.assertEqual(audit_log(gw)[0]["actor"], "api")


class LifecycleTest(unittest.TestCase):
    """SIGTERM, restart with queued mail, the self-signed certificate."""

    def test_sigterm_exits_zero_quickly(self):
        gw = Gateway()
        try:
            gw.start()
            with Client(gw.smtp_port) as idle:  # an open session must not hold the shutdown up
                idle.ehlo()
                start = time.monotonic()
                code = gw.stop(timeout=10)
                elapsed = time.monotonic() - start
                reply = idle.reply(timeout=5)
            self.assertEqual(code, 0, gw.log()[-2000:])
            self.assertLess(elapsed, 10)
            self.assertIsNotNone(reply)
            self.assertEqual(reply.short(), "421 4.3.2")
            self.assertIn("event=stopped", gw.log())
        finally:
            gw.cleanup()

    def test_restart_keeps_queued_messages_and_certificate(self):
        port = free_port()
        gw = Gateway(tenants={"example": {"domains": ["example.test"], "delivery": smtp_tenant(port)}})
        try:
            gw.start()
            cert = os.path.join(gw.spool, "tls", "selfsigned.crt")
            key = os.path.join(gw.spool, "tls", "selfsigned.key")
            self.assertTrue(os.path.exists(cert) and os.path.exists(key))
            self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
            with open(cert, "rb") as f:
                cert_bytes = f.read()
            with open(key, "rb") as f:
                key_bytes = f.read()
            self.assertTrue(cert_bytes.startswith(b"-----BEGIN CERTIFICATE-----"))

            qid = submit(gw, subject="survives restart")
            self.assertTrue(wait_until(lambda: queue_listing(gw).get(qid, {}).get("attempts", 0) >= 1, 20))
            self.assertEqual(gw.stop(timeout=10), 0)

            gw.start()
            listing = queue_listing(gw)
            self.assertIn(qid, listing)
            self.assertEqual(listing[qid]["state"], "queued")
            with open(cert, "rb") as f:
                self.assertEqual(f.read(), cert_bytes)
            with open(key, "rb") as f:
                self.assertEqual(f.read(), key_bytes)
            with Client(gw.smtp_port) as c:  # the reused certificate is the one served
                c.ehlo()
                c.command("STARTTLS\r\n")
                c.starttls()
                served = ssl.DER_cert_to_PEM_cert(c.sock.getpeercert(binary_form=True)).encode()
            self.assertEqual(served.replace(b"\n", b""), cert_bytes.replace(b"\n", b""))

            with RawPeer(port=port) as peer:
                self.assertTrue(wait_until(lambda: len(peer.messages()) == 1, 30), gw.log()[-2000:])
                self.assertTrue(wait_until(lambda: qid not in queue_listing(gw), 20))
                time.sleep(1)
                self.assertEqual(len(peer.messages()), 1)
                self.assertIn(b"Subject: survives restart\r\n", peer.messages()[0])
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
