"""T17 (reliability.md): many idle SMTP connections, and descriptor exhaustion.
- MXGATE_T17_CONNECTIONS (default 2,000; 10,000 for a release run) idle connections each get
  their 220 and hold it while a legitimate client still sends a message; mxgate's RSS with
  them open is printed (goal: at most 512 MiB at 10,000) and checked against that bound.
- Under RLIMIT_NOFILE 256 (soft and hard, as prlimit --nofile=256), 400 connections held at
  once crash nothing; once they close, a client is greeted and its message accepted again.

The per-IP SMTP connection limit through the real binary counts an IPv6 client by its network
of smtp.ipv6_prefix_length bits (default /64): a host holds a whole /64 and must not pass the
limit with a new address for each connection.

Only ::1 is local on a normal loopback, so the test runs in a private user and network namespace
(`unshare -rn`: no privileges needed, the host's network untouched) whose loopback answers for
2001:db8:5::/48 (an AnyIP local route); clients bind any address in it with IP_FREEBIND. Skipped
where user namespaces are unavailable.
"""

import os
import resource
import smtplib
import socket
import subprocess
import sys
import time
import unittest

from harness import Gateway, make_message, rss_bytes, wait_until

T17_CONNECTIONS = int(os.environ.get("MXGATE_T17_CONNECTIONS", "2000"))

IN_NAMESPACE = os.environ.get("MXGATE_NETNS") == "1"
SERVER = "2001:db8:5:6::1"
IP_FREEBIND = 15  # linux/in.h; also honoured by IPv6 sockets


