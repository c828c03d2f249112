"""The per-IP SMTP connection limit through the real binary counts an IPv6 client by its network
of smtp.ipv6_prefix_length bits (default /64): a host holds a whole /64 and must not pass the
limit with a new address for each connection.

Only ::1 is local on a normal loopback, so the test runs in a private user and network namespace
(`unshare -rn`: no privileges needed, the host's network untouched) whose loopback answers for
2001:db8:5::/48 (an AnyIP local route); clients bind any address in it with IP_FREEBIND. Skipped
where user namespaces are unavailable.
"""

import os
import socket
import subprocess
import sys
import unittest

from harness import Gateway

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


if __name__ == "__main__":
    unittest.main()
