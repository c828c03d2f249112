"""Webhook delivery through the real binary to a real HTTP receiver (webhook_receiver.py, which
verifies every Standard Webhooks signature with its own HMAC code): the inbound.message.received
payload of a real SMTP transaction, retries after a 503 (delivered once per idempotency key),
a receiver that is down for the first backoff steps (nothing lost), 410 (endpoint disabled,
dead letter kept, `mxgate webhooks ls` and `replay`; the disabled state kept across restarts,
per URL), the address policy refusing loopback, link rewriting in the payload, tokens in URLs
and secrets never shown; and the event outbox: order, batching, dead events (kept, replayed,
purged after their retention), one tenant's backlog never holding back another's, and no
event posted twice."""

import base64
import concurrent.futures
import datetime
import email.message
import hashlib
import http.client
import json
import os
import random
import re
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import Client, Gateway, free_port, queue_id, wait_until
from webhook_receiver import Receiver, signature_header, whsec

NEW_KEY = bytes(range(32))
EVENTS_KEY = bytes(range(50, 82))
OLD_KEY = bytes(range(100, 132))
ATTACHMENT = b"%PDF-1.4\n" + bytes(range(256)) * 8


def webhook_tenant(url, **delivery):
    spec = {"target": "webhook", "url": url, "secrets": [whsec(NEW_KEY), whsec(OLD_KEY)], "allow_private": True,
            "retry_initial": "1s", "retry_max": "2s", "max_age": "1h"}
    spec.update(delivery)
    return {"acme": {"domains": ["acme.test"], "delivery": spec}}


