"""The console in a real browser over a real `assay dev` stack: sign in with the printed
link, see the graph, launch, watch the run reach SUCCESS live, see the check result; a
Viewer (invited by mail) is offered no launch and a forged POST is refused; repeated wrong
passwords lock the sign-in.

Set ASSAY_CONSOLE_SCREENSHOTS=docs/img to save the screenshots docs/console.md shows.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
RUN_TIMEOUT_MS = 120_000
BACKFILL_TIMEOUT_S = 240
SHOTS = os.environ.get("ASSAY_CONSOLE_SCREENSHOTS")
PASSWORD = "a long enough passphrase 42"


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def api(stack, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"{stack.base_url}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {stack.admin_token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_for_backfill(page, wanted: set[str]) -> str:
    """Reload the backfill page until its status is one of ``wanted`` (the page is static)."""
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    while True:
        status = page.locator("#backfill-status").inner_text().strip()
        if status in wanted:
            return status
        assert time.monotonic() < deadline, f"backfill still {status}"
        time.sleep(1)
        page.reload()


def test_new_user_signs_in_launches_watches_the_run_and_sees_the_check(dev_stack, page):
    base = f"{dev_stack.base_url}/o/dev/d/prod"
    page.goto(dev_stack.sign_in_link)
    page.click("#use-link")
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/graph/$"))
    expect(page.locator('[data-asset="user_events"]')).to_be_visible()
    expect(page.locator('[data-asset="churn_model"]')).to_be_visible()
    shot(page, "graph")

    # Everything, no partition chosen: every day of user_events, then the rest once.
    page.goto(f"{base}/launch/?selection=*")
    expect(page.get_by_text("Will run 3 assets")).to_be_visible()
    plan = page.locator("#partition-plan")
    expect(plan).to_contain_text("all 7 partitions (2026-11-01 … 2026-11-07)")
    expect(plan).to_contain_text("then runs churn_model, daily_metrics once")
    # One credit per asset partition: seven days of user_events, then the other two.
    expect(page.locator("#credit-estimate")).to_contain_text("Estimated cost: 9 credits")
    shot(page, "launch")
    page.click("#launch")
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/backfills/[0-9a-f-]{36}/$"))
    assert wait_for_backfill(page, {"succeeded", "failed"}) == "succeeded"

    # The partitions of user_events as the asset page shows them: the whole week done.
    page.goto(f"{base}/assets/user_events/")
    expect(page.get_by_text("7 in all")).to_be_visible()
    expect(page.locator(".pill.status-materialized")).to_have_text("7 materialized")
    cells = page.locator(".heatmap .cell[data-partition]")
    expect(cells).to_have_count(7)
    expect(page.locator('.heatmap [data-partition="2026-11-01"]')).to_have_class(
        re.compile(r"status-materialized")
    )
    expect(page.locator('.heatmap [data-partition="2026-11-07"]')).to_have_class(
        re.compile(r"status-materialized")
    )
    shot(page, "partitions")

    # A run of the unpartitioned rest, watched live until it succeeds.
    page.goto(f"{base}/launch/?selection=daily_metrics%2B")
    expect(page.get_by_text("Will run 2 assets")).to_be_visible()
    page.click("#launch")
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/runs/[0-9a-f-]{36}/$"))
    expect(page.locator("#run-status")).to_have_text("SUCCESS", timeout=RUN_TIMEOUT_MS)
    expect(page.locator(".gantt-row")).to_have_count(2)
    shot(page, "run")
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    # The check's history lists every evaluation (other tests of the session run it too):
    # the row of this run's evaluation passed.
    page.goto(f"{base}/assets/daily_metrics/")
    check = page.locator("tr.check", has_text="no_negative_conversions").filter(
        has=page.get_by_role("link", name=run_id[:8], exact=True)
    )
    expect(check).to_contain_text("passed")
    shot(page, "asset")
    page.goto(f"{base}/assets/?status=fresh")
    expect(page.get_by_role("link", name="churn_model")).to_be_visible()
    shot(page, "catalog")
    page.goto(f"{base}/runs/")
    shot(page, "runs")


def test_an_invited_viewer_is_offered_no_launch_and_a_forged_post_is_refused(dev_stack, page):
    invited = api(dev_stack, "POST", "orgs/dev/members/", {"email": "viewer@example.com"})
    assert invited["status"] == "pending"
    page.goto(dev_stack.mailbox.next_link())
    expect(page.get_by_text("Join")).to_be_visible()
    page.fill("input[name=password]", PASSWORD)
    page.click("#accept")
    members = api(dev_stack, "GET", "orgs/dev/members/?limit=500")["results"]
    member = next(m for m in members if m["email"] == "viewer@example.com")
    api(dev_stack, "POST", "orgs/dev/grants/", {"member_id": member["id"], "role": "viewer"})

    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/graph/")
    expect(page.locator('[data-asset="user_events"]')).to_be_visible()
    expect(page.locator("nav.sidenav")).not_to_contain_text("Launch")
    page.goto(f"{dev_stack.base_url}/o/dev/d/prod/assets/user_events/")
    expect(page.locator("#materialize")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(
        f"{dev_stack.base_url}/o/dev/d/prod/launch/",
        form={"selection": "user_events", "location": "analytics", "csrfmiddlewaretoken": csrf},
    )
    assert forged.status == 403
    runs = api(dev_stack, "GET", "orgs/dev/deployments/prod/runs/?limit=500")["results"]
    assert all(r["launched_by"] != "viewer@example.com" for r in runs)


def test_repeated_wrong_passwords_lock_the_sign_in(dev_stack, page):
    for _ in range(5):
        page.goto(f"{dev_stack.base_url}/sign-in/")
        page.fill("input[name=username]", "viewer@example.com")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
    expect(page.locator("#locked-out")).to_contain_text("Too many failed sign-ins")
    shot(page, "locked")
