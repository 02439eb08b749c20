"""The Grants, Audit log, Agents and Backfills pages in a real browser over the real
`assay dev` stack: an Organization Admin grants a member a role on the deployment and
revokes it, finds both in the audit log and exports it; the agents page shows the example
location loaded and its live agent; a Viewer is offered no grant form nor audit log, and a
forged grant is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import api, shot
from tests.browser.test_console_settings import member

pytestmark = pytest.mark.slow


def test_an_org_admin_grants_and_revokes_a_role_and_reads_the_audit_log(dev_stack, page, browser):
    member(dev_stack, page, "lead@example.com", "org_admin")
    newcomer = browser.new_context().new_page()
    member(dev_stack, newcomer, "analyst@example.com", "viewer")
    newcomer.context.close()

    page.goto(f"{dev_stack.base_url}/o/dev/settings/grants/")
    form = page.locator("#new-grant")
    form.locator("select[name=grantee]").select_option(label="analyst@example.com")
    form.locator("select[name=role]").select_option("launcher")
    form.locator("select[name=scope]").select_option(label="deployment prod")
    form.get_by_role("button", name="Grant").click()
    row = page.locator('[data-grant="analyst@example.com|deployment prod"]')
    expect(row).to_contain_text("Launcher")
    grants = api(dev_stack, "GET", "orgs/dev/grants/?limit=500")["results"]
    assert any(
        (g["role"], g["member_email"], g["deployment"])
        == ("launcher", "analyst@example.com", "prod")
        for g in grants
    ), grants
    shot(page, "grants")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator('[data-grant="analyst@example.com|deployment prod"]')).to_have_count(0)

    page.goto(f"{dev_stack.base_url}/o/dev/settings/audit/")
    page.fill("#audit-filters input[name=action]", "grant.")
    page.fill("#audit-filters input[name=target]", "Launcher for")
    page.click("#audit-filters button[type=submit]")
    expect(page.locator('#audit-events [data-action="grant.create"]')).to_have_count(1)
    expect(page.locator('#audit-events [data-action="grant.delete"]')).to_have_count(1)
    shot(page, "audit")
    with page.expect_download() as download:
        page.click("#export-jsonl")
    lines = Path(download.value.path()).read_text().splitlines()
    assert sorted(json.loads(line)["action"] for line in lines) == ["grant.create", "grant.delete"]

    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/agents/")
    location = page.locator('[data-location="analytics"]')
    expect(location.locator("[data-load-status]")).to_have_text("loaded")
    expect(location).to_contain_text("3 assets")
    expect(page.locator("#agents [data-agent]")).to_have_count(1)
    shot(page, "agents")

    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/backfills/")
    # The stack is shared: the console test may have backfilled the example's week already.
    expect(page.locator("#backfills")).to_be_visible()


def test_a_viewer_is_offered_no_grant_form_nor_audit_log_and_a_forged_grant_is_refused(
    dev_stack, page
):
    member(dev_stack, page, "onlooker@example.com", "viewer")
    page.goto(f"{dev_stack.base_url}/o/dev/settings/grants/")
    expect(page.locator("#grants")).to_contain_text("onlooker@example.com")
    expect(page.locator("#new-grant")).to_have_count(0)
    expect(page.locator("#grants").get_by_role("button", name="Revoke")).to_have_count(0)
    expect(page.locator("nav.sidenav")).not_to_contain_text("Audit log")
    assert page.request.get(f"{dev_stack.base_url}/o/dev/settings/audit/").status == 403
    members = api(dev_stack, "GET", "orgs/dev/members/?limit=500")["results"]
    me = next(m for m in members if m["email"] == "onlooker@example.com")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(
        f"{dev_stack.base_url}/o/dev/settings/grants/new/",
        form={
            "grantee": f"member:{me['id']}",
            "role": "admin",
            "scope": "organization",
            "csrfmiddlewaretoken": csrf,
        },
    )
    assert forged.status == 403
    grants = api(dev_stack, "GET", "orgs/dev/grants/?limit=500")["results"]
    assert not any(
        g["role"] == "admin" and g["member_email"] == "onlooker@example.com" for g in grants
    )
