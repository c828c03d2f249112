"""Outbound engagement tracking and RFC 8058 one-click unsubscribe (issue 11) with real peers.

A tenant with [tracking] clicks, opens and list_unsubscribe sends through the HTTP send API (with
tags and metadata) and over SMTP submission; mxgate delivers by MX (dns_server.py, an aiosmtpd
receiver on 127.0.0.8). At the receiver: the links are rewritten into signed links of the
click endpoint, the open pixel is there, List-Unsubscribe and List-Unsubscribe-Post are present,
and dkimpy verifies the DKIM signature with both fields in h=. curl follows a tracked link
through the real endpoint (302 to the original target) and fetches the pixel; the
message.clicked and message.opened events at the webhook receiver carry the message's tags and
metadata. GET on the unsubscribe URL shows a form and suppresses nothing; POST
List-Unsubscribe=One-Click suppresses the recipient (reason unsubscribe; the next message to it
is refused), emits message.unsubscribed with tags and metadata, and a repeat changes nothing;
a tampered token is refused (400) and suppresses nobody. A message with several recipients gets
no List-Unsubscribe, and the send API's "list_unsubscribe": true adds it for a tenant whose
policy does not.
"""
import email
import email.policy
import json
import re
import shutil
import subprocess
import tempfile
import unittest

import dkim

import test_outbound
from harness import Gateway, RecordingSink, free_port, wait_port, wait_until
from support_outbound import smtp_credential, submission_client
from test_api import api_key, post
from webhook_receiver import Receiver, whsec

MX_HOST = "127.0.0.8"
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": MX_HOST}],
}
EVENTS_KEY = b"tracking-events-key-0123456789ab"
TAGS = ["welcome", "spring"]
METADATA = {"user_id": "42", "campaign": "c-7"}
TARGET = "https://shop.example.org/item?id=5&ref=mail"
HTML = f'<html><body><p>Hi <a href="{TARGET}">our shop</a></p></body></html>'
TEXT = f"Hi, see {TARGET}\r\n"


def curl(*args):
    """curl's output (stdout) for one request; -w adds the status line at the end."""
    result = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


class OutboundTrackingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-tracking-")
        mx_port = free_port()
        cls.mx = RecordingSink(host=MX_HOST, port=mx_port).start()
        cls.events = Receiver([EVENTS_KEY]).start()
        key_file, cls.dkim_record = test_outbound.keygen(cls.tmp, "trk1", "rsa")
        inbox = cls.tmp + "/inbox"
        events = {"url": cls.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
        tenants = {
            "acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": inbox}, "events": events,
                     "tracking": {"clicks": True, "opens": True, "list_unsubscribe": True},
                     "dkim.keys": [{"domain": "acme.test", "selector": "trk1", "algorithm": "rsa-sha256",
                                    "key_file": key_file}]},
            "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox},
                     "tracking": {"clicks": True}},
        }
        cls.gw = Gateway(tenants=tenants, zone=ZONE, overrides={"mx": {"port": mx_port, "address_families": "ipv4"}})
        cls.host = f"127.0.0.1:{cls.gw.links_port}"
        cls.gw.overrides["links"] = {"host": cls.host}
        cls.gw.write_config()
        cls.gw.start()
        assert wait_port(cls.gw.api_port) and wait_port(cls.gw.links_port)
        cls.key, _ = api_key(cls.gw, "app", tenant="acme")
        cls.beta_key, _ = api_key(cls.gw, "app", tenant="beta")
        cls.smtp_credential = smtp_credential(cls.gw, "acme", "smtp")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.mx.stop()
        cls.events.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------------

    def send(self, to, key=None, **fields):
        """Sends through the API; the bytes the receiver got."""
        body = {"from": "News <news@acme.test>", "to": to, "subject": "Spring", "text": TEXT, "html": HTML,
                "tags": TAGS, "metadata": METADATA}
        body.update(fields)
        before = self.mx.count()
        status, answer, _ = post(self.gw.api_port, "/v1/messages", body, key=key or self.key)
        self.assertEqual(status, 202, answer)
        self.assertTrue(wait_until(lambda: self.mx.count() > before, 30), self.gw.log()[-3000:])
        return list(self.mx.messages)[-1]["data"], answer["id"]

    def submit(self, message):
        """Submits over SMTP (STARTTLS, AUTH) to smtp-reader@far.test; the bytes the receiver got."""
        before = self.mx.count()
        client = submission_client(self, self.gw, self.smtp_credential, "app.acme.test")
        client.sendmail("news@acme.test", ["smtp-reader@far.test"], message)
        client.quit()
        self.assertTrue(wait_until(lambda: self.mx.count() > before, 30), self.gw.log()[-3000:])
        return list(self.mx.messages)[-1]["data"]

    def parts(self, data):
        """(html, text) of a received message, decoded."""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        return (parsed.get_body(("html",)).get_content(), parsed.get_body(("plain",)).get_content())

    def verify(self, data):
        def dnsfunc(name, timeout=5):
            return self.dkim_record.encode() if name.rstrip(b".") == b"trk1._domainkey.acme.test" else None
        return dkim.verify(data, dnsfunc=dnsfunc)

    def local(self, url):
        """Our https link as the plain-HTTP URL of the endpoint under test."""
        self.assertTrue(url.startswith(f"https://{self.host}/"), url)
        return "http://" + url[len("https://"):]

    def unsubscribe_url(self, data):
        parsed = email.message_from_bytes(data, policy=email.policy.compat32)
        value = parsed["List-Unsubscribe"]
        self.assertIsNotNone(value, data[:2000])
        match = re.fullmatch(r"<(https://[^>]+)>", re.sub(r"\s+", "", value))
        self.assertIsNotNone(match, value)
        return match.group(1)

    def event(self, kind, predicate=lambda data: True):
        found = [e["data"] for e in self.events.events() if e and e["type"] == kind and predicate(e["data"])]
        return found

    def suppressions(self):
        result = self.gw.cli("suppression", "ls", "--tenant", "acme", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        return {e["address"]: e for e in json.loads(result.stdout)["suppressions"]}

    # ---- tests -----------------------------------------------------------------------------

    def test_links_pixel_and_unsubscribe_fields_are_signed_and_report_with_tags(self):
        data, queue_id = self.send(["reader@far.test"])
        html, text = self.parts(data)
        links = re.findall(r'href="([^"]+)"', html)
        self.assertEqual(len(links), 1, html)
        self.assertTrue(links[0].startswith(f"https://{self.host}/l/"), html)
        self.assertNotIn(TARGET, html)
        self.assertNotIn(TARGET, text)
        self.assertIn(f"https://{self.host}/l/", text)
        pixels = re.findall(r'<img src="(https://[^"]+/o/[^"]+)"', html)
        self.assertEqual(len(pixels), 1, html)
        self.assertRegex(data.decode(), r"(?m)^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$")
        self.assertIn(f"https://{self.host}/u/", self.unsubscribe_url(data))

        self.assertTrue(self.verify(data), data[:3000])
        signature = email.message_from_bytes(data, policy=email.policy.compat32)["DKIM-Signature"]
        signed = [h.strip().lower() for h in re.search(r"(?:^|;)h=([^;]+)", re.sub(r"\s+", "", signature)).group(1).split(":")]
        self.assertIn("list-unsubscribe", signed)
        self.assertIn("list-unsubscribe-post", signed)

        # A click through the real endpoint: 302 to the original, and the event with tags.
        answer = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", self.local(links[0]))
        self.assertEqual(answer, f"302 {TARGET}")
        self.assertTrue(wait_until(lambda: self.event("message.clicked", lambda d: d["message"]["id"] == queue_id), 30),
                        self.gw.log()[-3000:])
        clicked = self.event("message.clicked", lambda d: d["message"]["id"] == queue_id)[0]
        self.assertEqual(clicked["url"], TARGET)
        self.assertEqual(clicked["tags"], TAGS)
        self.assertEqual(clicked["metadata"], METADATA)

        answer = curl("-o", "/dev/null", "-w", "%{http_code} %{content_type}", self.local(pixels[0]))
        self.assertEqual(answer, "200 image/gif")
        self.assertTrue(wait_until(lambda: self.event("message.opened", lambda d: d["message"]["id"] == queue_id), 30),
                        self.gw.log()[-3000:])
        opened = self.event("message.opened", lambda d: d["message"]["id"] == queue_id)[0]
        self.assertEqual(opened["tags"], TAGS)
        self.assertEqual(opened["metadata"], METADATA)

    def test_one_click_unsubscribe(self):
        address = "leaving@far.test"
        data, queue_id = self.send([address])
        url = self.local(self.unsubscribe_url(data))

        # GET (a link scanner, or a person) shows a form and changes nothing.
        page = curl("-w", "\n%{http_code}", url)
        self.assertTrue(page.endswith("\n200"), page)
        self.assertIn('<form method="post">', page)
        self.assertIn('name="List-Unsubscribe" value="One-Click"', page)
        self.assertNotIn(address, self.suppressions())

        # A tampered token is refused like a bad click link, and suppresses nobody.
        tampered = url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:]
        answer = curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "List-Unsubscribe=One-Click", tampered)
        self.assertEqual(answer, "400")
        self.assertNotIn(address, self.suppressions())

        # The mailbox provider's POST (RFC 8058 §3.2).
        answer = curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "List-Unsubscribe=One-Click", url)
        self.assertEqual(answer, "200")
        entry = self.suppressions().get(address)
        self.assertIsNotNone(entry)
        self.assertEqual(entry["reason"], "unsubscribe")
        self.assertTrue(wait_until(lambda: self.event("message.unsubscribed", lambda d: d.get("recipient") == address),
                                   30), self.gw.log()[-3000:])
        unsubscribed = self.event("message.unsubscribed", lambda d: d.get("recipient") == address)
        self.assertEqual(len(unsubscribed), 1)
        self.assertEqual(unsubscribed[0]["message"]["id"], queue_id)
        self.assertEqual(unsubscribed[0]["tags"], TAGS)
        self.assertEqual(unsubscribed[0]["metadata"], METADATA)

        # Idempotent: again 200, no second event.
        answer = curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "List-Unsubscribe=One-Click", url)
        self.assertEqual(answer, "200")
        self.assertFalse(wait_until(lambda: len(self.event("message.unsubscribed",
                                                           lambda d: d.get("recipient") == address)) > 1, 2))

        # The next message to the address is refused.
        status, answer, _ = post(self.gw.api_port, "/v1/messages",
                                 {"from": "news@acme.test", "to": [address], "subject": "again", "text": "hi"},
                                 key=self.key)
        self.assertEqual(status, 422, answer)
        self.assertEqual(answer["recipients"][0]["status"], "suppressed", answer)

    def test_several_recipients_get_no_list_unsubscribe(self):
        data, _ = self.send(["one@far.test", "two@far.test"])
        parsed = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertIsNone(parsed["List-Unsubscribe"])
        self.assertIsNone(parsed["List-Unsubscribe-Post"])
        html, _ = self.parts(data)
        self.assertIn(f"https://{self.host}/l/", html)
        self.assertTrue(self.verify(data))

    def test_api_flag_asks_for_list_unsubscribe(self):
        # beta tracks clicks only: no pixel, and List-Unsubscribe only when the request asks.
        data, _ = self.send(["plain@far.test"], key=self.beta_key, **{"from": "app@beta.test"})
        self.assertIsNone(email.message_from_bytes(data, policy=email.policy.compat32)["List-Unsubscribe"])
        html, _ = self.parts(data)
        self.assertNotIn("/o/", html)
        self.assertIn(f"https://{self.host}/l/", html)
        data, _ = self.send(["asked@far.test"], key=self.beta_key, list_unsubscribe=True, **{"from": "app@beta.test"})
        self.assertIn(f"https://{self.host}/u/", self.unsubscribe_url(data))

    def test_smtp_submission_is_tracked_too(self):
        message = (f"From: news@acme.test\r\nTo: smtp-reader@far.test\r\nSubject: by smtp\r\n"
                   f"Message-ID: <smtp-tracking@acme.test>\r\nContent-Type: text/html\r\n\r\n{HTML}\r\n").encode()
        data = self.submit(message)
        self.assertIn(f"https://{self.host}/l/".encode(), data)
        self.assertNotIn(TARGET.encode(), data)
        self.assertIn(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", data)
        self.assertTrue(self.verify(data))

        # A message that streamed into several spool chunks: the replacement is written over them.
        padding = "".join(f"<p>line {n} of a long newsletter</p>\r\n" for n in range(8000))
        large = message.replace(b"</p></body>", f"</p>{padding}</body>".encode())
        self.assertGreater(len(large), 3 * 65536)
        data = self.submit(large)
        self.assertIn(b"line 7999 of a long newsletter", data)
        self.assertNotIn(TARGET.encode(), data)
        self.assertEqual(data.count(b"/o/"), 1)
        self.assertTrue(self.verify(data))


if __name__ == "__main__":
    unittest.main()
