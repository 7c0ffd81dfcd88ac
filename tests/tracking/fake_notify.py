"""A local stand-in for GOV.UK Notify's HTTP API: the one fake we allow, at the network edge."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeNotify:
    def __init__(self):
        self.requests = []
        self.status = 201
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if fake.status < 300:
                    reply = {"id": str(uuid.uuid4()), "reference": body.get("reference")}
                else:
                    reply = {"errors": [{"error": "Exception", "message": "Internal error"}]}
                self.wfile.write(json.dumps(reply).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
