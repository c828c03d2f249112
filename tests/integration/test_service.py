"""Running mxgate as a service: the systemd unit (conf/mxgate.service) passes `systemd-analyze
verify`; the sd_notify protocol (READY=1 once the SMTP port answers, WATCHDOG=1 pings at half of
WATCHDOG_USEC, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM) to a NOTIFY_SOCKET that
a test listens on; the privilege drop to node.user when started as root (ports bound first,
then the process is that user and everything it creates in the spool belongs to it); `cmake
--install` into a temporary prefix; and conf/production.toml passing `mxgate check`.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import MXGATE, Client, Gateway, queue_id, wait_until
from support_protocol import self_signed

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
UNIT = os.path.join(SOURCE_DIR, "conf/mxgate.service")
SYSTEMD_ANALYZE = "systemd-analyze"  # Debian package systemd (checked by the prerequisites test)


def build_dir():
    """The build tree the binary under test comes from: MXGATE_BUILD_DIR (set by ctest), else
    three levels above MXGATE_BIN (<build>/src/app/mxgate)."""
    explicit = os.environ.get("MXGATE_BUILD_DIR")
    if explicit:
        return explicit
    return os.path.abspath(os.path.join(os.path.dirname(MXGATE), "../.."))


def message(subject):
    return (f"From: sender@remote.example\r\nTo: user@example.test\r\nSubject: {subject}\r\n\r\n"
            "body\r\n").encode()


def unit_settings(path):
    """{key: [values]} of a unit file's assignments (comments and section headers skipped)."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def verify_unit(test, path, binary):
    """Runs `systemd-analyze verify` on a copy of the unit at `path` whose ExecStart names
    `binary` (verify checks that the command exists); fails the test on any complaint."""
    with tempfile.TemporaryDirectory(prefix="mxgate-unit-") as directory:
        with open(path) as f:
            text = f.read()
        copy = os.path.join(directory, "mxgate.service")
        with open(copy, "w") as f:
            f.write(text.replace("ExecStart=/usr/bin/mxgate ", f"ExecStart={binary} "))
        result = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", copy], capture_output=True, text=True,
                                timeout=60, cwd=directory)
    test.assertEqual(result.returncode, 0, result.stderr)
    test.assertEqual(result.stderr.strip(), "", "systemd-analyze verify complained")


class UnitFileTest(unittest.TestCase):
    """conf/mxgate.service: the settings the deployment relies on, and systemd's own check."""

    def test_settings(self):
        settings = unit_settings(UNIT)
        expected = {
            "Type": ["notify"], "ExecReload": ["/bin/kill -HUP $MAINPID"], "User": ["mxgate"], "Group": ["mxgate"],
            "KillMode": ["mixed"], "ProtectSystem": ["strict"], "PrivateTmp": ["yes"], "NoNewPrivileges": ["yes"],
            "ProtectHome": ["yes"], "ReadWritePaths": ["/var/spool/mxgate /var/log/mxgate"],
            "RestrictAddressFamilies": ["AF_INET AF_INET6 AF_UNIX"],
            "AmbientCapabilities": ["CAP_NET_BIND_SERVICE"], "CapabilityBoundingSet": ["CAP_NET_BIND_SERVICE"],
        }
        for key, values in expected.items():
            self.assertEqual(settings.get(key), values, key)
        for key in ("ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs"):
            self.assertEqual(settings.get(key), ["yes"], key)
        self.assertTrue(settings["ExecStart"][0].startswith("/usr/bin/mxgate run --config /etc/mxgate/mxgate.toml"))
        self.assertGreaterEqual(int(settings["LimitNOFILE"][0]), 65536)
        self.assertGreater(int(settings["WatchdogSec"][0]), 0)
        # Longer than node.shutdown_timeout's default (60s): a drain is not cut short by SIGKILL.
        self.assertGreater(int(settings["TimeoutStopSec"][0]), 60)

    def test_systemd_analyze_verify(self):
        verify_unit(self, UNIT, os.path.abspath(MXGATE))


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET: records every
    datagram with the time it arrived."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {var: value})
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()

    def received(self, var, value="1", after=0.0):
        """The messages setting var=value that arrived after `after` (a monotonic time)."""
        with self.lock:
            return [(t, m) for t, m in self.messages if m.get(var) == value and t > after]

    def wait(self, var, value="1", after=0.0, timeout=20.0):
        found = wait_until(lambda: self.received(var, value, after), timeout)
        if not found:
            raise AssertionError(f"no {var}={value} after {after}; got {self.messages}")
        return found[0]


