"""The Automation and Settings pages in a real browser over the real `assay dev` stack: an
Editor turns declarative automation off and on; an Organization Admin invites a member,
creates a team and an API token whose secret is shown once (and works, until revoked); a
Viewer is offered no switch and a forged POST is refused.

Members sign in as people do: invited by mail (the local SMTP server), accepting the link
with a password, then granted a role by the admin's API token.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import PASSWORD, api, shot

pytestmark = pytest.mark.slow


def member(stack, page, email: str, role: str) -> None:
    """Invite ``email``, accept in ``page`` (which is then signed in) and grant ``role``."""
    api(stack, "POST", "orgs/dev/members/", {"email": email})
    page.goto(stack.mailbox.next_link())
    page.fill("input[name=password]", PASSWORD)
    page.click("#accept")
    members = api(stack, "GET", "orgs/dev/members/?limit=500")["results"]
    found = next(m for m in members if m["email"] == email)
    api(stack, "POST", "orgs/dev/grants/", {"member_id": found["id"], "role": role})


def status_with(stack, secret: str) -> int:
    request = urllib.request.Request(
        f"{stack.base_url}/api/v1/orgs/dev/", headers={"Authorization": f"Bearer {secret}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_editor_turns_declarative_automation_off_and_on(dev_stack, page):
    member(dev_stack, page, "editor@example.com", "editor")
    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/automation/")
    expect(page.locator("#automation-status")).to_have_text("on")
    shot(page, "automation")
    page.click("#automation-toggle")
    expect(page.locator("#automation-status")).to_have_text("off")
    settings = api(dev_stack, "GET", "orgs/dev/deployments/prod/automation/")
    assert settings["enabled"] is False
    page.click("#automation-toggle")
    expect(page.locator("#automation-status")).to_have_text("on")
    assert api(dev_stack, "GET", "orgs/dev/deployments/prod/automation/")["enabled"] is True
    audit = api(dev_stack, "GET", "orgs/dev/audit/?limit=500")["results"]
    assert sum(e["action"] == "automation.update" for e in audit) >= 2


def test_an_org_admin_invites_creates_a_team_and_a_token_shown_once(dev_stack, page):
    member(dev_stack, page, "owner@example.com", "org_admin")
    page.goto(f"{dev_stack.base_url}/o/dev/settings/members/")
    page.fill("#invite input[name=email]", "newcomer@example.com")
    page.click("#invite button[type=submit]")
    expect(page.locator('[data-invitation="newcomer@example.com"]')).to_be_visible()
    assert "/invitations/" in dev_stack.mailbox.next_link()  # the mail was sent
    shot(page, "members")

    page.goto(f"{dev_stack.base_url}/o/dev/settings/teams/")
    page.fill("#new-team input[name=name]", "platform")
    page.click("#new-team button[type=submit]")
    expect(page.locator('[data-team="platform"]')).to_be_visible()

    page.goto(f"{dev_stack.base_url}/o/dev/settings/tokens/")
    page.fill("#new-token input[name=name]", "laptop")
    page.click("#new-token button[type=submit]")
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("assay_u_")
    assert status_with(dev_stack, secret) == 200
    shot(page, "tokens")
    page.goto(f"{dev_stack.base_url}/o/dev/settings/tokens/")
    expect(page.locator("#secret")).to_have_count(0)
    row = page.locator('[data-token="laptop"]')
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator('[data-token="laptop"]')).to_contain_text("revoked")
    assert status_with(dev_stack, secret) == 401


def test_a_viewer_is_offered_no_automation_switch_and_a_forged_post_is_refused(dev_stack, page):
    member(dev_stack, page, "reader@example.com", "viewer")
    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/automation/")
    expect(page.locator("#automation-status")).to_be_visible()
    expect(page.locator("#automation-toggle")).to_have_count(0)
    page.goto(f"{dev_stack.base_url}/o/dev/settings/teams/")
    expect(page.locator("#new-team")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(
        f"{dev_stack.base_url}/o/dev/d/prod/automation/on-off/",
        form={"enabled": "false", "csrfmiddlewaretoken": csrf},
    )
    assert forged.status == 403
    assert api(dev_stack, "GET", "orgs/dev/deployments/prod/automation/")["enabled"] is True
    forged = page.request.post(
        f"{dev_stack.base_url}/o/dev/settings/teams/",
        form={"name": "rogue", "csrfmiddlewaretoken": csrf},
    )
    assert forged.status == 403
    teams = api(dev_stack, "GET", "orgs/dev/teams/?limit=500")["results"]
    assert all(t["name"] != "rogue" for t in teams)
