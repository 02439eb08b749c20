"""An offset past any plan on the partitions page is a 400, not a 500."""

from __future__ import annotations

import pytest

from tests.control_plane.backfills.conftest import URL

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("offset", [str(10**30), str(2**63), "-1"])
def test_an_unbounded_offset_is_a_400(acme, shop, offset):
    client = acme.client()
    created = client.post(
        URL,
        {"selection": "raw", "partition_range": {"start": "2024-01-01", "end": "2024-01-02"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    response = client.get(f"{URL}{created.json()['id']}/partitions/", {"offset": offset})
    assert response.status_code == 400, response.content[:300]
    assert "offset" in response.json()["errors"]
