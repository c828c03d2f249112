"""Bounce classification and per-tenant suppression lists through the real binary.

- Delivery events: a next hop refusing one recipient with 550 5.1.1 and deferring another with
  452 4.2.2 gives message.bounced {class hard, label invalid_recipient} and message.deferred
  {class soft, label mailbox_full}, and the outcome log lines say so.
- bounces.rules_file replaces the built-in rules; a reload picks up a changed file; a bad rule
  is a config error naming file, line and key (`mxgate check`).
- `mxgate suppression ls|add|remove|import --tenant T` (text and --json), the admin API behind
  it (token, unknown tenant, bad addresses), audit records, tenants kept apart, and a restart
  keeping the lists.
- End to end with outbound delivery: a tenant's submission (AUTH over STARTTLS) to a recipient
  whose mail exchanger (our DNS server -> aiosmtpd on 127.0.0.6) answers 550 5.1.1 puts the
  address on that tenant's list (reason hard_bounce, with the queue id and the reply); its next
  submission to it gets 550 5.1.1 at RCPT saying it is suppressed, with a message.suppressed
  event; another tenant still sends to the address; a manual entry is refused the same way and
  removing it lets mail through again; a restart keeps the refusal.
"""

import json
import os
import smtplib
import ssl
import tempfile
import unittest

from harness import Client, Gateway, RecordingSink, free_port, queue_id, smtp_tenant, wait_until
from webhook_receiver import Receiver, whsec

EVENTS_KEY = bytes(range(50, 82))
GONE = "550 5.1.1 <gone@acme.test>: Recipient address rejected: User unknown in virtual mailbox table"
FULL = "452 4.2.2 <full@acme.test>: Mailbox full"


def send(gw, recipients, sender="sender@remote.test", port=None):
    with Client(port or gw.first_port, timeout=30) as client:
        client.ehlo()
        stage, reply = client.transaction(sender, recipients, b"Subject: t\r\n\r\nhello\r\n")
    assert (stage, reply.code) == ("dot", 250), (stage, reply)
    return queue_id(reply)


