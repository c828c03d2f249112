"""Limits of the HTTP listeners through the real binary. The public click and open endpoint runs
on its own loop thread with a connection cap (one more connection is answered 503 and closed), a
header timeout (a request head trickled in, slowloris, is cut with 408; a connection that sends
nothing is closed) and an idle timeout (a keep-alive connection with no next request is closed).
2,000 idle connections to it neither delay SMTP acceptance nor delivery, even when mxgate starts
with a fresh machine's soft RLIMIT_NOFILE of 1024 (it raises its soft limit to the hard one).
The admin listener has the same protections with its own keys."""

import resource
import select
import socket
import time
import unittest
import urllib.error

from harness import Client, Gateway, make_message, wait_until

IDLE_CONNECTIONS = 2000
FLOOD_CAP = 300
CAP = 4


def raise_own_file_limit(needed):
    """The test's own sockets need descriptors: raise this process's soft limit (or skip)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < {needed}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def soft_file_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def readable(sock, seconds):
    """poll(), not select(): the flood's descriptors pass FD_SETSIZE."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0, int(seconds * 1000))))


def read_until_closed(sock, seconds):
    """(bytes read, seconds until the server closed) or (bytes read, None) if still open."""
    start = time.monotonic()
    data = b""
    while True:
        remaining = start + seconds - time.monotonic()
        if remaining <= 0:
            return data, None
        if not readable(sock, remaining):
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, time.monotonic() - start
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def state(sock):
    """"open" (nothing to read), or "closed" (a response and/or EOF arrived)."""
    return "closed" if readable(sock, 0) else "open"


class TestIdleConnectionFlood(unittest.TestCase):
    def test_two_thousand_idle_connections_delay_neither_smtp_nor_delivery(self):
        raise_own_file_limit(IDLE_CONNECTIONS + 1000)
        gw = Gateway(overrides={"links": {"max_connections": FLOOD_CAP, "header_timeout": "5m",
                                          "idle_timeout": "5m"}})
        self.addCleanup(gw.cleanup)
        gw.start(file_limit=1024)
        self.assertGreater(soft_file_limit(gw.process.pid), 1024)  # mxgate raised its own soft limit
        sockets = []
        self.addCleanup(lambda: [s.close() for s in sockets])
        for _ in range(IDLE_CONNECTIONS):
            sockets.append(connect(gw.links_port))

        started = time.monotonic()
        with Client(gw.first_port, timeout=30) as client:
            client.ehlo()
            stage, reply = client.transaction("sender@remote.example", ["user@example.test"], make_message())
        elapsed = time.monotonic() - started
        self.assertEqual((stage, reply and reply.code), ("dot", 250), gw.log()[-2000:])
        self.assertLess(elapsed, 5.0)
        self.assertTrue(wait_until(lambda: len(gw.inbox_files()) == 1, timeout=10), gw.log()[-2000:])

        # The cap: FLOOD_CAP connections are served (idle), every other one was answered 503 and closed.
        refused_metric = 'mxgate_http_connections_refused_total{listener="links"}'
        self.assertTrue(wait_until(lambda: gw.metric(refused_metric) == IDLE_CONNECTIONS - FLOOD_CAP, timeout=20),
                        gw.metric(refused_metric))
        self.assertEqual(gw.metric('mxgate_http_connections_open{listener="links"}'), FLOOD_CAP)
        self.assertTrue(wait_until(lambda: [state(s) for s in sockets].count("open") == FLOOD_CAP, timeout=10))
        refused = next(s for s in sockets if state(s) == "closed")
        data, closed = read_until_closed(refused, 5)
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data)
        self.assertIsNotNone(closed)

        # Once the idle connections go, the endpoint serves again.
        for sock in sockets:
            sock.close()
        sockets.clear()

        def healthy():
            with connect(gw.links_port) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: links.test\r\nConnection: close\r\n\r\n")
                return read_until_closed(sock, 5)[0].startswith(b"HTTP/1.1 200 ")
        self.assertTrue(wait_until(healthy, timeout=10))