def ticket_reply(html=None, subject="Re: Printer on fire [TICKET-202501-0001]"):
    message = email.message.EmailMessage()
    message["From"] = "Jane Doe <jane@remote.test>"
    message["To"] = "Acme Support <support@acme.test>"
    message["Subject"] = subject
    message["Date"] = "Thu, 15 Jan 2026 11:22:30 +0100"
    message["Message-ID"] = "<reply-1@remote.test>"
    message["In-Reply-To"] = "<t1.TICKET-202501-0001@crm.acme.test>"
    message["References"] = "<t0@crm.acme.test> <t1.TICKET-202501-0001@crm.acme.test>"
    message.set_content("Hi,\n\nStill burning.\n")
    message.add_alternative(html or "<html><body><p>Hi,</p><p>Still burning.</p></body></html>", subtype="html")
    message.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="invoice.pdf")
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def http_get(port, path, headers=None, source="127.0.0.1"):
    """source: the local address to connect from (all of 127.0.0.0/8 is loopback)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def send(gw, content=None, rcpt="support+TICKET-202501-0001@acme.test"):
    with Client(gw.first_port, timeout=30) as client:
        client.ehlo()
        stage, reply = client.transaction("bounces@remote.test", [rcpt], content or ticket_reply())
    assert (stage, reply.code) == ("dot", 250), reply
    return queue_id(reply)


def wait_delivered(test, gw, receiver, ids, timeout=30):
    """The 2xx-answered requests of these queue ids (waiting for them), in the order given."""
    ids = [f"msg_{i}_acme" for i in ids]
    if not wait_until(lambda: all(i in receiver.delivered() for i in ids), timeout=timeout):
        test.fail(f"not delivered: {ids}; got {[r['id'] for r in receiver.received()]}\n{gw.log()[-3000:]}")
    return [receiver.delivered()[i] for i in ids]


class TestWebhooks(unittest.TestCase):
    def gateway(self, tenants, overrides=None):
        gw = Gateway(tenants=tenants, overrides=overrides)
        self.addCleanup(gw.cleanup)
        gw.start()
        return gw

    def receiver(self, port=None, start=True):
        receiver = Receiver([NEW_KEY, OLD_KEY], port)
        if start:
            receiver.start()
        self.addCleanup(receiver.stop)
        return receiver

    def queue(self, gw):
        result = gw.cli("queue", "ls", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["messages"]

    def test_signed_payload_of_a_ticket_reply(self):
        receiver = self.receiver()
        gw = self.gateway(webhook_tenant(receiver.url))
        queued = send(gw)
        [request] = wait_delivered(self, gw, receiver, [queued])
        self.assertTrue(request["signature_ok"], request["signature"])
        self.assertEqual(len(request["signature"].split(" ")), 2)  # one per secret (rotation)
        self.assertEqual(request["path"], "/hooks/inbound")
        self.assertTrue(request["content_type"].startswith("application/json"))
        payload = request["json"]
        self.assertEqual(payload["type"], "inbound.message.received")
        data = payload["data"]
        self.assertEqual(data["id"], queued)
        self.assertEqual(data["tenant"], "acme")
        self.assertEqual(data["envelope"]["mail_from"], "bounces@remote.test")
        self.assertEqual(data["envelope"]["rcpt_to"], ["support+TICKET-202501-0001@acme.test"])
        self.assertEqual(data["envelope"]["client_ip"], "127.0.0.1")
        self.assertEqual(data["envelope"]["helo"], "client.example")
        self.assertIsNone(data["envelope"]["tls"])
        self.assertEqual(data["message_id"], "<reply-1@remote.test>")
        self.assertEqual(data["in_reply_to"], ["<t1.TICKET-202501-0001@crm.acme.test>"])
        self.assertEqual(data["references"], ["<t0@crm.acme.test>", "<t1.TICKET-202501-0001@crm.acme.test>"])
        self.assertEqual(data["date"], "2026-01-15T11:22:30+01:00")
        self.assertEqual(data["subject"], "Re: Printer on fire [TICKET-202501-0001]")
        self.assertEqual(data["from"], {"email": "jane@remote.test", "name": "Jane Doe"})
        self.assertEqual(data["to"], [{"email": "support@acme.test", "name": "Acme Support"}])
        self.assertIn("Still burning.", data["text"])
        self.assertIn("<p>Still burning.</p>", data["html"])
        names = [h["name"] for h in data["headers"]]
        self.assertEqual(names[0], "Authentication-Results")
        self.assertIn("Received", names)
        self.assertIn("Subject", names)
        self.assertEqual(data["auth"]["spf"]["result"], "none")
        self.assertTrue(data["auth"]["authentication_results"].startswith("mx.test.mxgate;"))
        self.assertEqual(data["virus"]["verdict"], "not_scanned")
        self.assertEqual(data["links"], {"mode": "off", "rewritten": 0})
        self.assertFalse(data["is_bounce"])
        [attachment] = data["attachments"]
        self.assertEqual(attachment["filename"], "invoice.pdf")
        self.assertEqual(attachment["content_type"], "application/pdf")
        self.assertEqual(attachment["size"], len(ATTACHMENT))
        self.assertEqual(attachment["sha256"], hashlib.sha256(ATTACHMENT).hexdigest())
        self.assertEqual(base64.b64decode(attachment["content_base64"]), ATTACHMENT)
        thread = data["thread"]
        self.assertEqual(thread["ticket"], "TICKET-202501-0001")
        self.assertIn({"value": "TICKET-202501-0001", "source": "subject"}, thread["hints"])
        self.assertIn({"value": "<t1.TICKET-202501-0001@crm.acme.test>", "source": "in_reply_to"}, thread["hints"])
        self.assertIn({"value": "TICKET-202501-0001", "source": "plus_address"}, thread["hints"])
        self.assertEqual(thread["subject_normalized"], "Printer on fire")
        wait_until(lambda: not self.queue(gw), timeout=10)
        self.assertEqual(self.queue(gw), [])
        self.assertEqual(gw.metric('mxgate_webhook_attempts_total{result="delivered"}'), 1)

    def test_503_then_200_is_delivered_once_per_idempotency_key(self):
        receiver = self.receiver()
        receiver.statuses = [503, 503]
        gw = self.gateway(webhook_tenant(receiver.url))
        queued = send(gw)
        wait_delivered(self, gw, receiver, [queued])
        requests = receiver.received()
        self.assertEqual([r["status"] for r in requests], [503, 503, 200])
        self.assertEqual({r["id"] for r in requests}, {f"msg_{queued}_acme"})
        self.assertTrue(all(r["signature_ok"] for r in requests))
        self.assertEqual(len({r["body"] for r in requests}), 1)  # the same payload every time
        self.assertEqual(gw.metric('mxgate_webhook_attempts_total{result="http_5xx"}'), 2)
        wait_until(lambda: not self.queue(gw), timeout=10)
        self.assertEqual(self.queue(gw), [])
        self.assertIn("webhook HTTP 503: not now", gw.log())

    def test_retry_after_is_honoured(self):
        receiver = self.receiver()
        receiver.statuses = [429]
        receiver.retry_after = 4
        gw = self.gateway(webhook_tenant(receiver.url))  # retry_initial 1s, retry_max 2s
        queued = send(gw)
        wait_delivered(self, gw, receiver, [queued])
        first, second = receiver.received()
        self.assertEqual((first["status"], second["status"]), (429, 200))
        self.assertGreaterEqual(second["arrived"] - first["arrived"], 3.9)

    def test_receiver_down_past_the_first_backoff_steps_loses_nothing(self):
        receiver = self.receiver(start=False)
        gw = self.gateway(webhook_tenant(receiver.url))
        ids = [send(gw) for _ in range(5)]

        def retried():
            messages = self.queue(gw)
            return len(messages) == 5 and all(m["attempts"] >= 3 for m in messages)
        self.assertTrue(wait_until(retried, timeout=30), self.queue(gw))
        self.assertIn("Failed to connect to 127.0.0.1 port", json.dumps(self.queue(gw)))
        receiver.start()
        delivered = wait_delivered(self, gw, receiver, ids)
        self.assertTrue(all(r["signature_ok"] for r in delivered))
        self.assertEqual(sorted(r["json"]["data"]["id"] for r in delivered), sorted(ids))
        wait_until(lambda: not self.queue(gw), timeout=10)
        self.assertEqual(self.queue(gw), [])

    def test_each_tenant_expires_its_recipients_by_its_own_max_age(self):
        receiver = self.receiver(start=False)  # both endpoints down for now
        tenants = webhook_tenant(receiver.url, max_age="3s", retry_max="1s")
        tenants["patient"] = {"domains": ["patient.test"],
                              "delivery": dict(tenants["acme"]["delivery"], max_age="1h")}
        gw = self.gateway(tenants)
        with Client(gw.first_port, timeout=30) as client:
            client.ehlo()
            stage, reply = client.transaction("bounces@remote.test", ["support@acme.test", "help@patient.test"],
                                              ticket_reply())
        self.assertEqual((stage, reply.code), ("dot", 250), reply)
        queued = queue_id(reply)

        def recipients():
            messages = [m for m in self.queue(gw) if m["id"] == queued]
            return {r["address"]: r for r in messages[0]["recipients"]} if messages else {}
        # acme's max age (3 s) fails acme's recipient only; patient's stays queued for its own 1 h.
        self.assertTrue(wait_until(lambda: recipients().get("support@acme.test", {}).get("state") == "failed",
                                   timeout=30), recipients())
        self.assertIn("expired after 3 s", recipients()["support@acme.test"]["last_reply"])
        self.assertEqual(recipients()["help@patient.test"]["state"], "pending")
        self.assertEqual([m["state"] for m in self.queue(gw) if m["id"] == queued], ["queued"])
        receiver.start()
        self.assertTrue(wait_until(lambda: f"msg_{queued}_patient" in receiver.delivered(), timeout=30),
                        gw.log()[-2000:])
        self.assertNotIn(f"msg_{queued}_acme", receiver.delivered())
        self.assertTrue(wait_until(lambda: recipients().get("help@patient.test", {}).get("state") == "delivered",
                                   timeout=10), recipients())
        [message] = [m for m in self.queue(gw) if m["id"] == queued]
        self.assertEqual((message["state"], message["dead_reason"]), ("dead", "expired"))

    def test_410_disables_the_endpoint_and_replay_delivers_the_dead_letters(self):
        receiver = self.receiver()
        receiver.statuses = [410]
        gw = self.gateway(webhook_tenant(receiver.url))
        first = send(gw)

        def listing():
            result = gw.cli("webhooks", "ls", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            return json.loads(result.stdout)
        self.assertTrue(wait_until(lambda: [m["id"] for m in listing()["dead"]] == [first], timeout=20), listing())
        self.assertEqual(listing()["endpoints"], [{"tenant": "acme", "url": receiver.url, "disabled": True}])
        self.assertEqual(gw.metric("mxgate_webhook_endpoints_disabled"), 1)
        second = send(gw)
        self.assertTrue(wait_until(lambda: len(listing()["dead"]) == 2, timeout=20), listing())
        self.assertEqual(len(receiver.received()), 1)  # nothing posted to a disabled endpoint
        self.assertIn("endpoint disabled", json.dumps(listing()["dead"]))
        text = gw.cli("webhooks", "ls")
        self.assertIn("disabled", text.stdout)
        replay = gw.cli("webhooks", "replay", "--all")
        self.assertEqual(replay.returncode, 0, replay.stdout + replay.stderr)
        self.assertIn("2 message(s) requeued", replay.stdout)
        wait_delivered(self, gw, receiver, [first, second])
        self.assertTrue(wait_until(lambda: listing()["dead"] == [], timeout=10), listing())
        self.assertFalse(listing()["endpoints"][0]["disabled"])

    def test_410_survives_a_restart_and_a_new_url_starts_enabled(self):
        receiver = self.receiver()
        receiver.statuses = [410]
        gw = self.gateway(webhook_tenant(receiver.url))

        def endpoint():
            result = gw.cli("webhooks", "ls", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            return json.loads(result.stdout)["endpoints"][0]

        def restart():
            self.assertEqual(gw.stop(), 0)
            gw.start()
        first = send(gw)
        self.assertTrue(wait_until(lambda: endpoint()["disabled"], timeout=20), gw.log()[-2000:])
        restart()
        self.assertTrue(endpoint()["disabled"])
        self.assertIn("webhook_endpoint_still_disabled", gw.log())
        self.assertEqual(gw.metric("mxgate_webhook_endpoints_disabled"), 1)
        second = send(gw)
        self.assertTrue(wait_until(lambda: [m["state"] for m in self.queue(gw)] == ["dead", "dead"], timeout=20),
                        self.queue(gw))
        self.assertEqual(len(receiver.received()), 1)  # nothing posted to the disabled endpoint
        replay = gw.cli("webhooks", "replay", "--all")
        self.assertEqual(replay.returncode, 0, replay.stdout + replay.stderr)
        wait_delivered(self, gw, receiver, [first, second])
        restart()  # the replay is remembered too
        self.assertFalse(endpoint()["disabled"])
        wait_delivered(self, gw, receiver, [send(gw)])

        receiver.statuses = [410]
        send(gw)
        self.assertTrue(wait_until(lambda: endpoint()["disabled"], timeout=20), gw.log()[-2000:])
        moved = receiver.url.replace("/hooks/inbound", "/hooks/moved")
        gw.tenants = webhook_tenant(moved)
        gw.write_config()
        restart()
        self.assertIn("webhook_endpoint_record_dropped", gw.log())
        self.assertEqual((endpoint()["url"], endpoint()["disabled"]), (moved, False))
        [request] = wait_delivered(self, gw, receiver, [send(gw)])
        self.assertEqual(request["path"], "/hooks/moved")

    def test_tokens_in_urls_and_secrets_never_show(self):
        """Webhook URLs carry tokens in their query: logs, last replies, events, the admin API and
        `mxgate webhooks ls` show them redacted; a malformed secret is never repeated, not by
        `mxgate check` and not in the reload_rejected log line."""
        token = "t0k3nSECRET"
        receiver = self.receiver()
        receiver.statuses = [410]
        events = Receiver([EVENTS_KEY]).start()
        self.addCleanup(events.stop)
        tenants = webhook_tenant(receiver.url + "?token=" + token)
        refused = dict(tenants["acme"]["delivery"], allow_private=False)  # refused before connecting
        tenants["beta"] = {"domains": ["beta.test"], "delivery": refused}
        for tenant in tenants.values():
            tenant["events"] = {"url": events.url + "?key=" + token, "secrets": [whsec(EVENTS_KEY)],
                                "allow_private": True}
        gw = self.gateway(tenants)
        gone = send(gw)
        deferred = send(gw, rcpt="someone@beta.test")

        def posted():
            return [request["json"] for request in events.delivered().values()]

        def types(tenant):
            return {event["type"] for event in posted() if event["tenant"] == tenant}
        self.assertTrue(wait_until(lambda: {"message.bounced", "webhook.endpoint.disabled"} <= types("acme") and
                                   "message.deferred" in types("beta"), timeout=30), posted())
        redacted = receiver.url + "?[redacted]"
        by_type = {(event["tenant"], event["type"]): event for event in posted()}
        self.assertEqual(by_type[("acme", "webhook.endpoint.disabled")]["data"]["url"], redacted)
        self.assertEqual(by_type[("acme", "message.bounced")]["data"]["remote"], redacted)
        self.assertEqual(by_type[("beta", "message.deferred")]["data"]["remote"], redacted)
        self.assertIn(f"remote={redacted}", gw.log())
        shown = [json.dumps(posted()), gw.log()]
        for args in (("webhooks", "ls"), ("webhooks", "ls", "--json"), ("queue", "ls", "--json"),
                     ("queue", "show", gone), ("queue", "show", deferred)):
            result = gw.cli(*args)
            self.assertEqual(result.returncode, 0, result.stderr)
            shown.append(result.stdout)
        shown.append(json.dumps(gw.admin("/v1/webhooks")[1]))
        self.assertIn(redacted, shown[2])
        for text in shown:
            self.assertNotIn(token, text)

        tenants["acme"]["delivery"]["secrets"] = ["whsec_" + token + "!!"]
        tenants["acme"]["events"]["url"] = "ftp://crm.test/events?key=" + token
        gw.write_config()
        check = gw.cli("check")
        self.assertNotEqual(check.returncode, 0)
        self.assertIn("delivery.secrets: invalid value (entry 1, not shown)", check.stdout + check.stderr)
        self.assertIn('events.url: invalid value "ftp://crm.test/events?[redacted]"', check.stdout + check.stderr)
        gw.reload()
        self.assertTrue(wait_until(lambda: "reload_failed" in gw.log(), timeout=10), gw.log()[-2000:])
        self.assertIn("not shown", gw.log())
        for text in (check.stdout, check.stderr, gw.log()):
            self.assertNotIn(token, text)

    def test_connections_are_kept_alive_and_reused(self):
        """Bursts then a trickle: the connections of a burst stay open for what follows (curl's
        connection cache would otherwise shrink with the transfers under way and reconnect)."""
        receiver = self.receiver()
        gw = self.gateway(webhook_tenant(receiver.url, max_connections=8))
        ids = []
        for _ in range(3):
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                ids.extend(pool.map(lambda _: send(gw), range(24)))
            wait_delivered(self, gw, receiver, ids)
            for _ in range(3):
                ids.append(send(gw))
                wait_delivered(self, gw, receiver, ids[-1:])
        peers = {r["peer"] for r in receiver.received()}
        self.assertLessEqual(len(peers), 8, f"{len(peers)} connections for {len(ids)} POSTs")

    def test_address_policy_refuses_loopback(self):
        receiver = self.receiver()
        gw = self.gateway(webhook_tenant(receiver.url, allow_private=False))
        queued = send(gw)
        self.assertTrue(wait_until(lambda: any(m["attempts"] >= 1 for m in self.queue(gw)), timeout=20))
        [message] = self.queue(gw)
        self.assertEqual(message["id"], queued)
        self.assertIn("address policy", message["recipients"][0]["last_reply"])
        self.assertEqual(receiver.received(), [])
        self.assertGreaterEqual(gw.metric('mxgate_webhook_attempts_total{result="refused_address"}'), 1)

    def test_local_receiver_checks_signatures_and_stores_payloads(self):
        tenants = webhook_tenant("http://placeholder.invalid/")
        gw = Gateway(tenants=tenants)
        self.addCleanup(gw.cleanup)
        tenants["acme"]["delivery"]["url"] = f"http://127.0.0.1:{gw.admin_port}/receiver/acme"
        gw.write_config()
        gw.start()
        queued = send(gw)
        stored = os.path.join(gw.spool, "received", "acme", f"msg_{queued}_acme.json")
        self.assertTrue(wait_until(lambda: os.path.exists(stored), timeout=20), gw.log()[-2000:])
        with open(stored, "rb") as f:
            self.assertEqual(json.load(f)["data"]["id"], queued)
        body = b'{"forged": true}'
        now = str(int(time.time()))
        url = f"http://127.0.0.1:{gw.admin_port}/receiver/acme"

        def post(headers, path=url):
            request = urllib.request.Request(path, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
        signature = signature_header(OLD_KEY, "msg_x", now, body)
        self.assertEqual(post({"webhook-id": "msg_x", "webhook-timestamp": now, "webhook-signature": signature}), 200)
        self.assertEqual(post({"webhook-id": "msg_x", "webhook-timestamp": now,
                               "webhook-signature": signature_header(bytes(32), "msg_x", now, body)}), 401)
        stale = str(int(time.time()) - 3600)
        self.assertEqual(post({"webhook-id": "msg_x", "webhook-timestamp": stale,
                               "webhook-signature": signature_header(OLD_KEY, "msg_x", stale, body)}), 401)
        self.assertEqual(post({"webhook-id": "../etc", "webhook-timestamp": now, "webhook-signature": signature}), 400)
        self.assertEqual(post({"webhook-id": "msg_x", "webhook-timestamp": now, "webhook-signature": signature},
                              url.replace("/acme", "/nobody")), 404)
        self.assertFalse(os.path.exists(os.path.join(gw.spool, "received", "etc.json")))

    def test_redirect_location_is_percent_encoded(self):
        receiver = self.receiver()
        tenants = webhook_tenant(receiver.url)
        tenants["acme"]["links"] = {"mode": "safe_links"}
        gw = self.gateway(tenants, overrides={"links": {"host": "links.test"}})
        queued = send(gw, ticket_reply(html='<html><body><a href="https://shop.test/a b/café?q=ü">x</a></body></html>'))
        [request] = wait_delivered(self, gw, receiver, [queued])
        click = re.search(r'href="https://links.test(/l/[^"]+)"', request["json"]["data"]["html"]).group(1)
        status, headers, _ = http_get(gw.links_port, click)
        self.assertEqual((status, headers.get("Location")), (302, "https://shop.test/a%20b/caf%C3%A9?q=%C3%BC"))

    def test_links_rewritten_for_a_file_target_too(self):
        gw = Gateway(tenants={"acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": "inbox"},
                                       "links": {"mode": "safe_links"}}},
                     overrides={"links": {"host": "links.test"}})
        self.addCleanup(gw.cleanup)
        gw.start()
        send(gw, ticket_reply(html='<html><body><a href="https://shop.test/x">x</a></body></html>'))
        self.assertTrue(wait_until(lambda: len(gw.inbox_files()) == 1, timeout=20), gw.log()[-2000:])
        [delivered] = gw.inbox_messages()
        self.assertIn(b"Authentication-Results: mx.test.mxgate;", delivered)
        self.assertIn(b'href="https://links.test/l/', delivered)
        self.assertNotIn(b"https://shop.test/x", delivered)
        self.assertIn(b"Subject: Re: Printer on fire [TICKET-202501-0001]\r\n", delivered)

    def test_links_rewritten_in_the_payload(self):
        receiver = self.receiver()
        tenants = webhook_tenant(receiver.url)
        tenants["acme"]["links"] = {"mode": "safe_links", "allow_hosts": ["trusted.test"]}
        gw = self.gateway(tenants, overrides={"links": {"host": "links.test"}})
        html = ('<html><body><a href="https://shop.test/order?id=1&amp;x=2">order</a> '
                '<a href="mailto:help@acme.test">mail</a> <a href="https://www.trusted.test/a">ok</a> '
                '<a data-mxgate-no-track href="https://private.test/">secret</a></body></html>')
        queued = send(gw, ticket_reply(html=html))
        [request] = wait_delivered(self, gw, receiver, [queued])
        data = request["json"]["data"]
        self.assertEqual(data["links"]["mode"], "safe_links")
        self.assertEqual(data["links"]["rewritten"], 1)
        links = re.findall(r'href="([^"]*)"', data["html"])
        self.assertEqual(len(links), 4)
        self.assertTrue(links[0].startswith("https://links.test/l/"), links)
        self.assertEqual(links[1:], ["mailto:help@acme.test", "https://www.trusted.test/a", "https://private.test/"])
        self.assertNotIn("shop.test", data["html"])
        # The click endpoint: the signed link redirects to the decoded target.
        path = links[0][len("https://links.test"):]
        status, headers, _ = http_get(gw.links_port, path)
        self.assertEqual((status, headers.get("Location")), (302, "https://shop.test/order?id=1&x=2"))
        # A tampered MAC: a page naming the target, never a redirect.
        key_id, payload, mac = path[len("/l/"):].split("/")
        tampered = f"/l/{key_id}/{payload}/{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
        status, headers, body = http_get(gw.links_port, tampered)
        self.assertEqual(status, 400)
        self.assertNotIn("Location", headers)
        self.assertIn(b"https://shop.test/order?id=1&amp;x=2", body)
        status, headers, _ = http_get(gw.links_port, f"/l/nokey/{payload}/{mac}")
        self.assertEqual(status, 400)
        self.assertEqual(http_get(gw.links_port, "/l/garbage")[0], 404)
        status, headers, body = http_get(gw.links_port, "/o/x/y/z")
        self.assertEqual((status, headers.get("Content-Type"), body[:6]), (200, "image/gif", b"GIF89a"))
        self.assertEqual(gw.metric('mxgate_link_requests_total{kind="click",result="ok"}'), 1)
        self.assertEqual(gw.metric('mxgate_link_requests_total{kind="click",result="bad_mac"}'), 1)
        self.assertEqual(gw.metric('mxgate_link_requests_total{kind="click",result="unknown_key"}'), 1)


class TestEvents(unittest.TestCase):
    """The event outbox: written with the state change, posted signed to the tenant's events.url."""

    def setUp(self):
        self.inbound = Receiver([NEW_KEY]).start()
        self.events = Receiver([EVENTS_KEY]).start()
        self.addCleanup(self.inbound.stop)
        self.addCleanup(self.events.stop)

    def gateway(self, batch_max=1, links=None, zone=None, events_max_age="3d", trusted_proxies=None, dead_retention=None,
                **delivery):
        tenants = webhook_tenant(self.inbound.url, **delivery)
        tenants["acme"]["events"] = {"url": self.events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True,
                                     "batch_max": batch_max, "max_age": events_max_age}
        if dead_retention:
            tenants["acme"]["events"]["dead_retention"] = dead_retention
        if links:
            tenants["acme"]["links"] = links
        node_links = {"host": "links.test", "trusted_proxies": trusted_proxies or []}
        gw = Gateway(tenants=tenants, overrides={"links": node_links} if links else None, zone=zone)
        self.addCleanup(gw.cleanup)
        return gw.start()

    def posted(self, count, timeout=30):
        if not wait_until(lambda: len(self.events.events()) >= count, timeout=timeout):
            arrived = self.events.events()
            self.fail(f"{len(arrived)} events arrived, {count} expected: {[e['type'] for e in arrived]}")
        return sorted(self.events.events(), key=lambda event: event["id"])

    def test_accepted_deferred_delivered_in_order_and_signed(self):
        self.inbound.statuses = [503]
        gw = self.gateway()
        queued = send(gw)
        events = self.posted(3)
        self.assertEqual([e["type"] for e in events], ["message.accepted", "message.deferred", "message.delivered"])
        self.assertTrue(all(r["signature_ok"] for r in self.events.received()))
        self.assertEqual({r["id"] for r in self.events.received()}, {e["id"] for e in events})
        for event in events:
            self.assertEqual(event["tenant"], "acme")
            self.assertEqual(event["data"]["message"]["id"], queued)
            self.assertEqual(event["data"]["recipient"], "support+TICKET-202501-0001@acme.test")
            self.assertEqual(event["data"]["sender"], "bounces@remote.test")
        self.assertEqual(events[1]["data"]["attempt"], 1)
        self.assertEqual(events[1]["data"]["response"], {"code": None, "enhanced_code": None,
                                                         "text": "webhook HTTP 503: not now"})
        # When the deferred recipient is tried again (retry_initial 1s, +/- 20 % jitter).
        retry_in = (datetime.datetime.fromisoformat(events[1]["data"]["next_retry_at"].replace("Z", "+00:00")) -
                    datetime.datetime.fromisoformat(events[1]["timestamp"].replace("Z", "+00:00"))).total_seconds()
        self.assertTrue(0.7 <= retry_in <= 1.3, events[1])
        self.assertNotIn("next_retry_at", events[2]["data"])
        self.assertEqual(events[2]["data"]["attempt"], 2)
        self.assertEqual(events[2]["data"]["response"]["text"], "webhook HTTP 200")
        self.assertTrue(wait_until(lambda: gw.metric('mxgate_events_total{result="posted"}') == 3, timeout=10))

    def test_events_wait_for_a_receiver_that_is_down_and_arrive_batched(self):
        self.events.stop()
        port = self.events.port
        gw = self.gateway(batch_max=10)
        ids = [send(gw) for _ in range(3)]
        self.wait_for_log(gw, "event_post_failed")
        self.events = Receiver([EVENTS_KEY], port).start()
        self.addCleanup(self.events.stop)
        events = self.posted(6, timeout=40)
        self.assertEqual(sorted(e["data"]["message"]["id"] for e in events if e["type"] == "message.accepted"),
                         sorted(ids))
        self.assertEqual(len([e for e in events if e["type"] == "message.delivered"]), 3)
        self.assertTrue(any(isinstance(r["json"], list) and len(r["json"]) > 1 for r in self.events.received()))
        self.assertTrue(all(r["signature_ok"] for r in self.events.received()))

    def test_events_past_their_max_age_are_kept_dead_and_replayed(self):
        self.events.stop()
        port = self.events.port
        gw = self.gateway(events_max_age="2s")
        queued = send(gw)

        def outbox():
            result = gw.cli("webhooks", "ls", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            return json.loads(result.stdout)["events"]
        self.assertTrue(wait_until(lambda: [e["dead"] for e in outbox()] == [2], timeout=30), outbox())
        self.assertEqual(outbox()[0]["pending"], 0)
        self.events = Receiver([EVENTS_KEY], port).start()
        self.addCleanup(self.events.stop)
        time.sleep(1.5)
        self.assertEqual(self.events.received(), [])  # dead events are not retried
        replay = gw.cli("webhooks", "replay", "--all")
        self.assertEqual(replay.returncode, 0, replay.stdout + replay.stderr)
        events = self.posted(2)
        self.assertEqual([e["type"] for e in events], ["message.accepted", "message.delivered"])
        self.assertEqual({e["data"]["message"]["id"] for e in events}, {queued})
        self.assertTrue(wait_until(lambda: [e["dead"] for e in outbox()] == [0], timeout=10), outbox())

    def file_gateway(self, events_urls, **overrides):
        """A started gateway whose tenants (id: events.url; domain <id>.test) deliver to files."""
        workdir = tempfile.mkdtemp(prefix="mxgate-it-")
        inbox = os.path.join(workdir, "inbox")
        tenants = {tenant: {"domains": [f"{tenant}.test"], "delivery": {"target": "file", "path": inbox},
                            "events": {"url": url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}}
                   for tenant, url in events_urls.items()}
        gw = Gateway(tenants=tenants, workdir=workdir, overrides=overrides)
        self.addCleanup(gw.cleanup)
        return gw.start()

    def send_bulk(self, gw, domain, recipients):
        """One message to that many recipients at domain."""
        with Client(gw.first_port, timeout=60) as client:
            client.ehlo()
            stage, reply = client.transaction("bulk@remote.test", [f"user{i}@{domain}" for i in range(recipients)],
                                              b"Subject: bulk\r\n\r\nbulk\r\n")
        self.assertEqual((stage, reply.code), ("dot", 250), reply)

    def outbox(self, gw):
        result = gw.cli("webhooks", "ls", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["events"]

    def test_dead_events_are_purged_after_their_retention(self):
        self.events.stop()
        gw = self.gateway(events_max_age="1s", dead_retention="2s")
        send(gw)
        self.assertTrue(wait_until(lambda: gw.metric('mxgate_events_outbox{state="dead"}') == 2, timeout=30),
                        gw.log()[-2000:])
        self.assertEqual(self.outbox(gw)[0]["dead"], 2)
        self.assertTrue(wait_until(lambda: gw.metric('mxgate_events_outbox{state="dead"}') == 0, timeout=30),
                        gw.log()[-2000:])
        self.assertEqual(gw.metric('mxgate_events_total{result="purged"}'), 2)
        self.assertRegex(gw.log(), r"events_dead_purged tenant=acme count=2 dead_retention_s=2")
        self.assertEqual((self.outbox(gw)[0]["dead"], self.outbox(gw)[0]["pending"]), (0, 0))

    def test_a_410_of_the_event_endpoint_survives_a_restart(self):
        self.events.statuses = [410]
        gw = self.gateway()
        send(gw)
        self.assertTrue(wait_until(lambda: self.outbox(gw) and self.outbox(gw)[0]["disabled"], timeout=20),
                        gw.log()[-2000:])
        self.assertEqual(gw.stop(), 0)
        gw.start()
        send(gw)
        self.assertTrue(wait_until(lambda: self.outbox(gw) and self.outbox(gw)[0]["pending"] == 4, timeout=20),
                        self.outbox(gw))
        self.assertTrue(self.outbox(gw)[0]["disabled"])
        self.assertEqual(len(self.events.received()), 1)  # nothing posted since the 410
        replay = gw.cli("webhooks", "replay", "--all")
        self.assertEqual(replay.returncode, 0, replay.stdout + replay.stderr)
        self.assertEqual([e["type"] for e in self.posted(4)],
                         ["message.accepted", "message.delivered", "message.accepted", "message.delivered"])
        self.assertEqual(gw.stop(), 0)
        gw.start()
        self.assertTrue(wait_until(lambda: self.outbox(gw) != [], timeout=20))
        self.assertFalse(self.outbox(gw)[0]["disabled"])

    def test_a_tenant_with_10000_pending_events_holds_back_no_other_tenant(self):
        """Tenant flood's event endpoint is down with over 10,000 events pending (a
        message.delivered per recipient of ten 1,000-recipient messages); acme's events, written
        after all of them, still arrive within seconds (issue 9, item 10)."""
        gw = self.file_gateway({"flood": f"http://127.0.0.1:{free_port()}/down", "acme": self.events.url})
        for _ in range(10):
            self.send_bulk(gw, "flood.test", 1000)

        def queued():
            result = gw.cli("queue", "ls", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            return json.loads(result.stdout)["messages"]
        self.assertTrue(wait_until(lambda: queued() == [], timeout=120), gw.log()[-2000:])
        self.assertIn("event_post_failed tenant=flood", gw.log())
        queued_id = send(gw, rcpt="support@acme.test")
        started = time.time()
        events = self.posted(2, timeout=20)
        self.assertLess(time.time() - started, 20)
        self.assertEqual([(e["tenant"], e["type"], e["data"]["message"]["id"]) for e in events],
                         [("acme", "message.accepted", queued_id), ("acme", "message.delivered", queued_id)])
        self.assertTrue(wait_until(lambda: gw.metric('mxgate_events_outbox{state="pending"}') >= 10010, timeout=30))

    def test_no_event_is_posted_twice_with_a_slow_endpoint_and_a_busy_read_lane(self):
        """Each 2xx takes its events exactly once, also when a read of the outbox saw them before
        their delete was applied: ten tenants post to a slow endpoint (each POST waits 200 to
        300 ms, around the dispatcher's 250 ms tick) while the outbox holds over 1,000 events for
        the read lane (one thread) to walk (issue 9, item 7)."""
        self.events.delay = lambda: random.uniform(0.2, 0.3)
        gw = self.file_gateway({f"t{n}": self.events.url for n in range(10)}, queue={"read_threads": 1})
        for n in range(10):
            self.send_bulk(gw, f"t{n}.test", 100)
        expected = 10 * (1 + 100)  # message.accepted and a message.delivered per recipient

        def taken():
            return [r["id"] for r in self.events.received() if 200 <= r["status"] < 300]

        def duplicates():
            ids = taken()
            return sorted({i for i in ids if ids.count(i) > 1})
        wait_until(lambda: len(set(taken())) >= expected or duplicates(), timeout=240, interval=0.5)
        self.assertEqual(duplicates(), [], f"{len(duplicates())} of {len(set(taken()))} events posted twice")
        self.assertEqual(len(set(taken())), expected)

    def test_410_raises_webhook_endpoint_disabled(self):
        self.inbound.statuses = [410]
        gw = self.gateway()
        queued = send(gw)
        events = self.posted(3)
        by_type = {e["type"]: e for e in events}
        self.assertEqual(set(by_type), {"message.accepted", "message.bounced", "webhook.endpoint.disabled"})
        self.assertEqual(by_type["webhook.endpoint.disabled"]["data"]["url"], self.inbound.url)
        self.assertEqual(by_type["message.bounced"]["data"]["message"]["id"], queued)

    def test_clicks_and_opens_become_events_of_the_links_tenant(self):
        gw = self.gateway(links={"mode": "on"}, trusted_proxies=["127.0.0.1"])
        html = '<html><body><p>Track <a href="https://shop.test/x">this</a></p></body></html>'
        queued = send(gw, ticket_reply(html=html))
        [request] = wait_delivered(self, gw, self.inbound, [queued])
        data = request["json"]["data"]
        click = re.search(r'href="https://links.test(/l/[^"]+)"', data["html"]).group(1)
        pixel = re.search(r'src="https://links.test(/o/[^"]+)"', data["html"]).group(1)
        self.assertEqual(http_get(gw.links_port, click, {"User-Agent": "TestBrowser/1"})[0], 302)
        self.assertEqual(http_get(gw.links_port, pixel, {"X-Forwarded-For": "203.0.113.9"})[0], 200)
        events = self.posted(4)
        by_type = {e["type"]: e for e in events}
        self.assertEqual(set(by_type), {"message.accepted", "message.delivered", "message.clicked", "message.opened"})
        clicked = by_type["message.clicked"]["data"]
        self.assertEqual((clicked["message"]["id"], clicked["url"], clicked["link_index"], clicked["user_agent"]),
                         (queued, "https://shop.test/x", 1, "TestBrowser/1"))
        opened = by_type["message.opened"]["data"]
        self.assertEqual((opened["message"]["id"], opened["ip"]), (queued, "203.0.113.9"))

    def test_forwarded_for_is_honoured_only_from_trusted_proxies(self):
        gw = self.gateway(links={"mode": "safe_links"}, trusted_proxies=["127.0.0.2", "127.0.0.3/32"])
        html = '<html><body><p>Track <a href="https://shop.test/x">this</a></p></body></html>'
        queued = send(gw, ticket_reply(html=html))
        [request] = wait_delivered(self, gw, self.inbound, [queued])
        click = re.search(r'href="https://links.test(/l/[^"]+)"', request["json"]["data"]["html"]).group(1)
        forged = {"X-Forwarded-For": "203.0.113.9"}
        self.assertEqual(http_get(gw.links_port, click, forged)[0], 302)  # from 127.0.0.1: not a proxy
        # Through two trusted proxies (127.0.0.3 appended by the first, 127.0.0.2 is the peer); the
        # client wrote 198.51.100.1 itself, 203.0.113.50 is where the first proxy saw it come from.
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.50, 127.0.0.3"}
        self.assertEqual(http_get(gw.links_port, click, chain, source="127.0.0.2")[0], 302)
        clicks = [e["data"] for e in self.posted(4) if e["type"] == "message.clicked"]
        self.assertEqual([c["ip"] for c in clicks], ["127.0.0.1", "203.0.113.50"])

    def test_expired_after_the_webhook_max_age(self):
        self.inbound.stop()
        gw = self.gateway(max_age="2s")
        queued = send(gw)
        self.assertTrue(wait_until(lambda: any(e["type"] == "message.expired" for e in self.posted(1)), timeout=30))
        events = self.posted(1)
        types = [e["type"] for e in events]
        self.assertEqual(types[0], "message.accepted")
        self.assertEqual(types[-1], "message.expired")
        self.assertTrue(set(types[1:-1]) <= {"message.deferred"}, types)
        expired = events[-1]["data"]
        self.assertEqual(expired["message"]["id"], queued)
        self.assertIn("expired after 2 s", expired["response"]["text"])
        result = gw.cli("webhooks", "ls", "--json")
        self.assertEqual([m["id"] for m in json.loads(result.stdout)["dead"]], [queued])

    def test_rejected_quarantined_and_released(self):
        spf = {"type": "TXT", "value": "v=spf1 ip4:192.0.2.1 -all"}  # the test client is 127.0.0.1: SPF fails
        gw = self.gateway(zone={"reject.test": [spf], "_dmarc.reject.test": [{"type": "TXT", "value": "v=DMARC1; p=reject"}],
                                "held.test": [spf], "_dmarc.held.test": [{"type": "TXT", "value": "v=DMARC1; p=quarantine"}]})
        with Client(gw.first_port, timeout=30) as client:
            client.ehlo()
            stage, reply = client.transaction("eve@reject.test", ["support@acme.test"],
                                              b"From: <eve@reject.test>\r\nSubject: no\r\n\r\nbody\r\n")
        self.assertEqual((stage, reply.code), ("dot", 550), reply)
        with Client(gw.first_port, timeout=30) as client:
            client.ehlo()
            stage, reply = client.transaction("eve@held.test", ["support@acme.test"],
                                              b"From: <eve@held.test>\r\nSubject: hold\r\n\r\nbody\r\n")
        self.assertEqual((stage, reply.code), ("dot", 250), reply)
        held = queue_id(reply)
        events = self.posted(3)
        self.assertEqual([e["type"] for e in events], ["message.rejected", "message.accepted", "message.quarantined"])
        rejected = events[0]["data"]
        self.assertEqual((rejected["recipient"], rejected["sender"], rejected["response"]["code"],
                          rejected["response"]["enhanced_code"], rejected["reason"]),
                         ("support@acme.test", "eve@reject.test", 550, "5.7.1", "dmarc"))
        self.assertEqual((events[2]["data"]["message"]["id"], events[2]["data"]["reason"]), (held, "dmarc"))
        release = gw.cli("quarantine", "release", held)
        self.assertEqual(release.returncode, 0, release.stdout + release.stderr)
        events = self.posted(5)
        self.assertEqual([e["type"] for e in events][3:], ["message.released", "message.delivered"])
        self.assertIn("cli:", events[3]["data"]["detail"])

    def wait_for_log(self, gw, text, timeout=20):
        self.assertTrue(wait_until(lambda: text in gw.log(), timeout=timeout), gw.log()[-2000:])


if __name__ == "__main__":
    unittest.main()
