"""The asset page shows column lineage, in a real browser over `assay dev` serving the dbt
example: each column of a model with the upstream columns that feed it, linked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
pytest.importorskip("dbt.cli.main", reason="the dbt extra is not installed")


def test_a_dbt_models_columns_link_to_the_upstream_columns_that_feed_them(jaffle_shop_stack, page):
    stack = jaffle_shop_stack
    page.goto(stack.sign_in_link)
    page.click("#use-link")
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/graph/$"))

    page.goto(f"{stack.base_url}/o/dev/d/prod/assets/customers/")
    lineage = page.locator("#column-lineage")
    expect(lineage.get_by_role("heading", name="Column lineage")).to_be_visible()
    expect(lineage.locator("tr.column")).to_have_count(6)
    # Through a CTE and a join, lifetime_value is fed by stg_payments.amount.
    lifetime = lineage.locator('tr[data-column="lifetime_value"]')
    expect(lifetime).to_contain_text("stg_payments.amount")
    expect(lineage.locator('tr[data-column="number_of_orders"]')).to_contain_text(
        "no upstream column"
    )
    lifetime.get_by_role("link", name="stg_payments.amount").click()
    expect(page).to_have_url(re.compile(r"/o/dev/d/prod/assets/stg_payments/$"))
    amount = page.locator('#column-lineage tr[data-column="amount"]')
    expect(amount).to_contain_text("raw_payments.amount")

    # A staging model's columns come from the source the Python asset loads.
    page.goto(f"{stack.base_url}/o/dev/d/prod/assets/stg_orders/")
    customer = page.locator('#column-lineage tr[data-column="customer_id"]')
    expect(customer.get_by_role("link", name="jaffle_shop/raw_orders.user_id")).to_have_attribute(
        "href", re.compile(r"/assets/jaffle_shop/raw_orders/$")
    )
    # An asset without declared lineage has no such table.
    page.goto(f"{stack.base_url}/o/dev/d/prod/assets/jaffle_shop/raw_orders/")
    expect(page.get_by_role("heading", name="About")).to_be_visible()
    expect(page.locator("#column-lineage")).to_have_count(0)