class TestHttpListenerLimits(unittest.TestCase):
    """One gateway, small limits on both listeners: cap 4, header timeout 3 s, idle timeout 2 s."""

    @classmethod
    def setUpClass(cls):
        limits = {"max_connections": CAP, "header_timeout": "3s", "idle_timeout": "2s"}
        cls.gw = Gateway(overrides={"links": dict(limits), "admin": dict(limits)})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def setUp(self):
        # The previous test's connections may still be closing; until they are, a metrics request
        # (itself the one open admin connection) may meet the admin cap and get 503.
        def drained():
            try:
                return all(self.metric("mxgate_http_connections_open", listener) == (1 if listener == "admin" else 0)
                           for listener in self.ports())
            except urllib.error.HTTPError as error:
                if error.code != 503:
                    raise
                return False
        self.assertTrue(wait_until(drained, timeout=10))

    def ports(self):
        return {"links": self.gw.links_port, "admin": self.gw.admin_port}

    def assert_closed_between(self, closed, low, high, what):
        self.assertIsNotNone(closed, f"{what} was never closed")
        self.assertGreater(closed, low, what)
        self.assertLess(closed, high, what)

    def metric(self, name, listener, kind=None):
        labels = f'listener="{listener}"' + (f',kind="{kind}"' if kind else "")
        return self.gw.metric(f"{name}{{{labels}}}")

    def test_connections_over_the_cap_get_503_and_are_closed(self):
        for listener, port in self.ports().items():
            with self.subTest(listener=listener):
                held = [connect(port) for _ in range(CAP)]
                try:
                    with connect(port) as extra:  # accepted after the held ones: one too many
                        data, closed = read_until_closed(extra, 5)
                    self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data)
                    self.assertIn(b"Connection: close", data)
                    self.assertIsNotNone(closed)
                    self.assertEqual([state(s) for s in held], ["open"] * CAP)
                finally:
                    for sock in held:
                        sock.close()

    def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(self):
        for listener, port in self.ports().items():
            with self.subTest(listener=listener):
                before = self.metric("mxgate_http_timeouts_total", listener, "idle")
                with connect(port) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: mxgate.test\r\n\r\n")
                    response = b""
                    while not response.endswith(b"ok\n"):
                        chunk = sock.recv(4096)
                        self.assertTrue(chunk, response)
                        response += chunk
                    self.assertTrue(response.startswith(b"HTTP/1.1 200 "), response)
                    data, closed = read_until_closed(sock, 15)
                self.assertEqual(data, b"")
                self.assert_closed_between(closed, 1.0, 8.0, "an idle keep-alive connection")
                self.assertEqual(self.metric("mxgate_http_timeouts_total", listener, "idle"), before + 1)

    def test_slowloris_head_is_cut_at_the_header_timeout(self):
        for listener, port in self.ports().items():
            with self.subTest(listener=listener):
                before = self.metric("mxgate_http_timeouts_total", listener, "header")
                with connect(port) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
                    started = time.monotonic()
                    data, closed = b"", None
                    while closed is None and time.monotonic() - started < 15:
                        more, closed = read_until_closed(sock, 0.5)
                        data += more
                        if closed is None:
                            sock.sendall(b"X-Slow: 1\r\n")  # a trickle that never ends the head
                    elapsed = time.monotonic() - started
                self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data)
                self.assert_closed_between(None if closed is None else elapsed, 2.0, 9.0, "a trickled request head")
                self.assertEqual(self.metric("mxgate_http_timeouts_total", listener, "header"), before + 1)

    def test_connection_that_sends_nothing_is_closed_at_the_header_timeout(self):
        for listener, port in self.ports().items():
            with self.subTest(listener=listener):
                with connect(port) as sock:
                    data, closed = read_until_closed(sock, 15)
                self.assertEqual(data, b"")
                self.assert_closed_between(closed, 2.0, 9.0, "a silent connection")


if __name__ == "__main__":
    unittest.main()
