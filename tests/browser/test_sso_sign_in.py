"""SAML sign-in in a real browser. An Organization Admin sets SSO up on the console's Single
sign-on page from the IdP's metadata; a new user then chooses "Sign in with SSO" for the
organization, Chromium is sent to the IdP (pysaml2, served over HTTP on loopback by this
test), whose page posts the signed assertion back to the ACS as real IdPs do, and the user
lands signed in on the console, provisioned just in time. With "SSO required", a member's
password sign-in is refused with the reason while the Organization Admin's break-glass
password still works."""

from __future__ import annotations

import html
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from saml2.metadata import entity_descriptor

from tests.browser.test_console import PASSWORD, api, shot
from tests.browser.test_console_settings import member
from tests.control_plane.sso.idp import TestIdP

pytestmark = pytest.mark.slow

USER = "ada@example.com"


class IdPServer:
    """The test IdP behind an HTTP endpoint on loopback. A GET of ``/sso`` with a
    SAMLRequest (the redirect binding) answers as an IdP whose user (``USER``) is already
    signed in there: a page that auto-posts the signed SAMLResponse and the RelayState to
    the request's ACS URL (the POST binding)."""

    PATH = "/sso"

    def __init__(self, sp_metadata: str) -> None:
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}{self.PATH}"
        self.idp = TestIdP([sp_metadata], sso_url=self.url)
        self.requests: list[str] = []
        self.errors: list[str] = []

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != server.PATH:  # e.g. the browser's /favicon.ico
                    self.send_error(404)
                    return
                try:
                    body = server.answer(parse_qs(url.query))
                except Exception as error:  # reported by the test, not lost in a thread
                    server.errors.append(repr(error))
                    self.send_error(400, str(error))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def answer(self, query: dict[str, list[str]]) -> bytes:
        request = self.idp.parse_request(query["SAMLRequest"][0])
        self.requests.append(request.id)
        acs = request.assertion_consumer_service_url
        response = self.idp.response(
            sp_entity_id=request.issuer.text,
            acs_url=acs,
            email=USER,
            in_response_to=request.id,
            attributes={
                "email": [USER],
                "firstName": ["Ada"],
                "lastName": ["Lovelace"],
                "groups": ["sso-editors"],
            },
        )
        relay = html.escape(query.get("RelayState", [""])[0], quote=True)
        return (
            "<!doctype html><html><body onload='document.forms[0].submit()'>"
            f"<form method='post' action='{html.escape(acs, quote=True)}'>"
            f"<input type='hidden' name='SAMLResponse' value='{response}'>"
            f"<input type='hidden' name='RelayState' value='{relay}'>"
            "<noscript><button>Continue</button></noscript></form></body></html>"
        ).encode()

    def metadata(self) -> str:
        return str(entity_descriptor(self.idp.server.config))


@pytest.fixture
def idp_server(dev_stack) -> Iterator[IdPServer]:
    with urllib.request.urlopen(f"{dev_stack.base_url}/sso/dev/metadata/", timeout=30) as r:
        sp_metadata = r.read().decode()
    server = IdPServer(sp_metadata)
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()
    thread.join()


def save_sso_settings(stack, page, idp: IdPServer, *, required: bool) -> None:
    """As the Organization Admin signed in on ``page``: import the IdP's metadata, enable
    SAML with Viewer as the default role, and set "SSO required"."""
    page.goto(f"{stack.base_url}/o/dev/settings/sso/")
    expect(page.locator("#sp-acs-url")).to_have_text(f"{stack.base_url}/sso/dev/acs/")
    page.fill("#idp-metadata textarea[name=metadata]", idp.metadata())
    page.click("#idp-metadata button[type=submit]")
    expect(page.locator("#saml-settings input[name=idp_sso_url]")).to_have_value(idp.url)
    page.check("#saml-settings input[name=enabled]")
    page.select_option("#saml-settings select[name=default_role]", "viewer")
    page.set_checked("#saml-settings input[name=sso_required]", required)
    page.click("#saml-settings button[type=submit]")
    expect(page.locator("#error")).to_have_count(0)
    expect(page.locator("#saml-settings input[name=enabled]")).to_be_checked()
    expect(page.locator("#saml-settings input[name=sso_required]")).to_be_checked(checked=required)


