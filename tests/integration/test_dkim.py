"""`mxgate dkim keygen` (the key file is created mode 0600 whatever the umask, never overwritten;
the printed TXT record, split into 255-byte strings, verifies with dkimpy a signature made with
the written key, RSA and Ed25519), and tenant policies using the generated keys pass
`mxgate check` and start the gateway, while a key file open to others is refused with file,
line and key."""

import base64
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import dkim

from harness import MXGATE, Gateway

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: keygen\r\n"
           b"Date: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <k@example.test>\r\n\r\nhello\r\n")
ZONE_LINE = re.compile(r'^(\S+)\._domainkey\.(\S+)\. IN TXT((?: "[^"]*")+)\n$')


def keygen(*args, umask=0o000):
    """Runs `mxgate dkim keygen` with a permissive umask: the mode must come from the open()."""
    return subprocess.run([MXGATE, "dkim", "keygen", *args], capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(umask))


def record_of(zone_line):
    """(selector, domain, strings) of a printed zone line."""
    match = ZONE_LINE.match(zone_line)
    if match is None:
        raise AssertionError("not a zone line: %r" % zone_line)
    return match.group(1), match.group(2), re.findall(r'"([^"]*)"', match.group(3))


def dkimpy_private_key(pem):
    """dkimpy takes RSA keys as PEM and Ed25519 keys as base64 of the raw 32-byte seed: the
    last 32 bytes of the PKCS#8 DER."""
    if b"BEGIN PRIVATE KEY" in pem and len(pem) < 200:
        der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
        return base64.b64encode(der[-32:])
    return pem


class KeygenTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mxgate-dkim-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check_key(self, algorithm, strings, bits=None):
        path = os.path.join(self.dir, f"{algorithm}{bits or ''}.pem")
        args = ["--domain", "example.test", "--selector", "s1", "--algorithm", algorithm, "--out", path]
        if bits:
            args += ["--bits", str(bits)]
        result = keygen(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"wrote the private key to {path} (mode 0600)", result.stderr)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        selector, domain, parts = record_of(result.stdout)
        self.assertEqual((selector, domain), ("s1", "example.test"))
        self.assertEqual(len(parts), strings)
        self.assertTrue(all(len(part) <= 255 for part in parts))
        record = "".join(parts)
        key_type = "rsa" if algorithm == "rsa" else "ed25519"
        self.assertTrue(record.startswith(f"v=DKIM1; k={key_type}; p="), record)
        if algorithm == "ed25519":
            self.assertEqual(len(base64.b64decode(record.split("p=")[1])), 32)

        with open(path, "rb") as f:
            pem = f.read()
        signature = dkim.sign(MESSAGE, b"s1", b"example.test", dkimpy_private_key(pem),
                              signature_algorithm=b"rsa-sha256" if algorithm == "rsa" else b"ed25519-sha256",
                              include_headers=[b"from", b"to", b"subject"])
        served = []

        def dnsfunc(name, timeout=5):
            served.append(name)
            return record.encode() if name.rstrip(b".") == b"s1._domainkey.example.test" else None

        self.assertTrue(dkim.verify(signature + MESSAGE, dnsfunc=dnsfunc), algorithm)
        self.assertEqual(served, [b"s1._domainkey.example.test."])
        self.assertFalse(dkim.verify(signature + MESSAGE.replace(b"hello", b"hullo"), dnsfunc=dnsfunc))
        return path

    def test_rsa_key_and_record(self):
        self.check_key("rsa", strings=2)  # "v=DKIM1; k=rsa; p=" and 392 characters of key

    def test_rsa_4096_record_is_split(self):
        self.check_key("rsa", strings=3, bits=4096)

    def test_ed25519_key_and_record(self):
        self.check_key("ed25519", strings=1)

    def test_existing_file_is_never_overwritten(self):
        path = os.path.join(self.dir, "taken.pem")
        with open(path, "w") as f:
            f.write("keep me\n")
        result = keygen("--domain", "example.test", "--selector", "s1", "--algorithm", "ed25519", "--out", path)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn(f"{path}: already exists (not overwritten)", result.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "keep me\n")
        link = os.path.join(self.dir, "link.pem")
        os.symlink(os.path.join(self.dir, "elsewhere.pem"), link)
        result = keygen("--domain", "example.test", "--selector", "s1", "--algorithm", "ed25519", "--out", link)
        self.assertEqual(result.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "elsewhere.pem")))

    def test_default_path_and_usage_errors(self):
        result = subprocess.run([MXGATE, "dkim", "keygen", "--domain", "example.test", "--selector", "s2",
                                 "--algorithm", "ed25519"], cwd=self.dir, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(os.stat(os.path.join(self.dir, "example.test.s2.pem")).st_mode & 0o777, 0o600)
        for args, message in [
            (["--selector", "s", "--algorithm", "rsa"], "--domain is required"),
            (["--domain", "example.test", "--selector", "s", "--algorithm", "dsa"], "--algorithm must be rsa or ed25519"),
            (["--domain", "exa_mple.test", "--selector", "s", "--algorithm", "rsa"],
             "domain: invalid character '_' (only letters, digits and '-')"),
            (["--domain", "example.test", "--selector", "s.", "--algorithm", "rsa"], "selector: empty label in selector"),
            (["--domain", "example.test", "--selector", "s", "--algorithm", "rsa", "--bits", "512"],
             "--bits must be between 1024 and 4096"),
            (["--domain", "example.test", "--selector", "s", "--algorithm", "rsa", "--bits", "2k"],
             "--bits must be between 1024 and 4096"),
            (["--domain", "example.test", "--selector", "s", "--algorithm", "rsa", "--size", "2048"],
             "unknown option \"--size\""),
            (["--domain"], "--domain needs a value"),
        ]:
            result = keygen(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("mxgate dkim keygen: " + message + "\n", result.stderr)
            self.assertIn("usage: mxgate dkim keygen", result.stderr)
        self.assertEqual(os.listdir(self.dir), ["example.test.s2.pem"])


class PolicyKeysTest(unittest.TestCase):
    def test_generated_keys_load_and_an_open_key_is_refused(self):
        gw = Gateway()
        self.addCleanup(gw.cleanup)
        keys = {}
        for selector, algorithm in [("r1", "rsa"), ("e1", "ed25519")]:
            keys[selector] = os.path.join(gw.dir, f"{selector}.pem")
            result = keygen("--domain", "example.test", "--selector", selector, "--algorithm", algorithm,
                            "--out", keys[selector], umask=0o022)
            self.assertEqual(result.returncode, 0, result.stderr)
        gw.tenants["example"]["dkim.keys"] = [
            {"domain": "example.test", "selector": "r1", "algorithm": "rsa-sha256", "key_file": keys["r1"]},
            {"domain": "example.test", "selector": "e1", "algorithm": "ed25519-sha256", "key_file": keys["e1"]},
        ]
        gw.write_config()
        check = gw.cli("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        os.chmod(keys["e1"], 0o640)
        check = gw.cli("check")
        self.assertEqual(check.returncode, 1)
        policy = os.path.join(gw.policies, "example.toml")
        with open(policy) as f:
            line = next(number for number, text in enumerate(f, 1) if text.startswith(f'key_file = "{keys["e1"]}"'))
        self.assertIn(f'{policy}:{line}: dkim.keys.key_file: "{keys["e1"]}" has mode 0640: a private key must not be '
                      "readable or writable by group or others (chmod 600)\n", check.stderr)

        os.chmod(keys["e1"], 0o600)
        with gw:
            self.assertIsNone(gw.process.poll(), gw.log())


if __name__ == "__main__":
    unittest.main()
