"""A local GitHub API stand-in on 127.0.0.1 and signed webhook deliveries, for tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "s3cret-webhook-key-0123"
URL = "/github/webhooks/acme/"


class GitHubStandIn:
    """Answers the two calls the comment needs, and remembers every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append(
                    ("POST", self.path, body | {"auth": self.headers["Authorization"]})
                )
                self._answer(201, {"id": 4242, "body": body["body"]})

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append(("PATCH", self.path, body))
                self._answer(200, {"id": 4242, "body": body["body"]})

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def payload(action: str, sha: str) -> bytes:
    return json.dumps(
        {
            "action": action,
            "number": 5,
            "pull_request": {
                "number": 5,
                "title": "New audit",
                "head": {"ref": "feature/audit", "sha": sha},
                "user": {"login": "ana"},
            },
            "repository": {"full_name": "acme/warehouse"},
        }
    ).encode()


def deliver(client, body: bytes, delivery: str, *, secret: str = SECRET, event="pull_request"):
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        URL, body, content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signature, HTTP_X_GITHUB_EVENT=event,
        HTTP_X_GITHUB_DELIVERY=delivery,
    )  # fmt: skip