class BounceClassificationTest(unittest.TestCase):
    def setUp(self):
        self.sink = RecordingSink(rcpt_replies={"gone@acme.test": GONE, "full@acme.test": FULL}).start()
        self.addCleanup(self.sink.stop)
        self.events = Receiver([EVENTS_KEY]).start()
        self.addCleanup(self.events.stop)

    def gateway(self, rules=None):
        gw = Gateway(tenants={"acme": {
            "domains": ["acme.test"],
            "delivery": smtp_tenant(self.sink.port),
            "events": {"url": self.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}}},
            overrides={"bounces": {"enabled": False}})
        self.addCleanup(gw.cleanup)
        if rules is not None:
            self.rules_path = os.path.join(gw.dir, "rules.toml")
            with open(self.rules_path, "w") as f:
                f.write(rules)
            gw.overrides["bounces"]["rules_file"] = self.rules_path
            gw.write_config()
        return gw

    def posted(self, predicate, timeout=30):
        if not wait_until(lambda: any(predicate(e) for e in self.events.events()), timeout=timeout):
            self.fail(f"no such event among {[(e['type'], e['data'].get('bounce')) for e in self.events.events()]}")
        return [e for e in self.events.events() if predicate(e)]

    def test_bounced_and_deferred_events_carry_class_and_label(self):
        gw = self.gateway().start()
        queued = send(gw, ["gone@acme.test", "full@acme.test"])
        bounced = self.posted(lambda e: e["type"] == "message.bounced")[0]
        self.assertEqual(bounced["data"]["recipient"], "gone@acme.test")
        self.assertEqual(bounced["data"]["message"]["id"], queued)
        self.assertEqual(bounced["data"]["bounce"], {"class": "hard", "label": "invalid_recipient"})
        self.assertEqual(bounced["data"]["response"]["enhanced_code"], "5.1.1")
        deferred = self.posted(lambda e: e["type"] == "message.deferred")[0]
        self.assertEqual(deferred["data"]["recipient"], "full@acme.test")
        self.assertEqual(deferred["data"]["bounce"], {"class": "soft", "label": "mailbox_full"})
        log = gw.log()
        self.assertRegex(log, rf"{queued}: event=failed to=gone@acme.test .*class=hard label=invalid_recipient")
        self.assertRegex(log, rf"{queued}: event=deferred to=full@acme.test .*class=soft label=mailbox_full")

    def test_rules_file_replaces_the_built_in_rules_and_a_reload_reads_it_again(self):
        rule = "[[rule]]\nmatch = 'user unknown'\nclass = \"block\"\nlabel = \"{}\"\n"
        gw = self.gateway(rules=rule.format("first_rules")).start()
        send(gw, ["gone@acme.test"])
        first = self.posted(lambda e: e["type"] == "message.bounced")[0]
        self.assertEqual(first["data"]["bounce"], {"class": "block", "label": "first_rules"})
        with open(self.rules_path, "w") as f:
            f.write(rule.format("second_rules"))
        gw.reload()
        self.assertTrue(wait_until(lambda: "event=reloaded" in gw.log(), 10), gw.log()[-2000:])
        send(gw, ["gone@acme.test"])
        second = self.posted(lambda e: e["type"] == "message.bounced" and
                             e["data"]["bounce"]["label"] == "second_rules")[0]
        self.assertEqual(second["data"]["bounce"]["class"], "block")

    def test_a_bad_rule_is_a_config_error_naming_file_line_and_key(self):
        gw = self.gateway(rules="[[rule]]\nmatch = 'x'\nclass = \"permanent\"\nlabel = \"x\"\n"
                                "[[rule]]\nmatch = '(unclosed'\nclass = \"hard\"\nlabel = \"y\"\n")
        result = gw.cli("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.rules_path}:3: rule.class: \"permanent\" is not a class", result.stderr + result.stdout)
        self.assertIn(f"{self.rules_path}:6: rule.match: not a valid regular expression", result.stderr + result.stdout)
        with self.assertRaises(RuntimeError):
            gw.start(timeout=5)


