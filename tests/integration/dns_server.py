#!/usr/bin/python3
"""A small authoritative DNS server for tests (RFC 1035 over UDP and TCP on 127.0.0.1).

Zone data is a dict (JSON or YAML file with --zone) mapping names to lists of entries:

    {"example.test": [{"type": "TXT", "value": "v=spf1 -all"},
                      {"type": "A", "value": "192.0.2.1", "ttl": 60},
                      {"type": "MX", "value": [10, "mx.example.test"]}],
     "alias.test":   [{"type": "CNAME", "value": "example.test"}],
     "broken.test":  [{"type": "SERVFAIL"}]}

Records: A, AAAA, PTR, CNAME, NS (value: text), MX (value: [preference, host]), TXT (value: a
string, split into 255-byte character-strings, or a list of strings kept as given: several
character-strings in one record), SOA (value: "mname rname serial refresh retry expire
minimum"); "ttl" defaults to 300. Several entries of one type make one RRset, sent in
zone order (never shuffled).
Faults, per name (they also apply when a CNAME chain reaches the name):
    SERVFAIL, REFUSED          answer with that RCODE
    TIMEOUT                    never answer
    TRUNCATE                   set TC over UDP, answer in full over TCP
    {"type": "DELAY", "ms": n} answer after n milliseconds
    NOSOA                      negative answers at or below the name carry no SOA
Unknown names get NXDOMAIN and known names without the type NODATA (RFC 2308), both with an
SOA in the authority section: the nearest SOA entry at or above the name, else a default one
owned by the name's last label, whose MINIMUM is --soa-minimum (default 60). Names that only
have descendants in the zone exist (empty non-terminals, RFC 8020). CNAME chains are followed
within the zone (RFC 1034 §4.3.2; at most 16 links) and all of it goes into the answer.
UDP answers larger than the client's EDNS payload (512 without EDNS) are sent with TC set.

Run: /usr/bin/python3 dns_server.py --zone zone.json [--port N]; the first line on stdout is
"PORT <n>" (UDP and TCP share it). SIGTERM or SIGINT stops it cleanly, and so does EOF on
stdin with --watch-stdin (a test harness that crashes cannot leave the server behind). In-process:
DnsServer(zone_dict).start(), .port, .queries, .stop(). Each transport runs on its own thread,
one more per TCP connection and per delayed answer.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

DEFAULT_TTL = 300
MAX_CHAIN = 16
POLL_SECONDS = 0.2
FAULTS = ("SERVFAIL", "REFUSED", "TIMEOUT", "TRUNCATE", "NOSOA")


def _canonical(name):
    """Lower-case text form without the trailing dot, as zone keys are stored."""
    text = name.to_text(omit_final_dot=True) if isinstance(name, dns.name.Name) else str(name)
    return text.rstrip(".").lower() if text != "." else ""


def _absolute(text):
    return text if text.endswith(".") else text + "."


def _txt_strings(value):
    if isinstance(value, list):
        strings = [item.encode() if isinstance(item, str) else bytes(item) for item in value]
        if any(len(item) > 255 for item in strings):
            raise ValueError("a TXT character-string given as a list item exceeds 255 bytes")
        return strings
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]


def _rdata(rtype, value):
    rdtype = dns.rdatatype.from_text(rtype)
    if rdtype == dns.rdatatype.TXT:
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, _txt_strings(value))
    if rdtype == dns.rdatatype.MX:
        preference, host = value
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, "%d %s" % (int(preference), _absolute(host)))
    if rdtype in (dns.rdatatype.CNAME, dns.rdatatype.PTR, dns.rdatatype.NS):
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, _absolute(value))
    if rdtype == dns.rdatatype.SOA:
        mname, rname, *numbers = str(value).split()
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype,
                                   " ".join([_absolute(mname), _absolute(rname)] + numbers))
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, str(value))


class Zone:
    """The zone data, normalised: records[name][rdtype] = [(rdata, ttl)], faults, delays."""

    def __init__(self, data, soa_minimum=60, soa_ttl=3600):
        self.soa_minimum = soa_minimum
        self.soa_ttl = soa_ttl
        self.records = {}
        self.faults = {}
        self.delays = {}
        self.existing = set()
        for raw_name, entries in (data or {}).items():
            name = _canonical(raw_name)
            self.records.setdefault(name, {})
            self.faults.setdefault(name, set())
            labels = name.split(".") if name else []
            for i in range(len(labels) + 1):
                self.existing.add(".".join(labels[i:]))
            for entry in entries or []:
                kind = str(entry["type"]).upper()
                if kind in FAULTS:
                    self.faults[name].add(kind)
                elif kind == "DELAY":
                    self.delays[name] = int(entry.get("ms", 0)) / 1000.0
                else:
                    rdata = _rdata(kind, entry["value"])
                    ttl = int(entry.get("ttl", DEFAULT_TTL))
                    self.records[name].setdefault(rdata.rdtype, []).append((rdata, ttl))

    def delay(self, name):
        return self.delays.get(_canonical(name), 0.0)

    def soa_rrset(self, qname):
        """The SOA for a negative answer about qname, or None (NOSOA)."""
        labels = _canonical(qname).split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if "NOSOA" in self.faults.get(candidate, ()):
                return None
            soa = self.records.get(candidate, {}).get(dns.rdatatype.SOA)
            if soa:
                return self._rrset(dns.name.from_text(candidate), dns.rdatatype.SOA, soa)
        apex = labels[-1] + "." if labels[-1] else ""
        text = "ns.%s hostmaster.%s 1 3600 600 86400 %d" % (apex, apex, self.soa_minimum)
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, text)
        return self._rrset(dns.name.from_text(apex or "."), dns.rdatatype.SOA, [(rdata, self.soa_ttl)])

    @staticmethod
    def _rrset(owner, rdtype, items):
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
        for rdata, ttl in items:
            rrset.add(rdata, ttl)
        return rrset

    def answer(self, query, transport):
        """The response message for query, or None to stay silent."""
        question = query.question[0]
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        current = question.name
        for _ in range(MAX_CHAIN):
            key = _canonical(current)
            faults = self.faults.get(key, set())
            if "TIMEOUT" in faults:
                return None
            if "SERVFAIL" in faults or "REFUSED" in faults:
                response.answer.clear()
                response.set_rcode(dns.rcode.SERVFAIL if "SERVFAIL" in faults else dns.rcode.REFUSED)
                return response
            if "TRUNCATE" in faults and transport == "udp":
                response.answer.clear()
                response.flags |= dns.flags.TC
                return response
            if key not in self.existing:
                response.set_rcode(dns.rcode.NXDOMAIN)
                break
            rrsets = self.records.get(key, {})
            if question.rdtype in rrsets:
                response.answer.append(self._rrset(current, question.rdtype, rrsets[question.rdtype]))
                return response
            cname = rrsets.get(dns.rdatatype.CNAME)
            if not cname or question.rdtype == dns.rdatatype.CNAME:
                break
            response.answer.append(self._rrset(current, dns.rdatatype.CNAME, cname))
            current = cname[0][0].target
        soa = self.soa_rrset(current)
        if soa is not None:
            response.authority.append(soa)
        return response


class DnsServer:
    """The server over UDP and TCP on one port; start() binds and returns self."""

    def __init__(self, zone, soa_minimum=60, soa_ttl=3600, host="127.0.0.1", port=0):
        self.zone = Zone(zone, soa_minimum, soa_ttl)
        self.host = host
        self.requested_port = port
        self.port = None
        self.queries = []  # (transport, name, type) in arrival order
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = []
        self._udp = None
        self._tcp = None

    def start(self):
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, self.requested_port))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                if self.requested_port:
                    raise
                continue
            break
        else:
            raise OSError("no port free for both UDP and TCP")
        tcp.listen(64)
        udp.settimeout(POLL_SECONDS)
        tcp.settimeout(POLL_SECONDS)
        self._udp, self._tcp, self.port = udp, tcp, port
        self._spawn(self._serve_udp)
        self._spawn(self._serve_tcp)
        return self

    def stop(self):
        self._stopping.set()
        for thread in list(self._threads):
            thread.join()
        self._udp.close()
        self._tcp.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def count(self, name, rtype=None, transport=None):
        """How many queries for name (and type, and transport) arrived."""
        with self._lock:
            return sum(1 for t, n, r in self.queries
                       if n == _canonical(name) and rtype in (None, r) and transport in (None, t))

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _respond(self, wire, transport):
        """(response wire or None, delay seconds)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None, 0.0
        if not query.question:
            return None, 0.0
        question = query.question[0]
        with self._lock:
            self.queries.append((transport, _canonical(question.name), dns.rdatatype.to_text(question.rdtype)))
        try:
            response = self.zone.answer(query, transport)
        except Exception as error:  # a bug here must not kill the server thread: say so, SERVFAIL
            print("dns_server: %s %s: %r" % (question.name, transport, error), file=sys.stderr)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        if response is None:
            return None, 0.0
        delay = self.zone.delay(question.name)
        if transport == "tcp":
            return response.to_wire(max_size=65535, want_shuffle=False), delay
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit, want_shuffle=False), delay
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit), delay

    def _serve_udp(self):
        while not self._stopping.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            reply, delay = self._respond(wire, "udp")
            if reply is None:
                continue
            if delay:
                self._spawn(self._send_later, delay, reply, peer)
            else:
                self._udp.sendto(reply, peer)

    def _send_later(self, delay, reply, peer):
        if not self._stopping.wait(delay):
            self._udp.sendto(reply, peer)

    def _serve_tcp(self):
        while not self._stopping.is_set():
            try:
                connection, _ = self._tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            connection.settimeout(POLL_SECONDS)
            self._spawn(self._serve_connection, connection)

    def _read_exact(self, connection, size):
        data = b""
        while len(data) < size and not self._stopping.is_set():
            try:
                chunk = connection.recv(size - len(data))
            except socket.timeout:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data if len(data) == size else None

    def _serve_connection(self, connection):
        with connection:
            while not self._stopping.is_set():
                prefix = self._read_exact(connection, 2)
                if prefix is None:
                    return
                wire = self._read_exact(connection, struct.unpack("!H", prefix)[0])
                if wire is None:
                    return
                reply, delay = self._respond(wire, "tcp")
                if reply is None:
                    continue
                if delay and self._stopping.wait(delay):
                    return
                try:
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return


def load_zone(path):
    """A zone dict from a JSON or YAML file (JSON is tried first)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except ValueError:
        import yaml
        return yaml.safe_load(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", help="zone data, JSON or YAML")
    parser.add_argument("--port", type=int, default=0, help="UDP and TCP port; 0 = any free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--soa-minimum", type=int, default=60, help="MINIMUM of the default SOA")
    parser.add_argument("--soa-ttl", type=int, default=3600, help="TTL of the default SOA record")
    parser.add_argument("--watch-stdin", action="store_true",
                        help="also exit when stdin reaches EOF (the parent holding the pipe died)")
    args = parser.parse_args(argv)
    zone = load_zone(args.zone) if args.zone else {}
    server = DnsServer(zone, args.soa_minimum, args.soa_ttl, args.host, args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.watch_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop.set()), daemon=True).start()
    print("PORT %d" % server.port, flush=True)
    while not stop.wait(POLL_SECONDS):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