class NotifyTest(unittest.TestCase):
    """sd_notify: what systemd would hear from a Type=notify mxgate with WatchdogSec set."""

    def setUp(self):
        self.gw = Gateway()
        self.notify = NotifySocket(self.gw.dir)
        self.addCleanup(self.gw.cleanup)
        self.addCleanup(self.notify.close)

    def start(self, **env):
        env = {"NOTIFY_SOCKET": self.notify.path, **env}
        self.gw.start(env={k: v for k, v in env.items() if v is not None})

    def test_ready_watchdog_reload_stopping(self):
        self.start(WATCHDOG_USEC="400000")
        ready_at, ready = self.notify.wait("READY")
        self.assertIn("STATUS", ready)
        # READY=1 means the listeners answer: a client right after it gets the greeting.
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.transaction("sender@remote.example", ["user@example.test"],
                                           message("ready"))[1].short(), "250 2.0.0")
        # WATCHDOG_USEC=400ms: a ping every 200ms, 10 in two seconds (fewer on a loaded machine).
        window_start = time.monotonic()
        time.sleep(2.0)
        pings = [t for t, _ in self.notify.received("WATCHDOG", after=window_start) if t <= window_start + 2.0]
        self.assertGreaterEqual(len(pings), 4, pings)
        self.assertLessEqual(len(pings), 12, pings)

        reload_sent = time.monotonic()
        self.gw.reload()
        reloading_at, reloading = self.notify.wait("RELOADING", after=reload_sent)
        self.assertTrue(reloading["MONOTONIC_USEC"].isdigit())
        ready_again_at, _ = self.notify.wait("READY", after=reloading_at)
        self.assertGreaterEqual(ready_again_at, reloading_at)
        self.assertTrue(wait_until(lambda: "reloaded" in self.gw.log(), 10))

        stop_sent = time.monotonic()
        self.gw.process.send_signal(signal.SIGTERM)
        self.notify.wait("STOPPING", after=stop_sent)
        self.assertEqual(self.gw.process.wait(30), 0)

    def test_no_watchdog_pings_without_watchdog_usec(self):
        self.start()
        self.notify.wait("READY")
        time.sleep(1.0)
        self.assertEqual(self.notify.received("WATCHDOG"), [])

    def test_watchdog_meant_for_another_process(self):
        self.start(WATCHDOG_USEC="200000", WATCHDOG_PID="1")
        self.notify.wait("READY")
        time.sleep(1.0)
        self.assertEqual(self.notify.received("WATCHDOG"), [])

    def test_no_notify_socket(self):
        """Without NOTIFY_SOCKET (started by hand) nothing is sent and the node runs as usual."""
        self.gw.start()
        time.sleep(0.5)
        self.assertEqual(self.notify.messages, [])
        self.assertEqual(self.gw.stop(), 0)


