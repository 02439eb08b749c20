"""The usage page in a real browser over a real `assay dev` stack: a run of the example's
week (seven daily partitions of user_events, then daily_metrics and churn_model) shows up
as nine more credits this month, one per asset partition, with the chart and the plan's
limits."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import PASSWORD, api

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 120


def test_a_run_shows_up_as_credits_on_the_usage_page(dev_stack, page):
    before = api(dev_stack, "GET", "orgs/dev/billing/usage/")["month_to_date"]
    run = api(
        dev_stack,
        "POST",
        "orgs/dev/deployments/prod/runs/",
        {
            "location": "analytics",
            "selection": "*",
            "partition_range": {"start": "2026-11-01", "end": "2026-11-07"},
        },
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while api(dev_stack, "GET", f"orgs/dev/deployments/prod/runs/{run['id']}/")["status"] != (
        "SUCCESS"
    ):
        assert time.monotonic() < deadline, "the run did not succeed in time"
        time.sleep(0.5)

    api(dev_stack, "POST", "orgs/dev/members/", {"email": "accountant@example.com"})
    page.goto(dev_stack.mailbox.next_link())
    page.fill("input[name=password]", PASSWORD)
    page.click("#accept")
    members = api(dev_stack, "GET", "orgs/dev/members/?limit=500")["results"]
    member = next(m for m in members if m["email"] == "accountant@example.com")
    api(dev_stack, "POST", "orgs/dev/grants/", {"member_id": member["id"], "role": "viewer"})

    page.goto(f"{dev_stack.base_url}/o/dev/billing/")
    expect(page.locator("#month-to-date")).to_have_text(str(before + 9))
    expect(page.locator("svg[aria-label='credits per day'] rect")).to_have_count(90)
    expect(page.locator("#plan")).to_contain_text("Users")
    expect(page.locator("#top-assets")).to_contain_text("churn_model")
    expect(page.locator("#top-assets")).to_contain_text("user_events")
    expect(page.locator("select[name=plan]")).to_have_count(0)  # a Viewer cannot change it
