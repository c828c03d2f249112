"""Tenants' credentials through the real binary: `mxgate credentials add|ls|revoke` (text and
--json) and the admin API behind them (token required, unknown tenant, bad name or kind,
duplicates, revoke twice), the audit trail, the secret shown once and never in the log, in a
listing or in the spool files as text, the key file (mode 0600), and a restart keeping it all.
"""

import base64
import json
import os
import stat
import unittest

from harness import Gateway


def tenants(gw_dir):
    inbox = os.path.join(gw_dir, "inbox")
    return {
        "acme": {"domains": ["acme.test"], "delivery": {"target": "file", "path": inbox}},
        "beta": {"domains": ["beta.test"], "delivery": {"target": "file", "path": inbox}},
    }


class CredentialsTest(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway()
        self.gw.tenants = tenants(self.gw.dir)
        self.gw.write_config()
        self.gw.start()
        self.addCleanup(self.gw.cleanup)

    def add(self, *args):
        result = self.gw.cli("credentials", "add", *args, "--json")
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        return json.loads(result.stdout)

    def listing(self, *args):
        result = self.gw.cli("credentials", "ls", *args, "--json")
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        return result.stdout, json.loads(result.stdout)["credentials"]

    def spool_bytes(self):
        data = b""
        for root, _, files in os.walk(self.gw.spool):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data += f.read()
        return data

    def test_add_ls_revoke_and_restart(self):
        created = self.add("--tenant", "acme", "--name", "crm")
        self.assertEqual(set(created), {"username", "secret"})
        self.assertEqual(created["username"], "acme.crm")
        secret = created["secret"]
        self.assertEqual(len(base64.urlsafe_b64decode(secret + "=")), 32)
        api = self.add("--tenant", "beta", "--name", "app", "--kind", "api")
        self.assertEqual(api["username"], "beta.app")
        self.assertNotEqual(api["secret"], secret)

        # Text output: the user name and the secret, each once.
        text = self.gw.cli("credentials", "add", "--tenant", "acme", "--name", "desk")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("username: acme.desk", text.stdout)
        desk_secret = text.stdout.split("secret: ")[1].split()[0]
        self.assertEqual(len(base64.urlsafe_b64decode(desk_secret + "=")), 32)

        raw, entries = self.listing()
        self.assertEqual([e["username"] for e in entries], ["acme.crm", "acme.desk", "beta.app"])
        first = entries[0]
        self.assertEqual(set(first), {"username", "tenant", "name", "kind", "created_at", "revoked", "revoked_at"})
        self.assertEqual((first["tenant"], first["name"], first["kind"], first["revoked"]), ("acme", "crm", "smtp", False))
        self.assertEqual(entries[2]["kind"], "api")
        self.assertRegex(first["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        for value in (secret, api["secret"], desk_secret):
            self.assertNotIn(value, raw)
        self.assertNotIn("hash", raw)
        _, acme_only = self.listing("--tenant", "acme")
        self.assertEqual([e["username"] for e in acme_only], ["acme.crm", "acme.desk"])
        table = self.gw.cli("credentials", "ls")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("acme.crm", table.stdout)
        self.assertNotIn(secret, table.stdout)

        revoked = self.gw.cli("credentials", "revoke", "acme.crm")
        self.assertEqual(revoked.returncode, 0, revoked.stderr + revoked.stdout)
        again = self.gw.cli("credentials", "revoke", "acme.crm", "--json")
        self.assertEqual(again.returncode, 1)
        self.assertIn("already revoked", json.loads(again.stdout)["error"])
        missing = self.gw.cli("credentials", "revoke", "acme.nobody")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no credential", missing.stdout)
        _, entries = self.listing()
        self.assertTrue(entries[0]["revoked"])
        self.assertRegex(entries[0]["revoked_at"], r"^\d{4}-")

        audit = self.gw.cli("audit", "--json")
        actions = [(r["action"], r["tenant"], r["detail"]) for r in json.loads(audit.stdout)["audit"]]
        self.assertIn(("credential_add", "acme", "username=acme.crm kind=smtp"), actions)
        self.assertIn(("credential_add", "beta", "username=beta.app kind=api"), actions)
        self.assertIn(("credential_revoke", "acme", "username=acme.crm kind=smtp"), actions)
        self.assertTrue(all(r["actor"].startswith("cli:") for r in json.loads(audit.stdout)["audit"]
                            if r["action"].startswith("credential_")))

        key_path = os.path.join(self.gw.spool, "credential.key")
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        with open(key_path) as f:
            key = f.read()

        # A restart keeps the credentials (and the key).
        self.assertEqual(self.gw.stop(), 0)
        self.gw.start()
        _, after = self.listing()
        self.assertEqual(after, entries)
        with open(key_path) as f:
            self.assertEqual(f.read(), key)
        # A revoked name may be issued again, with a new secret.
        renewed = self.add("--tenant", "acme", "--name", "crm")
        self.assertNotEqual(renewed["secret"], secret)
        _, entries = self.listing("--tenant", "acme")
        self.assertFalse(entries[0]["revoked"])

        self.assertEqual(self.gw.stop(), 0)
        log = self.gw.log()
        self.assertIn("event=credential_added", log)
        self.assertIn("event=credential_revoked", log)
        stored = self.spool_bytes()
        for value in (secret, api["secret"], desk_secret, renewed["secret"]):
            self.assertNotIn(value, log)
            self.assertNotIn(value.encode(), stored)

    def test_errors(self):
        unknown = self.gw.cli("credentials", "add", "--tenant", "nosuch", "--name", "crm")
        self.assertEqual(unknown.returncode, 1)
        self.assertIn('unknown tenant "nosuch"', unknown.stdout)
        status, body = self.gw.admin("/v1/credentials?tenant=nosuch&name=crm", method="POST")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"], 'unknown tenant "nosuch"')
        for query, field in (("tenant=acme&name=Bad.Name", "name"), ("tenant=acme", "name"),
                             ("tenant=acme&name=crm&kind=imap", "kind"), ("name=crm", "tenant")):
            status, body = self.gw.admin("/v1/credentials?" + query, method="POST")
            self.assertEqual(status, 400, query)
            self.assertIn(field, body["error"], query)
        self.assertEqual(self.gw.admin("/v1/credentials?tenant=acme&name=crm", method="POST")[0], 201)
        status, body = self.gw.admin("/v1/credentials?tenant=acme&name=crm", method="POST")
        self.assertEqual(status, 409)
        self.assertIn("acme.crm", body["error"])
        duplicate = self.gw.cli("credentials", "add", "--tenant", "acme", "--name", "crm")
        self.assertEqual(duplicate.returncode, 1)
        # The token is required, and a listing never shows hashes.
        self.assertEqual(self.gw.admin("/v1/credentials", token=False)[0], 401)
        self.assertEqual(self.gw.admin("/v1/credentials?tenant=acme&name=x", method="POST", token=False)[0], 401)
        status, body = self.gw.admin("/v1/credentials")
        self.assertEqual(status, 200)
        self.assertEqual(len(body["credentials"]), 1)
        self.assertEqual(self.gw.admin("/v1/credentials", method="DELETE")[0], 405)
        self.assertEqual(self.gw.cli("credentials", "add", "--tenant", "acme").returncode, 2)
        self.assertEqual(self.gw.cli("credentials", "frobnicate").returncode, 2)
        self.assertEqual(self.gw.cli("credentials", "revoke").returncode, 2)


if __name__ == "__main__":
    unittest.main()
