"""The cross-tenant matrix of issue 10 ("Sender binding and tenant isolation"): every combination
of envelope sender, header From, Sender and a DKIM-Signature already in the message, each at the
sending tenant's own domain, another tenant's or a foreign one (Sender and DKIM-Signature may
also be absent), in several address forms. Only a combination that is wholly the tenant's own
may be sent; every other one must be refused (550 5.7.1 over SMTP, 403 over HTTP). Shared by
the SMTP half (test_outbound.py) and the HTTP half of the send API."""

import itertools
from typing import NamedTuple, Optional

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
