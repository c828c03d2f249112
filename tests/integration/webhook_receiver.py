"""A real HTTP receiver for the webhook tests (Python's http.server on 127.0.0.1): it checks
every request's Standard Webhooks signature with its own HMAC code (any of the configured
secrets may match, as during a rotation), records what arrived, and answers with the statuses a
test scripts (per call, in order, then 200), after an optional delay (a slow endpoint)."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

from harness import free_port


def whsec(key_bytes):
    return "whsec_" + base64.b64encode(key_bytes).decode()


def signature_header(key, webhook_id, timestamp, body):
    """The v1 signature of one key, as a sender computes it."""
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_valid(keys, webhook_id, timestamp, body, header):
    expected = {signature_header(key, webhook_id, timestamp, body) for key in keys}
    given = header.split(" ")
    return any(hmac.compare_digest(g, e) for g in given for e in expected)


class Receiver:
    def __init__(self, keys, port=None):
        self.keys = keys
        self.port = port or free_port()
        self.requests = []   # dicts: id, timestamp, signature_ok, body, json, path, headers
        self.statuses = []   # answers for the next requests, then 200
        self.retry_after = None  # a Retry-After header on non-2xx answers
        self.delay = 0.0         # seconds each request waits before its answer, or a function giving them
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks/inbound"

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                record = {
                    "id": self.headers.get("webhook-id", ""),
                    "timestamp": self.headers.get("webhook-timestamp", ""),
                    "signature": self.headers.get("webhook-signature", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "path": self.path,
                    "peer": self.client_address,
                    "body": body,
                    "arrived": time.time(),
                }
                time.sleep(receiver.delay() if callable(receiver.delay) else receiver.delay)
                record["signature_ok"] = signature_valid(receiver.keys, record["id"], record["timestamp"], body,
                                                         record["signature"])
                try:
                    record["json"] = json.loads(body)
                except ValueError:
                    record["json"] = None
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    record["status"] = status
                    receiver.requests.append(record)
                answer = b"stored" if status < 300 else b"not now"
                self.send_response(status)
                if status >= 300 and receiver.retry_after is not None:
                    self.send_header("Retry-After", str(receiver.retry_after))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self):
        with self.lock:
            return list(self.requests)

    def delivered(self):
        """Requests answered 2xx, by webhook-id."""
        return {r["id"]: r for r in self.received() if 200 <= r["status"] < 300}

    def events(self):
        """The event objects of the requests answered 2xx (a batched request holds an array)."""
        found = []
        for request in self.delivered().values():
            body = request["json"]
            found.extend(body if isinstance(body, list) else [body])
        return found

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
