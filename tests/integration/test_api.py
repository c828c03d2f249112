"""The HTTP send API (README "HTTP send API") against the real binary, with curl and Python.

- Every error status, each a JSON error naming its field: 400 malformed JSON, 401 without or
  with a wrong API key (the same answer for an unknown user), 403 a foreign sender, 404/405,
  413 a body over api.max_request_size, 422 bad fields (missing to, bad address, bad base64,
  too many recipients, send_at malformed or past queue.send_at_horizon), 429 with Retry-After once a user is locked, 503 when the spool
  refuses (spool.max_queued_bytes).
- 202 only for a message that is queued, then delivered by MX (dns_server.py, an aiosmtpd
  receiver on 127.0.0.6 with [mx] port set high): its MIME (built with GMime) parsed by Python's
  email package (text and html alternatives, attachment bytes equal, Bcc only in the envelope),
  with curl too; tags and metadata reach the spool record.
- Idempotency-Key: the same id again and one delivery; another body with the key is 422.
- Sender binding: the HTTP half of the cross-tenant matrix (support_outbound.py) over
  /v1/messages/raw, 403 for every combination that is not wholly the tenant's own, and only the
  allowed ones delivered.
- The raw form, TLS on the API listener, and the config error for an address off loopback.
"""
import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from email import policy
from email.parser import BytesParser

import dkim

import test_outbound
from harness import Gateway, RecordingSink, free_port, wait_port
from support_protocol import self_signed
from support_outbound import Domains, attempt_message, cross_tenant_attempts
from webhook_receiver import Receiver, whsec

MX_HOST = "127.0.0.6"
DEAD_MX_HOST = "127.0.0.7"
ZONE = {
    "far.test": [{"type": "MX", "value": [10, "mx.far.test"]}],
    "mx.far.test": [{"type": "A", "value": MX_HOST}],
    "stuck.test": [{"type": "MX", "value": [10, "mx.stuck.test"]}],
    "mx.stuck.test": [{"type": "A", "value": DEAD_MX_HOST}],
}


EVENTS_KEY = b"api-events-key-0123456789abcdefg"


