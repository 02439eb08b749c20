"""The Backfills pages in a real browser over a real `assay dev` stack serving the
partitioned example (examples/analytics/signups.py): a range launched from the console
runs to the end with its progress bar full; launching every partition without choosing one
is said in the preview, then canceled and resumed from the backfill's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import shot
from tests.browser.test_console import wait_for_backfill as wait_for_status

pytestmark = pytest.mark.slow
BACKFILL_URL = re.compile(r"/o/dev/d/prod/backfills/[0-9a-f-]{36}/$")


def test_backfills_show_progress_and_are_canceled_and_resumed(signups_stack, page):
    base = f"{signups_stack.base_url}/o/dev/d/prod"
    page.goto(signups_stack.sign_in_link)
    page.click("#use-link")
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/graph/$"))

    # Daily and monthly assets together: no one range covers them, the person chooses.
    page.goto(f"{base}/launch/?selection=*")
    expect(page.locator("#partition-plan")).to_contain_text("partitioned differently")

    page.goto(f"{base}/launch/?selection=raw_signups,daily_signups&start=2024-01-01&end=2024-01-05")
    page.click("#launch")
    expect(page).to_have_url(BACKFILL_URL)
    assert wait_for_status(page, {"succeeded", "failed"}) == "succeeded"
    expect(page.locator("#progress [data-progress]")).to_contain_text("10 done · 0 failed / 10")
    expect(page.locator('[data-partition="daily_signups/2024-01-05"]')).to_contain_text("succeeded")
    shot(page, "backfill")

    # No partition chosen: the preview says every partition is backfilled, the rest once.
    page.goto(f"{base}/launch/?selection=raw_signups,daily_signups,signup_forecast")
    plan = page.locator("#partition-plan")
    expect(plan).to_contain_text("all 91 partitions")
    expect(plan).to_contain_text("then runs signup_forecast once")
    shot(page, "launch-partitions")
    page.click("#launch")
    expect(page).to_have_url(BACKFILL_URL)
    page.click("#backfill-cancel")
    assert wait_for_status(page, {"canceled"}) == "canceled"
    expect(page.locator("#backfill-cancel")).to_have_count(0)
    page.click("#backfill-resume")
    expect(page.locator("#backfill-status")).to_have_text("requested")
    page.click("#backfill-cancel")  # and stop it again: the rest of the session is elsewhere
    wait_for_status(page, {"canceled"})

    page.goto(f"{base}/backfills/")
    expect(page.locator("#backfills [data-backfill]")).to_have_count(2)
    expect(page.locator("#backfills")).to_contain_text("10 done · 0 failed / 10")
    shot(page, "backfills")
