"""A local stand-in for Microsoft Graph and for the Microsoft identity platform's token
endpoint, over HTTPS on 127.0.0.1 (MSAL accepts only an https authority): the fake allowed at
the network edge.

It checks each request against the shapes Microsoft documents and answers as they do:
- OpenID discovery, GET /{tenant}/v2.0/.well-known/openid-configuration, which MSAL reads;
- the token request, POST /{tenant}/oauth2/v2.0/token, a form with grant_type=client_credentials,
  client_id, client_secret and scope=https://graph.microsoft.com/.default;
- POST /v1.0/users/{upn}/events (201; a repeated transactionId answers the event it made first),
  PATCH /v1.0/users/{upn}/events/{id} (200) and DELETE (204), each with
  `Authorization: Bearer <a token it issued>` and, with a body, `Content-Type: application/json`
  and the event's subject, body, start and end {dateTime, timeZone}, location (and
  transactionId on POST);
- 401 InvalidAuthenticationToken for an expired token, 404 for an unknown user or event, and any
  answer a test queues (429 with Retry-After, 503, 500…).

A request of the wrong shape is answered 400 and kept in `problems`; the tests' fixture fails
the test if there are any.
"""

import datetime as dt
import json
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "contoso-council-tenant-id"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-client-secret"
SCOPE = "https://graph.microsoft.com/.default"
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
TIME_ZONES = {"Europe/London", "UTC"}


@dataclass
class Answer:
    status: int
    body: dict | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class GraphRequest:
    method: str
    path: str
    headers: dict
    body: dict | None
    at: float


