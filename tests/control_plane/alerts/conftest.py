"""A real SMTP server (aiosmtpd) and a real HTTP server in threads, for alert deliveries."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from control_plane.alerts import services
from control_plane.core.context import tenant_context
from tests.control_plane.factories import load_location


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings) -> Iterator[_Inbox]:
    """Django's SMTP backend pointed at a local aiosmtpd server; yields its inbox."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.ALERT_FROM_EMAIL = "alerts@assay.test"
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class WebhookServer:
    """Records each POST; answers with the queued status codes, then 200."""

    url: str
    requests: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)


@pytest.fixture
def webhook_server(settings) -> Iterator[WebhookServer]:
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERT_RETRY_BASE_SECONDS = 30
    settings.ALERT_RETRY_MAX_SECONDS = 3600
    settings.ALERT_MAX_ATTEMPTS = 4
    lock = threading.Lock()
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server = state["server"]
            with lock:
                server.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers["Content-Type"],
                        "json": json.loads(body),
                    }
                )
                status = server.statuses.pop(0) if server.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"boom")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    state["server"] = WebhookServer(url=f"http://127.0.0.1:{port}/hooks/T123/secret-token?k=v")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def prod(acme):
    """acme's prod deployment with a loaded location: raw_orders -> clean_orders (group
    sales) -> revenue_report (group reports)."""
    ctx = acme.ctx()
    with tenant_context(ctx):
        from control_plane.tenancy.queries import get_deployment

        deployment = get_deployment(name="prod")
        load_location(ctx, deployment=deployment, name="loc")
    return deployment


@pytest.fixture
def make_policy(acme, prod):
    def make(**kwargs):
        values = {"name": f"policy-{make.count}", "kinds": ["freshness_violation"]}
        make.count += 1
        values.update(kwargs)
        with tenant_context(acme.ctx()):
            return services.create_alert_policy(ctx=acme.ctx(), deployment=prod, **values)

    make.count = 0
    return make
