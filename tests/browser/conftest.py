"""Browser tests: real headless Chromium (Debian's package, driven by Playwright) against a
real `assay dev` stack (web, gRPC, daemon, agent on SQLite), with a local SMTP server
(aiosmtpd) receiving the invitation mail and the local Stripe stand-in."""

from __future__ import annotations

import email
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY = "Press Ctrl-C to stop."
STARTUP_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """Messages the local SMTP server received."""

    messages: queue.Queue = field(default_factory=queue.Queue)

    def next_link(self, timeout: float = 30.0) -> str:
        message = self.messages.get(timeout=timeout)
        body = message.get_payload(decode=True).decode()
        return re.search(r"http://\S+", body).group(0)


@dataclass
class DevStack:
    base_url: str
    sign_in_link: str
    admin_token: str
    mailbox: Mailbox
    output: list[str]


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            box.messages.put(email.message_from_bytes(envelope.content))
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


STRIPE_WEBHOOK_SECRET = "whsec_browser_tests"


@pytest.fixture(scope="session")
def stripe_standin():
    """The local Stripe stand-in the dev stack's `stripe` library talks to (billing tests)."""
    from tests.control_plane.billing.stripe_standin import StripeStandIn

    server = StripeStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory, mailbox, stripe_standin) -> Iterator[DevStack]:
    yield from _dev_stack(tmp_path_factory, mailbox, stripe_standin, [])


@pytest.fixture(scope="session")
def signups_stack(tmp_path_factory, mailbox, stripe_standin) -> Iterator[DevStack]:
    """A second stack serving the partitioned example (examples/analytics/signups.py)."""
    yield from _dev_stack(
        tmp_path_factory, mailbox, stripe_standin, ["-m", "examples.analytics.signups"]
    )


@pytest.fixture(scope="session")
def jaffle_shop_stack(tmp_path_factory, mailbox, stripe_standin) -> Iterator[DevStack]:
    """A stack serving the dbt example (examples/jaffle_shop), its DuckDB file and dbt's
    target/ in a temporary directory."""
    state = tmp_path_factory.mktemp("jaffle-shop")
    yield from _dev_stack(
        tmp_path_factory,
        mailbox,
        stripe_standin,
        ["-m", "examples.jaffle_shop.definitions"],
        env={"JAFFLE_SHOP_DIR": str(state)},
    )


def _dev_stack(
    tmp_path_factory, mailbox, stripe_standin, args: list[str], env: dict | None = None
) -> Iterator[DevStack]:
    extra_env = env or {}
    box, smtp_port = mailbox
    home = tmp_path_factory.mktemp("dev-home")
    port, grpc_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(ASSAY_SMTP_HOST="127.0.0.1", ASSAY_SMTP_PORT=str(smtp_port), **extra_env)
    env.update(
        STRIPE_API_KEY="sk_test_browser",
        STRIPE_API_BASE=stripe_standin.url,
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        STRIPE_PRICE_IDS="solo=price_solo,starter=price_starter",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "assay", "dev", "--home", str(home),
         "--port", str(port), "--grpc-port", str(grpc_port), *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while READY not in "".join(output):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            pytest.fail("assay dev exited:\n" + "".join(output))
        output.append(line)
    banner = "".join(output)
    link = re.search(r"console:\s+(\S+)", banner).group(1)
    token = re.search(r"admin token:\s+(\S+)", banner).group(1)
    try:
        yield DevStack(f"http://127.0.0.1:{port}", link, token, box, output)
    finally:
        process.send_signal(2)  # Ctrl-C: assay dev stops what it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()
