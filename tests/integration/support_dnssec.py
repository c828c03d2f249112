"""A DNSSEC-signed test zone and a validating resolver on loopback, for the DANE/DNSSEC tests.

SignedZone writes the zone "test." (SOA, NS ns.test., ns.test. A 127.0.0.1 and the records
given), signs it with ldns-signzone (ECDSAP256SHA256 KSK+ZSK from ldns-keygen; NSEC, or NSEC3
with nsec3=True) and runs in the foreground, as the current user, nsd on 127.0.0.1:<free port>
(test. signed; insecure.test. unsigned and delegated without DS, so answers under it never
carry AD) and a validating unbound on 127.0.0.1:<free port> (.resolver) whose only trust anchor
is the KSK's DS, reaching nsd through stub zones, with its built-in NXDOMAIN zone for test.
switched off (`local-zone: "test." nodefault`). Names in `bogus` get their record data altered
after signing (last hex digit of a TLSA/A/AAAA/DS/SSHFP flipped, a TXT string extended): unbound
answers SERVFAIL for them. A validator sets AD only if the query has AD or DO (RFC 6840 §5.7):
query() sets AD. start() returns once unbound answers test. SOA with AD (bounded wait);
reload() re-signs with the same keys, has nsd re-read the zone (SIGHUP) and flushes unbound's
cache under test. (unbound-control over a unix socket in the work dir); stop() ends both (TERM,
then KILL) and removes the work dir unless the caller gave it. Errors quote both logs' tails.
tlsa_rdata_for_cert() gives the TLSA RDATA text for a PEM certificate (openssl CLI).
Run with Debian's /usr/bin/python3 (dnspython).
"""

import base64
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode

from harness import free_port

START_TIMEOUT = 15.0
HEX = "0123456789abcdefABCDEF"


def _free_port():
    """A port free for TCP (harness.free_port) and for UDP on 127.0.0.1."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port on 127.0.0.1 for both TCP and UDP")


def _tamper(owner, rtype, rdata):
    """The RDATA text altered so that the RRset's signature fails."""
    rdata = rdata.rstrip()
    if rtype == "TXT" and rdata.endswith('"'):
        return rdata[:-1] + 'x"'
    if rtype in ("TLSA", "A", "AAAA", "DS", "SSHFP", "SMIMEA") and rdata[-1] in HEX:
        return rdata[:-1] + ("1" if rdata[-1] == "0" else "0")
    raise ValueError(f"cannot make {owner} {rtype} bogus (supported: TLSA, A, AAAA, DS, SSHFP, TXT)")


def query(server, name, rdtype, timeout=2.0, flags=dns.flags.AD | dns.flags.RD, want_dnssec=False):
    """One UDP query to "ip:port" with AD set (so a validator reports AD); the dns.message answer."""
    host, port = server.rsplit(":", 1)
    msg = dns.message.make_query(name, rdtype, want_dnssec=want_dnssec)
    msg.flags = flags
    return dns.query.udp(msg, host, port=int(port), timeout=timeout)


