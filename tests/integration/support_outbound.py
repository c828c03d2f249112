"""The cross-tenant matrix of issue 10 ("Sender binding and tenant isolation"): every combination
of envelope sender, header From, Sender and a DKIM-Signature already in the message, each at the
sending tenant's own domain, another tenant's or a foreign one (Sender and DKIM-Signature may
also be absent), in several address forms. Only a combination that is wholly the tenant's own
may be sent; every other one must be refused (550 5.7.1 over SMTP, 403 over HTTP). Shared by
the SMTP half (test_outbound.py) and the HTTP half of the send API.

Also what the outbound suites share to submit mail: a tenant's SMTP credential, an authenticated
submission session, and SubmissionDelivery, the send-and-observe checks of the TLS policy suites."""

import itertools
import json
import smtplib
import ssl
from typing import NamedTuple, Optional

from harness import wait_until

ROLES = ("own", "other", "foreign")
OPTIONAL_ROLES = (None,) + ROLES


class Domains(NamedTuple):
    own: str      # a domain of the sending tenant
    other: str    # a domain of another tenant on the same gateway
    foreign: str  # a domain no tenant owns


class Attempt(NamedTuple):
    number: int
    envelope: str           # role of the MAIL FROM domain
    header_from: str        # role of the From domain
    sender: Optional[str]   # role of the Sender domain, None = no Sender field
    dkim: Optional[str]     # role of a pre-existing DKIM-Signature d=, None = none
    form: int               # address form (0: plain, 1: display name and upper-case domain, 2: two From mailboxes)
    mail_from: str
    headers: bytes          # the header section (CRLF, without the empty line)

    @property
    def allowed(self):
        return all(role in (None, "own") for role in (self.envelope, self.header_from, self.sender, self.dkim))

    @property
    def label(self):
        return (f"#{self.number} envelope={self.envelope} from={self.header_from} sender={self.sender} "
                f"dkim={self.dkim} form={self.form}")


def _mailbox(local, domain, form):
    if form == 1:
        return f'"{local.title()} App" <{local}@{domain.upper()}>'
    return f"{local}@{domain}"


def cross_tenant_attempts(domains, recipient, forms=(0, 1, 2)):
    """Yields an Attempt per combination and address form, numbered from 1 (the number goes into
    the Subject, so a delivered message names its attempt)."""
    number = 0
    for form in forms:
        for envelope, header_from, sender, dkim in itertools.product(ROLES, ROLES, OPTIONAL_ROLES, OPTIONAL_ROLES):
            number += 1
            from_value = _mailbox("app", getattr(domains, header_from), form)
            if form == 2:  # the same role twice, behind one of the tenant's own mailboxes
                from_value = _mailbox("team", domains.own, 0) + ", " + from_value
            lines = [f"From: {from_value}", f"To: {recipient}", f"Subject: cross-tenant attempt {number}",
                     f"Message-ID: <attempt-{number}@{domains.own}>", "Date: Mon, 07 Dec 2026 01:00:00 +0000"]
            if sender is not None:
                lines.append(f"Sender: {_mailbox('ops', getattr(domains, sender), form)}")
            if dkim is not None:
                lines.append(f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={getattr(domains, dkim)};\r\n"
                             f"\ts=old; h=from:subject; bh=AAAA; b=AAAA")
            yield Attempt(number, envelope, header_from, sender, dkim, form,
                          f"app@{getattr(domains, envelope)}", ("\r\n".join(lines) + "\r\n").encode())


def attempt_message(attempt):
    """The whole message of an attempt (CRLF)."""
    return attempt.headers + b"\r\n" + f"attempt {attempt.number}\r\n".encode()


def client_context():
    """A client TLS context for the gateway's self-signed submission certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def smtp_credential(gateway, tenant, name="app"):
    """(user name, secret) of a new SMTP credential of tenant, made with the CLI."""
    created = gateway.cli("credentials", "add", "--tenant", tenant, "--name", name, "--json")
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    return made["username"], made["secret"]


def submission_client(test, gateway, credential, helo):
    """An authenticated smtplib session on the gateway's submission listener (STARTTLS, then
    AUTH), closed when the test ends."""
    client = smtplib.SMTP("127.0.0.1", gateway.submission_port, local_hostname=helo, timeout=30)
    test.addCleanup(client.close)
    client.starttls(context=client_context())
    client.login(*credential)
    return client


class SubmissionDelivery:
    """Send-and-observe checks for a TestCase whose class has gw (a Gateway), credentials
    ({tenant: credential}), sinks ({exchanger name: RecordingSink}) and events (a webhook
    Receiver): one message per send() from app@<tenant>.test, found at the exchanger by subject
    and in the tenant's events by recipient."""

    def send(self, tenant, recipient):
        """Submits one message from tenant to recipient; returns its subject."""
        subject = f"{tenant} to {recipient}"
        client = submission_client(self, self.gw, self.credentials[tenant], f"app.{tenant}.test")
        sender = f"app@{tenant}.test"
        refused = client.sendmail(sender, [recipient],
                                  f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nhello\r\n")
        self.assertEqual(refused, {})
        client.quit()
        return subject

    def arrived(self, exchanger, subject):
        return [m for m in self.sinks[exchanger].messages if f"Subject: {subject}\r\n".encode() in m["data"]]

    def event(self, kind, recipient):
        found = [e["data"] for e in self.events.events() if e and e["type"] == kind
                 and e["data"].get("recipient") == recipient]
        return found[-1] if found else None

    def assert_delivered(self, tenant, recipient, exchanger):
        subject = self.send(tenant, recipient)
        self.assertTrue(wait_until(lambda: self.arrived(exchanger, subject), 30), self.gw.log()[-3000:])
        self.assertTrue(wait_until(lambda: self.event("message.delivered", recipient), 30), self.gw.log()[-3000:])
        return self.event("message.delivered", recipient)

    def failures(self, result_type):
        """TLS failures of MX delivery with this RFC 8460 result type, from /metrics."""
        return self.gw.metric(f'mxgate_mx_tls_failures_total{{result_type="{result_type}"}}') or 0

    def assert_sent_past(self, tenant, recipient, skipped, exchanger):
        """Sends; the message arrives at exchanger and never at skipped."""
        subject = self.send(tenant, recipient)
        self.assertTrue(wait_until(lambda: self.arrived(exchanger, subject), 30), self.gw.log()[-3000:])
        self.assertFalse(self.arrived(skipped, subject))

    def assert_deferred(self, tenant, recipient, exchangers, reason):
        """Sends, waits for message.deferred with reason in its response, and checks that none of
        exchangers got the message; returns the event."""
        subject = self.send(tenant, recipient)
        self.assertTrue(wait_until(lambda: self.event("message.deferred", recipient), 30), self.gw.log()[-3000:])
        event = self.event("message.deferred", recipient)
        self.assertIn(reason, event["response"]["text"], event)
        for exchanger in exchangers:
            self.assertFalse(self.arrived(exchanger, subject))
        return event
