"""A local stand-in for Microsoft Entra ID's v2.0 sign-in endpoints: a real HTTP server on
127.0.0.1, in a thread, so that the app's real OpenID Connect client talks HTTP to it.

- GET  /{tenant}/oauth2/v2.0/authorize  checks the request's shape and "signs in" whoever the
  test chose, answering with a 302 back to the app's redirect URI with a code and the state;
- POST /{tenant}/oauth2/v2.0/token      checks grant_type, the code (once only), redirect_uri,
  the client's id and secret and the PKCE verifier, and answers with an RS256-signed ID token;
- GET  /{tenant}/discovery/v2.0/keys    publishes the public key (JWKS).

A test chooses the person's claims with `sign_in_as(...)`, and may spoil the next ID token
(another key, another audience, another nonce, an expired one) with `spoil_next_token(...)`.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeEntra:
    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, redirect_uri: str):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.key = new_rsa_key()
        self.key_id = "fake-entra-key-1"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.reset()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/authorize"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        self.person: dict = {}
        self.spoils: dict = {}
        self.codes: dict[str, dict] = {}
        self.token_requests: list[dict] = []

    def sign_in_as(self, **claims):
        """Who signs in at the next authorize request, as ID token claims (`oid`,
        `preferred_username`, `amr`, …)."""
        self.person = claims

    def spoil_next_token(self, *, sign_with=None, **claims):
        """The next ID token is signed with another key, or has these claims overridden."""
        self.spoils = {"sign_with": sign_with, "claims": claims}

    # The endpoints.

    def authorize(self, query: dict) -> tuple[int, dict, str]:
        expected = {"response_type": "code", "client_id": self.client_id}
        wrong = [name for name, value in expected.items() if query.get(name) != value]
        if query.get("redirect_uri") != self.redirect_uri:
            wrong.append("redirect_uri")
        if "openid" not in query.get("scope", "").split():
            wrong.append("scope")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            wrong.append("code_challenge")
        if not query.get("state") or not query.get("nonce"):
            wrong.append("state or nonce")
        if wrong:
            return 400, {}, f"AADSTS900144: bad {', '.join(wrong)}"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "nonce": query["nonce"],
            "redirect_uri": query["redirect_uri"],
            "code_challenge": query["code_challenge"],
            "person": dict(self.person),
        }
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": location}, ""

    def token(self, form: dict, authorization: str) -> tuple[int, dict]:
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = (
                base64.b64decode(authorization[6:]).decode().partition(":")
            )
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        return 200, {
            "token_type": "Bearer",
            "scope": "openid email profile",
            "expires_in": 3599,
            "access_token": secrets.token_urlsafe(16),
            "id_token": self._id_token(grant),
        }

    def jwks(self) -> dict:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "use": "sig", "kid": self.key_id}]}

    def _id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "tid": self.tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": grant["nonce"],
            "ver": "2.0",
            **grant["person"],
        }
        claims.setdefault("sub", f"pairwise-{claims.get('oid', 'nobody')}")
        spoils, self.spoils = self.spoils, {}
        claims.update(spoils.get("claims", {}))
        key = spoils.get("sign_with") or self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.key_id})


def _handler_for(fake: FakeEntra):
    tenant = f"/{fake.tenant_id}"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path == f"{tenant}/oauth2/v2.0/authorize":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, headers, body = fake.authorize(query)
                self._answer(status, body.encode(), "text/plain", headers)
            elif url.path == f"{tenant}/discovery/v2.0/keys":
                self._answer(200, json.dumps(fake.jwks()).encode(), "application/json")
            else:
                self._answer(404, b"not found", "text/plain")

        def do_POST(self):
            if urlparse(self.path).path != f"{tenant}/oauth2/v2.0/token":
                self._answer(404, b"not found", "text/plain")
                return
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = fake.token(form, self.headers.get("Authorization", ""))
            self._answer(status, json.dumps(body).encode(), "application/json")

        def _answer(self, status, body: bytes, content_type: str, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet
            pass

    return Handler