def tenants(events=None, dkim_key=None):
    """Two tenants; their inbound mail (none in these tests) would go to files; example's events
    to the receiver events and its mail signed with selector api1 and dkim_key when given."""
    inbox = os.path.join(tempfile.gettempdir(), "mxgate-api-inbound")
    made = {"example": {"domains": ["example.test"], "delivery": {"target": "file", "path": inbox}},
            "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox}}}
    if events is not None:
        made["example"]["events"] = {"url": events.url, "secrets": [whsec(EVENTS_KEY)], "allow_private": True}
    if dkim_key is not None:
        made["example"]["dkim.keys"] = [{"domain": "example.test", "selector": "api1", "algorithm": "rsa-sha256",
                                         "key_file": dkim_key}]
    return made


def post(port, path, body, key=None, headers=None, raw_body=None, timeout=30, method="POST"):
    """(status, parsed JSON or text, response headers) of a POST (or method) to the API."""
    data = raw_body if raw_body is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", "Bearer " + key)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text, response_headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, text, response_headers = error.code, error.read().decode(), error.headers
    try:
        return status, json.loads(text), response_headers
    except ValueError:
        return status, text, response_headers


def api_key(gateway, name, tenant="example"):
    created = gateway.cli("credentials", "add", "--tenant", tenant, "--name", name, "--kind", "api", "--json")
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    return f"{made['username']}.{made['secret']}", made


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def message(**fields):
    body = {"from": "App <app@example.test>", "to": ["user@far.test"], "subject": "Hello", "text": "hi"}
    body.update(fields)
    return body


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mx_port = free_port()
        cls.mx = RecordingSink(host=MX_HOST, port=mx_port).start()
        cls.events = Receiver([EVENTS_KEY]).start()
        cls.tmp = tempfile.mkdtemp(prefix="mxgate-api-")
        key_file, cls.dkim_record = test_outbound.keygen(cls.tmp, "api1", "rsa")
        cls.gw = Gateway(tenants=tenants(cls.events, key_file), zone=ZONE,
                         overrides={"api": {"max_request_size": "64KiB", "max_recipients": 5},
                                    "mx": {"port": mx_port, "address_families": "ipv4"}})
        cls.gw.start()
        assert wait_port(cls.gw.api_port)
        cls.key, _ = api_key(cls.gw, "app")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        cls.mx.stop()
        cls.events.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def send(self, body, path="/v1/messages", key=None, **kwargs):
        return post(self.gw.api_port, path, body, key=self.key if key is None else key, **kwargs)

    def assertError(self, answer, status, code, field):
        got_status, body, _ = answer
        self.assertEqual(got_status, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body["error"]["status"], status, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertEqual(body["error"]["field"], field, body)
        self.assertTrue(body["error"]["message"], body)

    def delivered(self, count):
        """The MX receiver's messages once it has count of them ([] after 30 s without)."""
        return wait_for(lambda: self.mx.count() >= count and list(self.mx.messages)) or []

    def test_accepted_message_is_mime_built_with_alternatives_and_attachment(self):
        before = self.mx.count()
        pdf = bytes(range(256)) * 8
        status, body, _ = self.send(message(
            to=["Alice <alice@far.test>"], cc="carol@far.test", bcc=["hidden@far.test"],
            subject="Grüße", text="plain text body", html="<p>html body</p>",
            attachments=[{"filename": "report.pdf", "content_type": "application/pdf",
                          "content_base64": base64.b64encode(pdf).decode()}],
            tags=["welcome"], metadata={"ticket": "42"}))
        self.assertEqual(status, 202, body)
        self.assertRegex(body["id"], r"^[0-9A-Z]{20}$")
        self.assertEqual([r["address"] for r in body["recipients"]],
                         ["alice@far.test", "carol@far.test", "hidden@far.test"])
        self.assertTrue(all(r["status"] == "queued" for r in body["recipients"]), body)
        self.assertIn(f"{body['id']}: event=accepted", self.gw.log())
        messages = self.delivered(before + 1)
        self.assertTrue(messages, self.gw.log()[-3000:])
        delivered = messages[-1]
        self.assertEqual(delivered["mail_from"], "app@example.test")
        self.assertEqual(sorted(delivered["rcpt_tos"]), ["alice@far.test", "carol@far.test", "hidden@far.test"])
        parsed = BytesParser(policy=policy.default).parsebytes(delivered["data"])
        self.assertEqual(parsed["Subject"], "Grüße")
        self.assertEqual(parsed["From"], "App <app@example.test>")
        self.assertIsNotNone(parsed["Message-ID"])
        self.assertIsNotNone(parsed["Date"])
        self.assertIsNone(parsed["Bcc"])
        self.assertNotIn(b"hidden@", delivered["data"])  # bcc only in the envelope
        # signed by the outbound stages like a submission: dkimpy verifies what arrived
        record = self.dkim_record.encode()
        self.assertTrue(dkim.verify(delivered["data"], dnsfunc=lambda name, timeout=5:
                                    record if name.rstrip(b".") == b"api1._domainkey.example.test" else None),
                        delivered["data"][:1500])
        self.assertEqual(parsed.get_content_type(), "multipart/mixed")
        alternative, attachment = parsed.get_payload()
        self.assertEqual(alternative.get_content_type(), "multipart/alternative")
        self.assertEqual([p.get_content_type() for p in alternative.get_payload()], ["text/plain", "text/html"])
        self.assertEqual(alternative.get_payload()[0].get_content().strip(), "plain text body")
        self.assertEqual(attachment.get_filename(), "report.pdf")
        self.assertEqual(attachment.get_payload(decode=True), pdf)
        # tags and metadata went into the spool record: the delivered event carries them
        def delivered_event():
            return [r["json"]["data"] for r in self.events.received()
                    if r["json"] and r["json"]["type"] == "message.delivered"
                    and r["json"]["data"].get("recipient") == "alice@far.test"]
        self.assertTrue(wait_for(delivered_event), self.gw.log()[-3000:])
        self.assertEqual(delivered_event()[0]["tags"], ["welcome"])
        self.assertEqual(delivered_event()[0]["metadata"], {"ticket": "42"})

    def test_curl_sends_a_message(self):
        result = subprocess.run(
            ["curl", "-sS", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + self.key,
             "-H", "Content-Type: application/json", "--data-binary",
             json.dumps(message(text="from curl")), f"http://127.0.0.1:{self.gw.api_port}/v1/messages"],
            capture_output=True, text=True, timeout=60)
        body, status = result.stdout.rsplit("\n", 1)
        self.assertEqual(status, "202", result.stdout + result.stderr)
        self.assertRegex(json.loads(body)["id"], r"^[0-9A-Z]{20}$")

    def test_raw_message_with_its_envelope(self):
        before = self.mx.count()
        raw = b"From: App <app@example.test>\nTo: user@far.test\nSubject: raw form\n\nraw body\n"
        status, body, _ = self.send({"to": ["other@far.test"], "mail_from": "bounces@example.test",
                                     "message_base64": base64.b64encode(raw).decode()}, path="/v1/messages/raw")
        self.assertEqual(status, 202, body)
        messages = self.delivered(before + 1)
        self.assertTrue(messages, self.gw.log()[-3000:])
        self.assertEqual((messages[-1]["mail_from"], messages[-1]["rcpt_tos"]), ("bounces@example.test", ["other@far.test"]))
        parsed = BytesParser(policy=policy.default).parsebytes(messages[-1]["data"])
        self.assertEqual(parsed["Subject"], "raw form")
        self.assertIsNotNone(parsed["Message-ID"])
        self.assertIn(b"raw body\r\n", messages[-1]["data"])

    def test_senders_outside_the_tenant_get_403(self):
        self.assertError(self.send(message(**{"from": "app@beta.test"})), 403, "sender_not_allowed", "from")
        self.assertError(self.send(message(**{"from": "app@foreign.test"})), 403, "sender_not_allowed", "from")
        self.assertError(self.send(message(headers={"Sender": "ops@beta.test"})), 403, "sender_not_allowed",
                         "headers.Sender")
        raw = base64.b64encode(b"From: app@example.test\r\nSubject: x\r\n\nx\r\n").decode()
        self.assertError(self.send({"to": "u@far.test", "mail_from": "app@beta.test", "message_base64": raw},
                                   path="/v1/messages/raw"), 403, "sender_not_allowed", "mail_from")
        raw = base64.b64encode(b"From: app@beta.test\r\nSubject: x\r\n\nx\r\n").decode()
        self.assertError(self.send({"to": "u@far.test", "mail_from": "app@example.test", "message_base64": raw},
                                   path="/v1/messages/raw"), 403, "sender_not_allowed", "message_base64")

    def test_cross_tenant_attempts_send_nothing_but_the_tenants_own(self):
        domains = Domains(own="example.test", other="beta.test", foreign="foreign.test")
        before = self.mx.count()
        attempts = list(cross_tenant_attempts(domains, "rcpt@far.test"))
        self.assertGreaterEqual(len(attempts), 400)
        allowed = []
        for attempt in attempts:
            status, body, _ = self.send({"mail_from": attempt.mail_from, "to": ["rcpt@far.test"],
                                         "message_base64": base64.b64encode(attempt_message(attempt)).decode()},
                                        path="/v1/messages/raw")
            self.assertEqual(status, 202 if attempt.allowed else 403, f"{attempt.label}: {body}")
            if status == 202:
                allowed.append(attempt.number)
            else:
                self.assertEqual(body["error"]["code"], "sender_not_allowed", attempt.label)
        self.assertEqual(len(allowed), 12)  # 4 wholly-own combinations in each of 3 address forms
        self.assertTrue(wait_for(lambda: self.mx.count() >= before + len(allowed), 60), self.gw.log()[-3000:])
        time.sleep(2)
        delivered = self.mx.messages[before:]
        subjects = sorted(int(number) for d in delivered
                          for number in re.findall(rb"Subject: cross-tenant attempt (\d+)", d["data"]))
        self.assertEqual(subjects, sorted(allowed))

    def test_idempotency_key_returns_the_same_id_and_sends_once(self):
        before = self.mx.count()
        body = message(text="exactly once", subject="idempotent")
        first = self.send(body, headers={"Idempotency-Key": "order-1001"})
        self.assertEqual(first[0], 202, first[1])
        again = self.send(body, headers={"Idempotency-Key": "order-1001"})
        self.assertEqual(again[0], 202, again[1])
        self.assertEqual(again[1], first[1])
        self.assertEqual(again[2]["Idempotent-Replayed"], "true")
        other_key, _ = api_key(self.gw, "othertenantkey")  # the same tenant's other key shares the keys
        self.assertEqual(self.send(body, key=other_key, headers={"Idempotency-Key": "order-1001"})[1]["id"],
                         first[1]["id"])
        self.assertError(self.send(message(text="changed"), headers={"Idempotency-Key": "order-1001"}), 422,
                         "idempotency_key_reused", "Idempotency-Key")
        self.assertError(self.send(body, headers={"Idempotency-Key": "x" * 256}), 422, "invalid_field",
                         "Idempotency-Key")
        self.assertTrue(self.delivered(before + 1))
        time.sleep(2)  # a second delivery would have arrived by now (the first did)
        subjects = [BytesParser(policy=policy.default).parsebytes(m["data"])["Subject"] for m in self.mx.messages]
        self.assertEqual(subjects.count("idempotent"), 1, subjects)
        self.assertGreaterEqual(self.gw.metric('mxgate_api_requests_total{result="replayed"}'), 2)

    def test_suppressed_recipients_are_reported_per_recipient(self):
        added = self.gw.cli("suppression", "add", "gone@far.test", "--tenant", "example")
        self.assertEqual(added.returncode, 0, added.stderr)
        before = self.mx.count()
        status, body, _ = self.send(message(to=["gone@far.test", "here@far.test"], subject="partly suppressed"))
        self.assertEqual(status, 202, body)
        self.assertEqual([(r["address"], r["status"]) for r in body["recipients"]],
                         [("gone@far.test", "suppressed"), ("here@far.test", "queued")])
        self.assertTrue(self.delivered(before + 1), self.gw.log()[-3000:])
        self.assertEqual(self.mx.messages[-1]["rcpt_tos"], ["here@far.test"])
        status, body, _ = self.send(message(to=["gone@far.test"]))
        self.assertEqual(status, 422, body)
        self.assertEqual((body["error"]["code"], body["error"]["field"]), ("no_valid_recipients", "to"))
        self.assertEqual(body["recipients"][0]["status"], "suppressed")

    def test_unauthenticated_requests_get_401_alike(self):
        status, body, headers = post(self.gw.api_port, "/v1/messages", message())
        self.assertError((status, body, headers), 401, "unauthorized", "")
        self.assertIn("Bearer", headers["WWW-Authenticate"])
        wrong = self.send(message(), key=self.key[:-3] + "xyz")
        unknown = self.send(message(), key="example.nosuch." + self.key.rsplit(".", 1)[1])
        self.assertError(wrong, 401, "unauthorized", "")
        self.assertError(unknown, 401, "unauthorized", "")
        self.assertEqual(wrong[1], unknown[1])  # nothing tells an unknown user apart
        smtp_user = self.gw.cli("credentials", "add", "--tenant", "example", "--name", "smtponly", "--json")
        made = json.loads(smtp_user.stdout)
        self.assertError(self.send(message(), key=f"{made['username']}.{made['secret']}"), 401, "unauthorized", "")
        self.assertNotIn(self.key.rsplit(".", 1)[1], self.gw.log())

    def test_bad_requests_name_their_field(self):
        self.assertError(self.send(None, raw_body=b'{"from": "app@example.test", '), 400, "malformed_json", "")
        self.assertError(self.send(message(to=[])), 422, "missing_field", "to")
        self.assertError(self.send(message(to=["ok@far.test", "not an address"])), 422, "invalid_address",
                         "to[1]")
        self.assertError(self.send(message(attachments=[{"filename": "a", "content_base64": "***"}])), 422,
                         "invalid_base64", "attachments[0].content_base64")
        self.assertError(self.send(message(to=[f"u{i}@far.test" for i in range(6)])), 422,
                         "too_many_recipients", "to")
        self.assertError(self.send(message(send_at="2030-01-01 00:00")), 422, "invalid_field", "send_at")
        self.assertError(self.send(message(send_at="2099-01-01T00:00:00Z")), 422, "send_at_too_late", "send_at")
        self.assertError(self.send(message(headers={"X-Evil": "a\r\nBcc: x@far.test"})), 422, "invalid_field",
                         "headers.X-Evil")
        self.assertError(self.send({"to": "user@far.test", "message_base64": "%%"}, path="/v1/messages/raw"),
                         422, "invalid_base64", "message_base64")

    def test_too_large_wrong_path_and_method(self):
        answer = self.send(message(text="x" * (80 * 1024)))
        self.assertError(answer, 413, "too_large", "")
        self.assertError(self.send(message(), path="/v1/nothing"), 404, "not_found", "")
        request = urllib.request.Request(f"http://127.0.0.1:{self.gw.api_port}/v1/messages", method="GET")
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        self.assertEqual(caught.exception.code, 405)
        self.assertEqual(json.loads(caught.exception.read())["error"]["code"], "method_not_allowed")


class ApiLockoutTest(unittest.TestCase):
    def test_failures_are_delayed_then_locked_with_429(self):
        gw = Gateway(overrides={"submission": {"auth_max_failures": 3, "auth_failure_delay": "1s",
                                               "auth_max_delay": "2s", "auth_lockout": "1m"}})
        try:
            gw.start()
            self.assertTrue(wait_port(gw.api_port))
            key, _ = api_key(gw, "app")
            wrong = key[:-3] + "xyz"
            for _ in range(2):
                began = time.monotonic()
                status, body, _ = post(gw.api_port, "/v1/messages", message(), key=wrong)
                self.assertEqual(status, 401, body)
                self.assertGreaterEqual(time.monotonic() - began, 0.5)  # the limiter's delay
            status, body, _ = post(gw.api_port, "/v1/messages", message(), key=wrong)
            self.assertEqual(status, 401, body)
            status, body, headers = post(gw.api_port, "/v1/messages", message(), key=key)
            self.assertEqual(status, 429, body)
            self.assertEqual(body["error"]["code"], "too_many_failures")
            self.assertEqual(headers["Retry-After"], "60")
        finally:
            gw.cleanup()


class ApiIdempotencyExpiryTest(unittest.TestCase):
    def test_an_expired_key_sends_again_and_is_purged(self):
        mx_port = free_port()
        mx = RecordingSink(host=MX_HOST, port=mx_port).start()
        gw = Gateway(tenants=tenants(), zone=ZONE,
                     overrides={"api": {"idempotency_window": "1m"}, "mx": {"port": mx_port, "address_families": "ipv4"}})
        try:
            gw.start()
            self.assertTrue(wait_port(gw.api_port))
            key, _ = api_key(gw, "app")
            began = time.monotonic()
            first = post(gw.api_port, "/v1/messages", message(), key=key, headers={"Idempotency-Key": "renewed"})
            kept = post(gw.api_port, "/v1/messages", message(), key=key, headers={"Idempotency-Key": "purged"})
            self.assertEqual((first[0], kept[0]), (202, 202), (first[1], kept[1]))
            time.sleep(max(0.0, 62 - (time.monotonic() - began)))
            again = post(gw.api_port, "/v1/messages", message(), key=key, headers={"Idempotency-Key": "renewed"})
            self.assertEqual(again[0], 202, again[1])
            self.assertNotEqual(again[1]["id"], first[1]["id"])  # expired: a new message
            self.assertNotIn("Idempotent-Replayed", again[2])
            # the purge runs every minute and removes the expired records; the renewed one is young
            self.assertTrue(wait_for(lambda: "event=idempotency_purged records=" in gw.log(), 90), gw.log()[-2000:])
            replay = post(gw.api_port, "/v1/messages", message(), key=key, headers={"Idempotency-Key": "renewed"})
            self.assertEqual((replay[0], replay[1]["id"], replay[2]["Idempotent-Replayed"]), (202, again[1]["id"], "true"))
            self.assertTrue(wait_for(lambda: mx.count() == 3), gw.log()[-2000:])
        finally:
            gw.cleanup()
            mx.stop()


class ApiAdmissionTest(unittest.TestCase):
    def test_spool_refusal_is_503(self):
        gw = Gateway(tenants=tenants(), zone=ZONE,
                     overrides={"spool": {"max_queued_bytes": "1MiB"},
                                "mx": {"port": free_port(), "address_families": "ipv4"}})
        try:
            gw.start()
            self.assertTrue(wait_port(gw.api_port))
            key, _ = api_key(gw, "app")
            big = base64.b64encode(os.urandom(1100 * 1024)).decode()
            status, body, _ = post(gw.api_port, "/v1/messages", message(
                to="user@stuck.test", attachments=[{"filename": "big.bin", "content_base64": big}]), key=key)
            self.assertEqual(status, 202, body)
            status, body = wait_for(lambda: (lambda a: a[0] == 503 and a[:2])(
                post(gw.api_port, "/v1/messages", message(to="user@stuck.test"), key=key)), timeout=10)
            self.assertEqual(status, 503, body)
            self.assertEqual(body["error"]["code"], "unavailable")
        finally:
            gw.cleanup()


def peer_certificate(port):
    """The DER certificate the API presents on a new TLS connection."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


class ApiConfigTest(unittest.TestCase):
    def test_tls_certificate_reloads_for_the_next_connections(self):
        tmp = tempfile.mkdtemp(prefix="mxgate-api-tls-")
        first = self_signed(tmp, "first.test")
        second = self_signed(tmp, "second.test")
        cert, key = os.path.join(tmp, "api.crt"), os.path.join(tmp, "api.key")
        shutil.copy(first[0], cert)
        shutil.copy(first[1], key)
        gw = Gateway(overrides={"api": {"tls": True}, "tls": {"cert": cert, "key": key}})
        try:
            gw.start()
            self.assertTrue(wait_port(gw.api_port))
            before = peer_certificate(gw.api_port)
            self.assertEqual(before, ssl.PEM_cert_to_DER_cert(open(first[0]).read()))
            shutil.copy(second[0], cert)
            shutil.copy(second[1], key)
            gw.reload()
            self.assertTrue(wait_for(lambda: "event=reloaded" in gw.log()), gw.log()[-2000:])
            self.assertEqual(peer_certificate(gw.api_port), ssl.PEM_cert_to_DER_cert(open(second[0]).read()))
        finally:
            gw.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_tls_listener_and_remote_address_needs_allow_remote(self):
        gw = Gateway(overrides={"api": {"tls": True}})
        try:
            gw.start()
            self.assertTrue(wait_port(gw.api_port))
            key, _ = api_key(gw, "app")
            result = subprocess.run(
                ["curl", "-sS", "-k", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + key,
                 "--data-binary", json.dumps(message()), f"https://127.0.0.1:{gw.api_port}/v1/messages"],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(result.stdout.rsplit("\n", 1)[-1], "202", result.stdout + result.stderr)
            gw.stop()
            gw.overrides["api"] = {"address": "0.0.0.0"}
            gw.write_config()
            result = gw.cli("check")
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertRegex(result.stderr, r"mxgate\.toml:\d+: api\.address: .*api\.allow_remote = true")
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
