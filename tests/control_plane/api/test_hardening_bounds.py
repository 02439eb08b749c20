"""Lists and maps in settings are bounded: an unbounded ``run_tag_limits`` or tag map is
stored on a row and read on every launch."""

from __future__ import annotations

import pytest

from tests.control_plane.api.database import database_fingerprint

API = "/api/v1/orgs/acme/"
MANY_TAGS = {f"k{i}": "v" for i in range(51)}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "patch",
            "deployments/prod/",
            {"run_tag_limits": [{"key": f"k{i}", "limit": 1} for i in range(101)]},
            "run_tag_limits",
        ),
        ("post", "deployments/prod/runs/", {"location": "x", "tags": MANY_TAGS}, "tags"),
        ("post", "deployments/prod/runs/", {"location": "x", "tags": {"k" * 101: "v"}}, "tags"),
        ("post", "deployments/prod/backfills/", {"tags": MANY_TAGS}, "tags"),
        (
            "post",
            "deployments/prod/alert-policies/",
            {"name": "p", "kinds": ["run_failure"], "tags": MANY_TAGS},
            "tags",
        ),
        (
            "post",
            "deployments/prod/alert-policies/",
            {
                "name": "p",
                "kinds": ["run_failure"],
                "webhooks": [{"url": f"https://h{i}.example/"} for i in range(21)],
            },
            "webhooks",
        ),
        (
            "post",
            "deployments/prod/alert-policies/",
            {"name": "p", "kinds": ["run_failure"] * 1000},
            "kinds",
        ),
    ],
)
def test_oversized_lists_and_maps_are_a_400_and_write_nothing(acme, method, path, body, field):
    client = acme.client()
    client.get(API)  # settle the token's last-used time first
    before = database_fingerprint()
    response = getattr(client, method)(f"{API}{path}", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["errors"]
    assert database_fingerprint() == before


def test_run_tag_limits_within_the_bound_are_accepted(acme):
    body = {"run_tag_limits": [{"key": f"k{i}", "limit": 1} for i in range(100)]}
    response = acme.client().patch(f"{API}deployments/prod/", body, format="json")
    assert response.status_code == 200, response.content[:300]