def status_ids(pid, field):
    """The real, effective, saved and file-system ids of a /proc/<pid>/status Uid: or Gid: line."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(value) for value in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def status_field(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@unittest.skipUnless(os.geteuid() == 0, "needs root: the privilege drop happens only when started as root")
class PrivilegeDropTest(unittest.TestCase):
    """node.user = "nobody", started as root: every port is bound, then mxgate is nobody."""

    def setUp(self):
        self.nobody = pwd.getpwnam("nobody")
        self.gw = Gateway(overrides={"node": {"user": "nobody"}})
        self.addCleanup(self.gw.cleanup)
        # The test directory (mkdtemp: root's, 0700) is opened for nobody to traverse and read
        # (config, policies); the spool, the inbox and the log file are nobody's, as an admin
        # prepares /var/spool/mxgate and /var/log/mxgate.
        os.chmod(self.gw.dir, 0o755)
        for directory in (self.gw.spool, self.gw.inbox):
            os.makedirs(directory)
            os.chown(directory, self.nobody.pw_uid, self.nobody.pw_gid)
        open(self.gw.log_path, "w").close()
        os.chown(self.gw.log_path, self.nobody.pw_uid, self.nobody.pw_gid)

    def test_binds_then_runs_as_node_user(self):
        self.gw.start()
        # The ports answer from the moment they are bound, still as root: wait for the start.
        self.assertTrue(wait_until(lambda: "event=started" in self.gw.log(), 20), self.gw.log())
        pid = self.gw.process.pid
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        self.assertEqual(status_ids(pid, "Uid"), [uid] * 4)
        self.assertEqual(status_ids(pid, "Gid"), [gid] * 4)
        self.assertEqual(int(status_field(pid, "CapEff"), 16), 0)
        self.assertEqual(int(status_field(pid, "CapPrm"), 16), 0)
        self.assertNotIn("0", status_field(pid, "Groups").split())
        # Every listener bound before the drop is served after it.
        for port in (self.gw.submission_port, self.gw.admin_port, self.gw.links_port, self.gw.api_port):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with Client(self.gw.smtp_port) as c:
            c.ehlo()
            reply = c.transaction("sender@remote.example", ["user@example.test"], message("as nobody"))[1]
            self.assertEqual(reply.short(), "250 2.0.0")
            qid = queue_id(reply)
        self.assertTrue(wait_until(lambda: self.gw.inbox_files(), 30), self.gw.log())
        self.assertIn(qid, self.gw.inbox_files()[0])
        self.assertNotIn("running_as_root", self.gw.log())
        # Everything mxgate created (RocksDB files, keys, token, certificate, the delivered
        # file) belongs to nobody.
        created = []
        for top in (self.gw.spool, self.gw.inbox):
            for root, directories, files in os.walk(top):
                created += [os.path.join(root, name) for name in directories + files]
        self.assertTrue(any(name.endswith("admin.token") for name in created), created)
        self.assertTrue(any(name.endswith("CURRENT") for name in created), created)
        for path in created:
            info = os.lstat(path)
            self.assertEqual((info.st_uid, info.st_gid), (uid, gid), path)
        self.assertEqual(self.gw.stop(), 0)

    def test_other_user_is_refused(self):
        """node.user set while running as another unprivileged user: an error naming the file
        and the key, exit 1."""
        daemon = pwd.getpwnam("daemon")
        os.chown(self.gw.spool, daemon.pw_uid, daemon.pw_gid)
        result = subprocess.run([MXGATE, "run", "--config", self.gw.config_path], cwd=self.gw.dir,
                                capture_output=True, text=True, timeout=60, user=daemon.pw_uid,
                                group=daemon.pw_gid, extra_groups=[])
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{self.gw.config_path}: node.user: running as uid {daemon.pw_uid}", result.stderr)

    def test_unknown_user_is_refused(self):
        self.gw.overrides["node"]["user"] = "no-such-user-mxgate"
        self.gw.write_config()
        result = subprocess.run([MXGATE, "run", "--config", self.gw.config_path], cwd=self.gw.dir,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{self.gw.config_path}: node.user: no user named no-such-user-mxgate", result.stderr)


@unittest.skipUnless(os.geteuid() == 0, "the warning is about running as root")
class RootWithoutUserTest(unittest.TestCase):
    def test_warns(self):
        with Gateway() as gw:
            self.assertTrue(wait_until(lambda: "running_as_root" in gw.log(), 10), gw.log())


class InstallTest(unittest.TestCase):
    """`cmake --install` of the build tree into a temporary prefix puts every file in its place."""

    def test_install_layout(self):
        build = build_dir()
        if not os.path.exists(os.path.join(build, "cmake_install.cmake")):
            self.skipTest(f"no build tree at {build} (set MXGATE_BUILD_DIR)")
        with tempfile.TemporaryDirectory(prefix="mxgate-install-") as prefix:
            result = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True,
                                    text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            expected = ["bin/mxgate", "lib/systemd/system/mxgate.service",
                        "share/doc/mxgate/examples/mxgate.toml", "share/doc/mxgate/examples/production.toml",
                        "share/doc/mxgate/examples/policies/example.toml", "share/mxgate/bounce_rules.toml",
                        "share/mxgate/shaping.toml", "share/mxgate/destinations.toml"]
            for name in expected:
                self.assertTrue(os.path.isfile(os.path.join(prefix, name)), name)
            self.assertTrue(os.access(os.path.join(prefix, "bin/mxgate"), os.X_OK))
            version = subprocess.run([os.path.join(prefix, "bin/mxgate"), "version"], capture_output=True,
                                     text=True, timeout=30)
            self.assertEqual(version.stdout.strip(), "mxgate 0.1.0")
            unit = os.path.join(prefix, "lib/systemd/system/mxgate.service")
            self.assertEqual(unit_settings(unit)["ExecStart"],
                             [f"{prefix}/bin/mxgate run --config /etc/mxgate/mxgate.toml"])
            verify_unit(self, unit, f"{prefix}/bin/mxgate")


class ProductionConfigTest(unittest.TestCase):
    """conf/production.toml passes `mxgate check`.

    What is substituted: the certificate and key paths (/etc/mxgate/tls/fullchain.pem and
    privkey.pem do not exist here) are replaced by a self-signed certificate made for the test,
    and the policies directory (/etc/mxgate/policies) by a copy of the repository's policies/
    whose tenant owns example.com instead of example.test (node.postmaster must be in a
    tenant's domain).
    Everything else is checked as written; `mxgate check` does not open the spool, the log
    file, the admin token file or the ClamAV signatures, so their paths need not exist.
    """

    def test_check_passes(self):
        with tempfile.TemporaryDirectory(prefix="mxgate-production-") as directory:
            cert, key = self_signed(directory, "mx1.example.com")
            policies = os.path.join(directory, "policies")
            shutil.copytree(os.path.join(SOURCE_DIR, "policies"), policies)
            example = os.path.join(policies, "example.toml")
            with open(example) as f:
                policy = f.read()
            self.assertIn('domains = ["example.test"]', policy)
            with open(example, "w") as f:
                f.write(policy.replace('domains = ["example.test"]', 'domains = ["example.com"]'))
            with open(os.path.join(SOURCE_DIR, "conf/production.toml")) as f:
                text = f.read()
            for original, substitute in (("/etc/mxgate/tls/fullchain.pem", cert), ("/etc/mxgate/tls/privkey.pem", key),
                                         ("/etc/mxgate/policies", policies)):
                self.assertIn(f'"{original}"', text)
                text = text.replace(f'"{original}"', f'"{substitute}"')
            config = os.path.join(directory, "production.toml")
            with open(config, "w") as f:
                f.write(text)
            result = subprocess.run([MXGATE, "check", "--config", config], capture_output=True, text=True,
                                    timeout=60, cwd=directory)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn(f"{config}: ok (3 listeners, 1 tenants)", result.stdout)


if __name__ == "__main__":
    unittest.main()
