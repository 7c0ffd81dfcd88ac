"""A local stand-in for a browser vendor's Web Push service, and for the phone's browser that
subscribed to it: the fake allowed at the network edge.

The service records every request and answers `status` (201, or 410, 500… as a test sets it),
or for one subscription its own status.
The browser holds the private key and auth secret of its subscription, so it can check that a
request is a real Web Push message: encrypted for it (RFC 8291, aes128gcm), signed with the
server's VAPID key (RFC 8292), with a TTL.
"""

import base64
import json
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_vapid_keys() -> tuple[str, str]:
    """(public, private), base64url, as `manage.py vapid_keys` prints them."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(public), b64url(key.private_numbers().private_value.to_bytes(32, "big"))


@dataclass
class PushRequest:
    path: str
    headers: dict
    body: bytes


class FakePushService:
    def __init__(self):
        self.requests: list[PushRequest] = []
        self.status = 201
        self.status_for: dict[str, int] = {}  # a path's own answer, else `status`
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append(PushRequest(self.path, dict(self.headers), body))
                self.send_response(fake.status_for.get(self.path, fake.status))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def to(self, browser: "FakeBrowser") -> list[PushRequest]:
        """The requests sent to this browser's subscription."""
        return [r for r in self.requests if r.path == browser.path]


class FakeBrowser:
    """A phone's browser subscribed at the fake push service."""

    def __init__(self, service: FakePushService, name: str):
        self.service = service
        self.path = f"/push/{name}-{b64url(os.urandom(6))}"
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    @property
    def endpoint(self) -> str:
        return self.service.origin + self.path

    def subscription(self) -> dict:
        """What `PushSubscription.toJSON()` gives in a browser."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)},
        }

    def read(self, request: PushRequest, *, vapid_public_key: str, subject: str, ttl: int):
        """Check the request as a push service and the browser would, and return the alert."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers["content-encoding"] == "aes128gcm"
        assert int(headers["ttl"]) == ttl
        assert headers["urgency"] == "high"
        scheme, token = headers["authorization"].split(" ", 1)
        assert scheme == "vapid"
        parts = dict(part.split("=", 1) for part in token.split(","))
        assert parts["k"] == vapid_public_key
        assert Vapid02.verify(headers["authorization"])  # signed by the matching private key
        claims = json.loads(unb64url(parts["t"].split(".")[1]))
        assert claims["aud"] == self.service.origin
        assert claims["sub"] == subject
        assert claims["exp"] > time.time()
        plain = http_ece.decrypt(
            request.body, private_key=self.key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return json.loads(plain)
