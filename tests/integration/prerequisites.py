"""Checks, before any integration test runs, that every outside tool and library the tests use
is installed and has the features they need, and names everything missing in one message.

.ci/install-deps installs Debian's packages without their recommends, so a tool can be
present and still lack a feature (swaks without Net::SSLeay has no TLS). Without this check
such a gap shows up later as one puzzling failure deep inside some test; with it, ctest stops
the integration tests (they require this fixture) and prints what to install.
Run with Debian's /usr/bin/python3, like the tests.
"""

import importlib
import os
import shutil
import subprocess
import sys

# (import name, Debian package, what needs it)
PYTHON_MODULES = [
    ("aiosmtpd", "python3-aiosmtpd", "the SMTP peers (RecordingSink)"),
    ("yaml", "python3-yaml", "the SPF test suite reader"),
    ("dns.message", "python3-dnspython", "the test DNS server"),
    ("dkim", "python3-dkim", "dkimpy, the independent DKIM signer/verifier"),
    ("nacl.signing", "python3-nacl", "dkimpy's ed25519 signatures"),
    ("spf", "python3-spf", "pyspf, the independent SPF evaluator"),
    ("authres", "python3-authres", "the Authentication-Results parser"),
]

# (command, Debian package, what needs it)
COMMANDS = [
    ("swaks", "swaks", "the smoke test and the README's examples"),
    ("smtp-source", "postfix", "load generation in the tests and benchmarks"),
    ("smtp-sink", "postfix", "the SMTP sink in the tests and benchmarks"),
    ("openssl", "openssl", "test certificates"),
    ("ps", "procps", "process checks"),
    ("nsd", "nsd", "the DNSSEC-signed test zone's server (DANE tests)"),
    ("unbound", "unbound", "the validating resolver of the DANE tests"),
    ("unbound-control", "unbound", "flushing the validating resolver's cache"),
    ("ldns-signzone", "ldnsutils", "signing the DANE tests' zone"),
    ("ldns-keygen", "ldnsutils", "the DANE tests' zone keys"),
    ("drill", "ldnsutils", "checking the signed zone's answers"),
    ("curl", "curl", "the send API and the click, open and unsubscribe endpoint tests"),
    ("testssl", "testssl.sh", "the TLS baseline of every listener (T23)"),
    ("systemd-analyze", "systemd", "checking the systemd unit"),
]

# (path, Debian package, what needs it)
FILES = [
    ("/usr/share/clamav-testfiles/clam.exe", "clamav-testfiles", "the ClamAV detection tests"),
    ("/usr/share/publicsuffix/public_suffix_list.dat", "publicsuffix", "DMARC's organizational domains"),
    ("/etc/ssl/certs/ca-certificates.crt", "ca-certificates", "TLS verification against the system CA store"),
]

# Features of swaks that the tests use: (line `swaks --support` prints, Debian package).
SWAKS_FEATURES = [
    ("TLS", "libnet-ssleay-perl"),
    ("IPv6", "libio-socket-inet6-perl"),
]

SEARCH_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def missing_items():
    """Returns a list of (package, description) for everything that is missing."""
    missing = []
    for module, package, purpose in PYTHON_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as error:
            missing.append((package, f"Python module {module} ({purpose}): {error}"))
    for command, package, purpose in COMMANDS:
        if shutil.which(command, path=SEARCH_PATH) is None:
            missing.append((package, f"command {command} ({purpose})"))
    for path, package, purpose in FILES:
        if not os.path.exists(path):
            missing.append((package, f"file {path} ({purpose})"))
    swaks = shutil.which("swaks", path=SEARCH_PATH)
    if swaks is not None:
        support = subprocess.run([swaks, "--support"], capture_output=True, text=True, timeout=30)
        report = support.stdout + support.stderr
        for feature, package in SWAKS_FEATURES:
            if f"=== {feature} supported" not in report:
                reason = next((line.strip() for line in report.splitlines() if f" {feature} " in line), "not listed")
                missing.append((package, f"swaks feature {feature}: {reason}"))
    return missing


def main():
    missing = missing_items()
    if not missing:
        print("prerequisites: every tool, module, file and feature the integration tests use is present")
        return 0
    lines = [f"  - {description} [package {package}]" for package, description in missing]
    packages = sorted({package for package, _ in missing})
    print("prerequisites: the integration tests cannot run; missing:\n" + "\n".join(lines) +
          "\ninstall them with .ci/install-deps (it should list: " + " ".join(packages) + ")", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