class SignedZone:
    """The zone "test." signed with ldns-signzone (ECDSAP256SHA256 KSK+ZSK, NSEC or NSEC3), served
    by nsd on 127.0.0.1:<free port> (nsd_port), and a validating unbound on 127.0.0.1:<free port>
    (resolver = "127.0.0.1:<port>") whose only trust anchor is the KSK's DS.

    records: zone-file lines with absolute owner names, e.g. "dane.test. 300 IN MX 10 mx1.dane.test."
    (the SOA, NS ns.test. and ns.test. A 127.0.0.1 are added here).
    bogus: owner names whose record data is altered after signing (SERVFAIL through unbound).
    insecure: zone-file lines for the child zone insecure.test. (delegated without DS, served
    unsigned; its SOA and NS are added here); None means no child.
    nsec3: sign with NSEC3 (ldns-signzone -n) instead of NSEC.
    workdir: a directory to use (kept by stop()); by default a temporary one (removed by stop()).
    After a failed start() the processes are stopped; call stop() to remove the work dir (a
    `with SignedZone(...) as zone:` block does that itself).
    """

    def __init__(self, records, bogus=(), insecure=None, workdir=None, nsec3=False):
        self.records, self.bogus, self.insecure, self.nsec3 = list(records), list(bogus), insecure, nsec3
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="mxgate-dnssec-")
        self.nsd_port = self.unbound_port = _free_port()
        while self.unbound_port == self.nsd_port:
            self.unbound_port = _free_port()
        self.resolver = f"127.0.0.1:{self.unbound_port}"
        self.serial = 1
        self.nsd = self.unbound = None
        self.keys = []

    def path(self, name):
        return os.path.join(self.dir, name)

    # ---- zone files ------------------------------------------------------------------------

    def _run(self, *argv):
        done = subprocess.run(argv, cwd=self.dir, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}{done.stdout}")
        return done.stdout.strip()

    def _write_zones(self, records, bogus):
        soa = f"SOA ns.test. hostmaster.test. {self.serial} 3600 600 86400 60"
        lines = ["$ORIGIN test.", "$TTL 300", f"test. {soa}", "test. NS ns.test.", "ns.test. A 127.0.0.1"]
        if self.insecure is not None:
            lines.append("insecure.test. NS ns.test.")
            with open(self.path("insecure.test.zone"), "w") as f:
                f.write("\n".join(["$ORIGIN insecure.test.", "$TTL 300", f"insecure.test. {soa}",
                                   "insecure.test. NS ns.test.", *self.insecure]) + "\n")
        with open(self.path("test.zone"), "w") as f:
            f.write("\n".join(lines + list(records)) + "\n")
        now = int(time.time())
        self._run("ldns-signzone", *(["-n"] if self.nsec3 else []), "-i", str(now - 3600), "-e", str(now + 7 * 86400),
                  "-o", "test.", "-f", self.path("test.zone.new"), self.path("test.zone"), *self.keys)
        with open(self.path("test.zone.new")) as f:
            signed = f.read().splitlines()
        wanted, seen = {b.lower().rstrip(".") + "." for b in bogus}, set()
        for i, line in enumerate(signed):
            fields = line.split(None, 4)
            if len(fields) == 5 and fields[0].lower() in wanted and fields[3] not in ("RRSIG", "NSEC", "NSEC3"):
                signed[i] = "\t".join(fields[:4] + [_tamper(fields[0], fields[3], fields[4])])
                seen.add(fields[0].lower())
        if wanted - seen:
            raise ValueError(f"bogus names without records in the zone: {sorted(wanted - seen)}")
        with open(self.path("test.zone.new"), "w") as f:
            f.write("\n".join(signed) + "\n")
        os.replace(self.path("test.zone.new"), self.path("test.zone.signed"))

    def _write_configs(self):
        d = self.dir
        zones = [("test.", self.path("test.zone.signed"))]
        if self.insecure is not None:
            zones.append(("insecure.test.", self.path("insecure.test.zone")))
        with open(self.path("nsd.conf"), "w") as f:
            f.write(f'server:\n  ip-address: 127.0.0.1@{self.nsd_port}\n  do-ip6: no\n  username: ""\n'
                    f'  chroot: ""\n  database: ""\n  server-count: 1\n  verbosity: 1\n  logfile: "{d}/nsd.log"\n'
                    f'  pidfile: "{d}/nsd.pid"\n  xfrdfile: "{d}/xfrd.state"\n  xfrdir: "{d}"\n'
                    f'  zonelistfile: "{d}/zone.list"\n'
                    + "".join(f'zone:\n  name: "{n}"\n  zonefile: "{p}"\n' for n, p in zones))
        with open(self.path("unbound.conf"), "w") as f:
            f.write(f'server:\n  interface: 127.0.0.1@{self.unbound_port}\n  port: {self.unbound_port}\n'
                    f'  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  username: ""\n  chroot: ""\n'
                    f'  directory: "{d}"\n  pidfile: "{d}/unbound.pid"\n  logfile: ""\n  use-syslog: no\n'
                    f'  verbosity: 1\n  val-log-level: 2\n  num-threads: 1\n  do-not-query-localhost: no\n'
                    f'  root-hints: ""\n  module-config: "validator iterator"\n  harden-dnssec-stripped: yes\n'
                    f'  trust-anchor-file: "{self.keys[0]}.ds"\n  local-zone: "test." nodefault\n'
                    f'remote-control:\n  control-enable: yes\n  control-interface: "{d}/unbound.ctl"\n'
                    + "".join(f'stub-zone:\n  name: "{n}"\n  stub-addr: 127.0.0.1@{self.nsd_port}\n' for n, _ in zones))

    # ---- processes -------------------------------------------------------------------------

    def logs(self, lines=40):
        """The last lines of nsd's and unbound's logs."""
        out = []
        for name in ("nsd.log", "unbound.log"):
            try:
                with open(self.path(name), errors="replace") as f:
                    out.append(f"--- {name}:\n" + "".join(f.readlines()[-lines:]))
            except FileNotFoundError:
                out.append(f"--- {name}: (none)")
        return "\n".join(out)

    def _spawn(self, argv, log):
        with open(self.path(log), "ab") as out:  # the child keeps its own copy of the fd
            return subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def _wait(self, what, check):
        deadline, last = time.monotonic() + START_TIMEOUT, None
        while time.monotonic() < deadline:
            for proc in (self.nsd, self.unbound):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{what}: {proc.args[0]} exited with {proc.returncode}\n{self.logs()}")
            try:
                if check():
                    return
            except Exception as e:  # noqa: BLE001 - a timeout or a refused port while starting
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"{what}: not ready within {START_TIMEOUT:.0f} s (last error: {last!r})\n{self.logs()}")

    def _nsd_serves_serial(self):
        soa = query(f"127.0.0.1:{self.nsd_port}", "test.", "SOA", timeout=0.5, flags=0).answer
        return bool(soa) and soa[0][0].serial == self.serial

    def _unbound_validates(self):
        answer = query(self.resolver, "test.", "SOA", timeout=0.5)
        return answer.rcode() == dns.rcode.NOERROR and bool(answer.flags & dns.flags.AD)

    def start(self):
        """Signs the zone, starts nsd and unbound; returns self once test. SOA validates (AD)."""
        try:
            self.keys = [self._run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "test."),
                         self._run("ldns-keygen", "-a", "ECDSAP256SHA256", "test.")]
            self.keys = [self.path(k) for k in self.keys]
            self._write_zones(self.records, self.bogus)
            self._write_configs()
            self.nsd = self._spawn(["nsd", "-d", "-c", self.path("nsd.conf")], "nsd.log")
            self._wait("nsd", self._nsd_serves_serial)
            self.unbound = self._spawn(["unbound", "-d", "-c", self.path("unbound.conf")], "unbound.log")
            self._wait("unbound", self._unbound_validates)
        except BaseException:
            self._stop_processes()
            raise
        return self

    def reload(self, records, bogus=()):
        """Re-signs test. with new records (same keys, next serial), makes nsd load it and
        unbound forget everything it cached at or below test.; returns when test. validates."""
        self.records, self.bogus = list(records), list(bogus)
        self.serial += 1
        self._write_zones(self.records, self.bogus)
        self.nsd.send_signal(signal.SIGHUP)
        self._wait("nsd reload", self._nsd_serves_serial)
        for command in (["flush_zone", "test."], ["flush_bogus"], ["flush_negative"], ["flush_requestlist"]):
            self._run("unbound-control", "-c", self.path("unbound.conf"), *command)
        self._wait("unbound after flush", self._unbound_validates)

    def _stop_processes(self):
        for attr in ("unbound", "nsd"):
            proc = getattr(self, attr)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            setattr(self, attr, None)

    def stop(self):
        """Stops nsd and unbound and removes the work directory if this object made it."""
        self._stop_processes()
        if self.own_dir and self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()  # __exit__ is not called when __enter__ raises
            raise

    def __exit__(self, *exc):
        self.stop()


def tlsa_rdata_for_cert(cert_pem_path, usage=3, selector=1, matching=1):
    """TLSA RDATA text "3 1 1 <hex>" for a PEM certificate: selector 0 = full certificate DER,
    1 = SubjectPublicKeyInfo DER; matching 0 = raw, 1 = SHA-256, 2 = SHA-512."""
    if selector == 0:
        with open(cert_pem_path) as f:
            data = ssl.PEM_cert_to_DER_cert(f.read())
    elif selector == 1:
        pem = subprocess.run(["openssl", "x509", "-in", cert_pem_path, "-noout", "-pubkey"], check=True,
                             capture_output=True, text=True, timeout=30).stdout
        data = base64.b64decode("".join(line for line in pem.splitlines() if line and not line.startswith("-----")))
    else:
        raise ValueError(f"selector {selector}: must be 0 or 1")
    digest = {0: lambda b: b, 1: lambda b: hashlib.sha256(b).digest(), 2: lambda b: hashlib.sha512(b).digest()}
    if matching not in digest:
        raise ValueError(f"matching type {matching}: must be 0, 1 or 2")
    return f"{usage} {selector} {matching} {digest[matching](data).hex()}"