def sign_in_with_password(stack, page, email: str) -> None:
    page.goto(f"{stack.base_url}/sign-in/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_new_user_signs_in_through_the_idp_and_is_provisioned(
    dev_stack, idp_server, browser, page
):
    team = api(dev_stack, "POST", "orgs/dev/teams/", {"name": "sso-editors"})
    api(dev_stack, "POST", "orgs/dev/grants/", {"team_id": team["id"], "role": "editor"})
    member(dev_stack, page, "sso-admin@example.com", "org_admin")
    save_sso_settings(dev_stack, page, idp_server, required=False)
    shot(page, "sso-settings")

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        newcomer = context.new_page()
        wanted = f"{dev_stack.base_url}/o/dev/d/prod/automation/"
        newcomer.goto(wanted)  # not signed in yet: the sign-in page, which keeps `next`
        expect(newcomer).to_have_url(re.compile(re.escape(f"{dev_stack.base_url}/sign-in/")))
        newcomer.get_by_label("Sign in with SSO: organization").fill("dev")
        newcomer.get_by_role("button", name="Sign in with SSO").click()
        try:
            expect(newcomer).to_have_url(wanted)
        except AssertionError:
            stopped = newcomer.inner_text("body")[:800]
            raise AssertionError(
                f"stopped at {newcomer.url}: {stopped}; IdP errors: {idp_server.errors}"
            ) from None
        assert len(idp_server.requests) == 1  # the browser went through the IdP
        expect(newcomer.get_by_text(USER).first).to_be_visible()
        # The team's Editor role, not the default Viewer: the automation switch is offered.
        expect(newcomer.locator("#automation-toggle")).to_be_visible()
        newcomer.goto(f"{dev_stack.base_url}/o/dev/d/prod/assets/")
        expect(newcomer.get_by_text("user_events").first).to_be_visible()  # the org's assets
        shot(newcomer, "sso-signed-in")
    finally:
        context.close()

    members = api(dev_stack, "GET", "orgs/dev/members/?limit=500")["results"]
    assert any(m["email"] == USER and m["name"] == "Ada Lovelace" for m in members)  # JIT
    grants = api(dev_stack, "GET", "orgs/dev/grants/?limit=500")["results"]
    assert [g["role"] for g in grants if g.get("member_email") == USER] == ["viewer"]
    in_team = api(dev_stack, "GET", f"orgs/dev/teams/{team['id']}/members/?limit=500")
    assert USER in str(in_team), in_team
    audit = [e["action"] for e in api(dev_stack, "GET", "orgs/dev/audit/?limit=500")["results"]]
    assert {"sso.config_update", "sso.user_provision", "sso.sign_in"} <= set(audit)


def test_with_sso_required_a_member_cannot_sign_in_with_a_password(
    dev_stack, idp_server, browser, page
):
    joined = browser.new_context()
    try:  # a member with a password, from before SSO was required
        member(dev_stack, joined.new_page(), "sso-password@example.com", "viewer")
    finally:
        joined.close()
    member(dev_stack, page, "sso-breakglass@example.com", "org_admin")
    save_sso_settings(dev_stack, page, idp_server, required=True)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            refused = context.new_page()
            sign_in_with_password(dev_stack, refused, "sso-password@example.com")
            expect(refused.get_by_role("alert")).to_contain_text(
                "Your organization requires single sign-on: sign in with SSO (/sso/dev/login/)."
            )
            shot(refused, "sso-required")
            refused.goto(f"{dev_stack.base_url}/o/dev/")
            expect(refused).to_have_url(re.compile(re.escape(f"{dev_stack.base_url}/sign-in/")))
        finally:
            context.close()

        context = browser.new_context()
        try:  # break-glass: a direct Organization Admin still signs in with a password
            admin = context.new_page()
            sign_in_with_password(dev_stack, admin, "sso-breakglass@example.com")
            expect(admin).to_have_url(re.compile(re.escape(f"{dev_stack.base_url}/o/dev/")))
        finally:
            context.close()
    finally:  # the stack is shared: later tests sign members in with passwords
        save_sso_settings(dev_stack, page, idp_server, required=False)