class SuppressionCliTest(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway()
        inbox = os.path.join(self.gw.dir, "inbox")
        self.gw.tenants = {"acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": inbox}},
                           "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox}}}
        self.gw.write_config()
        self.gw.start()
        self.addCleanup(self.gw.cleanup)

    def cli_json(self, *args, expect=0):
        result = self.gw.cli("suppression", *args, "--json")
        self.assertEqual(result.returncode, expect, result.stderr + result.stdout)
        return json.loads(result.stdout)

    def listing(self, tenant):
        return {e["address"]: e for e in self.cli_json("ls", "--tenant", tenant)["suppressions"]}

    def test_add_ls_remove_import_and_restart(self):
        added = self.cli_json("add", "Bob@Example.ORG", "carol@example.org", "--tenant", "acme", "--detail", "asked")
        self.assertEqual(added, {"added": ["bob@example.org", "carol@example.org"], "already": [], "invalid": []})
        again = self.cli_json("add", "bob@example.org", "--tenant", "acme")
        self.assertEqual(again["added"], [])
        self.assertEqual(again["already"], ["bob@example.org"])

        path = os.path.join(self.gw.dir, "import.txt")
        with open(path, "w") as f:
            f.write("# bounced last month\n"
                    "dave@example.org\n"
                    "\n"
                    "  erin@example.org   # trailing comment\n"
                    "not an address\n"
                    "bob@example.org\n"
                    "frank@\n")
        imported = self.cli_json("import", path, "--tenant", "acme", expect=1)
        self.assertEqual(imported["added"], ["dave@example.org", "erin@example.org"])
        self.assertEqual(imported["already"], ["bob@example.org"])
        self.assertEqual([(b["line"], b["text"]) for b in imported["bad_lines"]],
                         [(5, "not an address"), (7, "frank@")])
        text = self.gw.cli("suppression", "import", path, "--tenant", "acme")
        self.assertEqual(text.returncode, 1)
        self.assertIn("0 added, 3 already listed, 2 bad", text.stdout)
        self.assertIn(f"{path}:5: not an address: not an address (local@domain)", text.stderr)

        entries = self.listing("acme")
        self.assertEqual(sorted(entries), ["bob@example.org", "carol@example.org", "dave@example.org",
                                           "erin@example.org"])
        self.assertEqual(entries["bob@example.org"]["reason"], "manual")
        self.assertEqual(entries["bob@example.org"]["detail"], "asked")
        self.assertEqual(entries["dave@example.org"]["reason"], "import")
        self.assertEqual(set(entries["dave@example.org"]),
                         {"tenant", "address", "reason", "detail", "created_at", "queue_id"})
        self.assertEqual(self.listing("beta"), {})
        table = self.gw.cli("suppression", "ls", "--tenant", "acme")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("ADDRESS", table.stdout)
        self.assertIn("carol@example.org", table.stdout)

        removed = self.cli_json("remove", "CAROL@example.org", "zed@example.org", "--tenant", "acme")
        self.assertEqual(removed, {"removed": ["carol@example.org"], "not_listed": ["zed@example.org"], "invalid": []})

        status, audit = self.gw.admin("/v1/audit?limit=20")
        self.assertEqual(status, 200)
        actions = [(a["action"], a["tenant"]) for a in audit["audit"]]
        for action in ("suppression_add", "suppression_import", "suppression_remove"):
            self.assertIn((action, "acme"), actions)
        self.assertTrue(all(a["actor"].startswith("cli:") for a in audit["audit"]
                            if a["action"].startswith("suppression_")))

        self.gw.stop()
        self.gw.start()
        self.assertEqual(sorted(self.listing("acme")), ["bob@example.org", "dave@example.org", "erin@example.org"])

    def test_admin_api_checks_token_tenant_and_body(self):
        status, _ = self.gw.admin("/v1/suppressions?tenant=acme", token=False)
        self.assertEqual(status, 401)
        status, body = self.gw.admin("/v1/suppressions")
        self.assertEqual((status, body["error"]), (400, "tenant= is required"))
        status, body = self.gw.admin("/v1/suppressions?tenant=nobody")
        self.assertEqual((status, body["error"]), (404, "unknown tenant \"nobody\""))
        result = self.gw.cli("suppression", "add", "x@example.org", "--tenant", "nobody")
        self.assertEqual(result.returncode, 1)
        self.assertIn("unknown tenant", result.stderr)
        result = self.gw.cli("suppression", "add", "x@example.org")
        self.assertEqual(result.returncode, 2)  # usage: --tenant is required
        status, body = self.gw.admin("/v1/suppressions?tenant=acme", method="POST")
        self.assertEqual(status, 400)
        self.assertIn("addresses", body["error"])
        added = self.cli_json("add", "ok@example.org", "bad address", "--tenant", "beta", expect=1)
        self.assertEqual(added["added"], ["ok@example.org"])
        self.assertEqual(added["invalid"], [{"address": "bad address", "error": "not an address (local@domain)"}])
        self.assertEqual(list(self.listing("beta")), ["ok@example.org"])
        self.assertEqual(self.listing("acme"), {})