def greeting_from(port, source):
    """The first reply line of a connection from source (an IPv6 address of the namespace)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    sock.bind((source, 0))
    sock.connect((SERVER, port))
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return sock, data.split(b"\r\n")[0]


class NamespaceTest(unittest.TestCase):
    def test_ipv6_prefix_limit_in_a_network_namespace(self):
        if IN_NAMESPACE:
            self.skipTest("already inside the namespace")
        if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare -rn (user and network namespaces) is not available")
        result = subprocess.run(["unshare", "-rn", sys.executable, "-m", "unittest", "-v",
                                 "test_connection_limits.Ipv6PrefixTest"],
                                cwd=os.path.dirname(os.path.abspath(__file__)),
                                env={**os.environ, "MXGATE_NETNS": "1"}, capture_output=True, text=True, timeout=300)
        print(result.stderr)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertNotIn("skipped", result.stderr)


@unittest.skipUnless(IN_NAMESPACE, "runs inside the namespace NamespaceTest makes")
class Ipv6PrefixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for command in (["ip", "link", "set", "lo", "up"], ["ip", "-6", "addr", "add", SERVER + "/64", "dev", "lo"],
                        ["ip", "-6", "route", "add", "local", "2001:db8:5::/48", "dev", "lo"]):
            subprocess.run(command, check=True)

    def gateway(self, **smtp):
        gw = Gateway(overrides={"smtp": {"max_connections_per_ip": 3, **smtp}})
        gw.listeners[0]["address"] = "::"
        gw.write_config()
        self.addCleanup(gw.cleanup)
        return gw.start()

    def connect_all(self, port, sources):
        """The greeting line of a connection from each source, connections kept open."""
        lines = []
        for source in sources:
            sock, line = greeting_from(port, source)
            self.addCleanup(sock.close)
            lines.append(line)
        return lines

    def test_one_slash_64_shares_the_per_ip_limit(self):
        gw = self.gateway()
        one_network = ["2001:db8:5:6::a", "2001:db8:5:6::b", "2001:db8:5:6:1234:5678:9abc:def0"]
        for line in self.connect_all(gw.first_port, one_network):
            self.assertTrue(line.startswith(b"220 "), line)
        [fourth] = self.connect_all(gw.first_port, ["2001:db8:5:6:ffff::1"])
        self.assertTrue(fourth.startswith(b"421 4.7.0 "), fourth)
        [other] = self.connect_all(gw.first_port, ["2001:db8:5:7::1"])  # another /64: another client
        self.assertTrue(other.startswith(b"220 "), other)
        self.assertIn("reason=ip_limit", gw.log())

    def test_prefix_length_is_configurable(self):
        gw = self.gateway(ipv6_prefix_length=48)
        lines = self.connect_all(gw.first_port, ["2001:db8:5:6::a", "2001:db8:5:7::a", "2001:db8:5:8::a",
                                                 "2001:db8:5:9::a"])
        self.assertEqual([line[:3] for line in lines], [b"220", b"220", b"220", b"421"], lines)



def open_idle(port, count, settle=None):
    """count connections and their greetings (None where none came); with settle, the greetings
    are read without waiting, settle seconds after the last connect (a paused listener leaves
    connections in the kernel's backlog, greeted only once descriptors are free again)."""
    sockets = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
        except OSError:
            sockets.append(None)
    greetings = []
    if settle:
        time.sleep(settle)
    for sock in sockets:
        if sock is None:
            greetings.append(None)
            continue
        if settle:
            sock.setblocking(False)
        try:
            greetings.append(sock.recv(512))
        except OSError:
            greetings.append(None)
    return sockets, greetings


def send_one(gateway, subject):
    with gateway.smtp(timeout=15) as client:
        client.sendmail("sender@remote.example", ["user@example.test"], make_message(subject=subject))


class ManyConnectionsTest(unittest.TestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def test_idle_connections_and_their_memory(self):
        count = T17_CONNECTIONS
        gw = Gateway(overrides={"smtp": {"max_connections": count + 100, "max_connections_per_ip": count + 100}})
        self.addCleanup(gw.cleanup)
        gw.start()
        before = rss_bytes(gw.process.pid)
        sockets, greetings = open_idle(gw.smtp_port, count)
        try:
            self.assertEqual(sum(1 for g in greetings if g and g.startswith(b"220 ")), count)
            during = rss_bytes(gw.process.pid)
            send_one(gw, "beside the idle ones")
            self.assertTrue(wait_until(lambda: len(gw.inbox_files()) == 1, 20))
        finally:
            for sock in sockets:
                if sock is not None:
                    sock.close()
        per_connection = (during - before) / count
        print(f"\nT17: {count} idle SMTP connections: RSS {before / 2**20:.0f} MiB before, "
              f"{during / 2**20:.0f} MiB with them open ({per_connection / 1024:.1f} KiB each; "
              f"{(before + per_connection * 10000) / 2**20:.0f} MiB at 10,000)")
        self.assertLess(before + per_connection * 10000, 512 * 2**20)

    def test_descriptor_exhaustion_is_survived(self):
        gw = Gateway(overrides={"smtp": {"max_connections": 1000, "max_connections_per_ip": 1000}})
        self.addCleanup(gw.cleanup)
        gw.start(file_limit=256, hard_file_limit=True)
        sockets, greetings = open_idle(gw.smtp_port, 400, settle=1.0)
        greeted = sum(1 for g in greetings if g and g.startswith(b"220 "))
        for sock in sockets:
            if sock is not None:
                sock.close()
        self.assertIsNone(gw.process.poll(), "mxgate died with its descriptors exhausted")
        self.assertGreater(greeted, 0)
        self.assertLess(greeted, 400, "RLIMIT_NOFILE 256 did not limit anything")
        began = time.monotonic()
        self.assertTrue(wait_until(lambda: subjects_sent(gw), 30), gw.log()[-3000:])
        print(f"\nT17: RLIMIT_NOFILE 256, 400 connections at once: {greeted} greeted, the rest waited ungreeted "
              f"({gw.log().count('event=accept_paused')} accept pauses logged); accepting mail "
              f"again {time.monotonic() - began:.1f} s after they closed")
        self.assertTrue(wait_until(lambda: len(gw.inbox_files()) >= 1, 20))


def subjects_sent(gateway):
    try:
        send_one(gateway, "after the exhaustion")
        return True
    except (OSError, smtplib.SMTPException):
        return False


if __name__ == "__main__":
    unittest.main()