def graph_error(status: int, code: str, message: str, **headers) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway certificate authority and a certificate for 127.0.0.1 signed by it:
    (CA certificate to trust, server certificate, server key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Graph test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class FakeGraph:
    def __init__(self, folder: Path, *, mailboxes=()):
        self.ca_file, cert_file, key_file = _certificates(folder)
        self.mailboxes = {m.lower() for m in mailboxes}
        self.events: dict[str, dict[str, dict]] = {}  # mailbox → id → event
        self.requests: list[GraphRequest] = []
        self.token_requests: list[dict] = []
        self.problems: list[str] = []
        self.queued: list[Answer] = []  # answered, in turn, to the next Graph requests
        self.live_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        # Made, then answered with this instead (a gateway timing out after Graph acted).
        self.lost_answer_to_next_create: Answer | None = None
        self.hold_creates = threading.Event()  # set: the next create answers after `release`
        self.create_arrived = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back 40 ms, which Microsoft's never are.
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802 (http.server's naming)
                fake._answer(self, "GET")

            def do_POST(self):  # noqa: N802
                fake._answer(self, "POST")

            def do_PATCH(self):  # noqa: N802
                fake._answer(self, "PATCH")

            def do_DELETE(self):  # noqa: N802
                fake._answer(self, "DELETE")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # What tests read and set

    def settings(self) -> dict:
        """The settings that point the app at this fake."""
        return {
            "OUTLOOK_SYNC_ENABLED": True,
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": CLIENT_ID,
            "GRAPH_CLIENT_SECRET": CLIENT_SECRET,
            "GRAPH_BASE_URL": f"{self.origin}/v1.0",
            "GRAPH_LOGIN_BASE_URL": self.origin,
            "GRAPH_CA_BUNDLE": str(self.ca_file),
        }

    def queue(self, *answers: Answer) -> None:
        self.queued.extend(answers)

    def expire_tokens(self) -> None:
        """Every token issued so far has expired (as an hour later in Entra)."""
        with self.lock:
            self.expired_tokens |= self.live_tokens
            self.live_tokens.clear()

    def in_mailbox(self, mailbox: str) -> list[dict]:
        return list(self.events.get(mailbox.lower(), {}).values())

    def graph_calls(self, method: str | None = None) -> list[GraphRequest]:
        return [r for r in self.requests if method is None or r.method == method]

    # Serving

    def _answer(self, handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path
        if path.startswith(f"/{TENANT}/"):
            answer = self._identity(handler, method, path, raw)
        elif path.startswith("/v1.0/"):
            answer = self._graph(handler, method, path, raw)
        else:
            answer = Answer(404, {"error": "not_found"})
        self._send(handler, answer)

    def _send(self, handler, answer: Answer) -> None:
        body = b"" if answer.body is None else json.dumps(answer.body).encode()
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name.replace("_", "-"), str(value))
        if body:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _problem(self, text: str) -> Answer:
        self.problems.append(text)
        return graph_error(400, "BadRequest", text)

    def _identity(self, handler, method, path, raw) -> Answer:
        base = f"{self.origin}/{TENANT}"
        if method == "GET" and path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return Answer(
                200,
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                },
            )
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            self.token_requests.append(form)
            content_type = handler.headers.get("Content-Type", "")
            if not content_type.startswith("application/x-www-form-urlencoded"):
                self.problems.append(f"token request sent as {content_type!r}")
            wanted = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": SCOPE}
            for name, value in wanted.items():
                if form.get(name) != value:
                    self.problems.append(f"token request {name}={form.get(name)!r}")
                    return Answer(400, {"error": "invalid_request", "error_description": name})
            if form.get("client_secret") != CLIENT_SECRET:
                return Answer(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    },
                )
            token = secrets.token_urlsafe(24)
            with self.lock:
                self.live_tokens.add(token)
            return Answer(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": token,
                },
            )
        return Answer(404, {"error": "not_found"})

    def _graph(self, handler, method, path, raw) -> Answer:
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._problem("body is not JSON")
        self.requests.append(GraphRequest(method, path, dict(handler.headers), body, time.time()))
        scheme, _, token = handler.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return self._problem("no Authorization: Bearer header")
        if token in self.expired_tokens:
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        if token not in self.live_tokens:
            return graph_error(401, "InvalidAuthenticationToken", "Access token is invalid.")
        if self.queued:
            return self.queued.pop(0)
        match = re.fullmatch(r"/v1\.0/users/([^/]+)/events(?:/([^/]+))?", path)
        if not match:
            return graph_error(400, "BadRequest", f"Unsupported path {path}")
        mailbox, event_id = unquote(match[1]).lower(), match[2] and unquote(match[2])
        if mailbox not in self.mailboxes:
            return graph_error(
                404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
            )
        if method in ("POST", "PATCH"):
            shape = self._check_event(handler, body, creating=method == "POST")
            if shape:
                return self._problem(shape)
        if method == "POST" and event_id is None:
            return self._create(mailbox, body)
        events = self.events.setdefault(mailbox, {})
        if event_id not in events:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found.")
        if method == "PATCH":
            events[event_id].update(body)
            return Answer(200, events[event_id])
        if method == "DELETE":
            del events[event_id]
            return Answer(204)
        return graph_error(405, "BadRequest", "Unsupported method")

    def _create(self, mailbox: str, body: dict) -> Answer:
        with self.lock:
            events = self.events.setdefault(mailbox, {})
            made_first = [e for e in events.values() if e["transactionId"] == body["transactionId"]]
            if made_first:
                answer = Answer(201, made_first[0])  # a retried create: the event made first
            else:
                event_id = "AAMkAGI2" + secrets.token_urlsafe(30) + "="
                events[event_id] = {**body, "id": event_id, "createdAt": time.time()}
                answer = Answer(201, events[event_id])
            held = self.hold_creates.is_set()
            self.hold_creates.clear()
            if self.lost_answer_to_next_create is not None:
                answer, self.lost_answer_to_next_create = self.lost_answer_to_next_create, None
        if held:  # made, but the answer is slow: the sender's lease may expire meanwhile
            self.create_arrived.set()
            self.release.wait(timeout=10)
        return answer

    @staticmethod
    def _check_event(handler, body, *, creating: bool) -> str:
        """What is wrong with an event body, or ''."""
        if not handler.headers.get("Content-Type", "").startswith("application/json"):
            return "no Content-Type: application/json"
        if not isinstance(body, dict):
            return "the body is not an event object"
        if not isinstance(body.get("subject"), str) or not body["subject"]:
            return "subject missing"
        content = body.get("body")
        if not (isinstance(content, dict) and content.get("contentType") in ("text", "html")):
            return "body must be {contentType, content}"
        if not isinstance(content.get("content"), str):
            return "body.content missing"
        for name in ("start", "end"):
            when = body.get(name)
            if not isinstance(when, dict) or not DATE_TIME.match(str(when.get("dateTime"))):
                return f"{name}.dateTime missing or not a local date and time"
            if when.get("timeZone") not in TIME_ZONES:
                return f"{name}.timeZone {when.get('timeZone')!r} not supported"
        if not isinstance(body.get("location"), dict) or "displayName" not in body["location"]:
            return "location must be {displayName}"
        if creating and not body.get("transactionId"):
            return "transactionId missing on create"
        if not creating and "transactionId" in body:
            return "transactionId is only for creating"
        return ""