class OutboundSuppressionTest(unittest.TestCase):
    ZONE = {
        "gone.test": [{"type": "MX", "value": [10, "mx.gone.test"]}],
        "mx.gone.test": [{"type": "A", "value": "127.0.0.6"}],
    }
    GONE = "bob@gone.test"
    REFUSAL = "550 5.1.1 <bob@gone.test>: Recipient address rejected: User unknown"

    def setUp(self):
        port = free_port()
        self.mx = RecordingSink(host="127.0.0.6", port=port, rcpt_replies={self.GONE: self.REFUSAL}).start()
        self.addCleanup(self.mx.stop)
        self.events = Receiver([EVENTS_KEY]).start()
        self.addCleanup(self.events.stop)
        inbox = tempfile.mkdtemp(prefix="mxgate-suppression-inbox-")
        events = {"url": self.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
        self.gw = Gateway(tenants={
            "acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": inbox}, "events": events},
            "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox}}},
            zone=self.ZONE, overrides={"mx": {"port": port, "address_families": "ipv4"}})
        self.addCleanup(self.gw.cleanup)
        self.gw.start()
        self.acme = self.credential("acme")
        self.beta = self.credential("beta")

    def credential(self, tenant):
        created = self.gw.cli("credentials", "add", "--tenant", tenant, "--name", "app", "--json")
        self.assertEqual(created.returncode, 0, created.stderr)
        body = json.loads(created.stdout)
        return body["username"], body["secret"]

    def submit(self, credential, sender, recipient):
        """MAIL, RCPT and (when the RCPT is taken) DATA on an authenticated session: the RCPT reply."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.gw.submission_port, timeout=30) as client:
            client.starttls(context=context)
            client.login(*credential)
            self.assertEqual(client.mail(sender)[0], 250)
            code, text = client.rcpt(recipient)
            if code == 250:
                message = f"From: {sender}\r\nTo: {recipient}\r\nSubject: hello\r\n\r\nhi\r\n"
                self.assertEqual(client.data(message.encode())[0], 250)
            else:
                client.rset()
        return code, text.decode()

    def suppressed(self, tenant):
        result = self.gw.cli("suppression", "ls", "--tenant", tenant, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        return {e["address"]: e for e in json.loads(result.stdout)["suppressions"]}

    def test_a_hard_bounce_suppresses_the_recipient_for_its_tenant_only(self):
        self.assertEqual(self.submit(self.acme, "app@acme.test", self.GONE)[0], 250)
        self.assertTrue(wait_until(lambda: self.GONE in self.suppressed("acme"), timeout=30), self.gw.log()[-3000:])
        entry = self.suppressed("acme")[self.GONE]
        self.assertEqual(entry["reason"], "hard_bounce")
        self.assertEqual(entry["detail"], self.REFUSAL)
        self.assertRegex(entry["queue_id"], r"^[0-9A-Z]{20}$")
        self.assertIn(f"{entry['queue_id']}: event=suppressed tenant=acme to={self.GONE}", self.gw.log())
        self.assertEqual(self.suppressed("beta"), {})
        asked = len(self.mx.rcpts)

        code, text = self.submit(self.acme, "app@acme.test", "Bob@Gone.Test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith("5.1.1 <Bob@gone.test>: Recipient address rejected: suppressed"), text)
        self.assertTrue(wait_until(lambda: any(e["type"] == "message.suppressed" for e in self.events.events()), 30))
        event = next(e for e in self.events.events() if e["type"] == "message.suppressed")
        self.assertEqual((event["tenant"], event["data"]["recipient"], event["data"]["reason"]),
                         ("acme", "Bob@gone.test", "suppressed"))
        self.assertEqual(event["data"]["response"]["code"], 550)

        # Another tenant's list is its own: beta still sends to the address (and the MX is asked).
        self.assertEqual(self.submit(self.beta, "app@beta.test", self.GONE)[0], 250)
        self.assertTrue(wait_until(lambda: len(self.mx.rcpts) > asked, timeout=30))

        self.gw.stop()
        self.gw.start()
        self.assertEqual(self.submit(self.acme, "app@acme.test", self.GONE)[0], 550)

    def test_manual_entries_refuse_until_removed(self):
        self.assertEqual(self.gw.cli("suppression", "add", "carol@gone.test", "--tenant", "acme").returncode, 0)
        self.assertEqual(self.submit(self.acme, "app@acme.test", "carol@gone.test")[0], 550)
        self.assertEqual(self.submit(self.beta, "app@beta.test", "carol@gone.test")[0], 250)
        self.assertEqual(self.gw.cli("suppression", "remove", "carol@gone.test", "--tenant", "acme").returncode, 0)
        self.assertEqual(self.submit(self.acme, "app@acme.test", "carol@gone.test")[0], 250)


if __name__ == "__main__":
    unittest.main()
