"""The definitions snapshot an agent uploads: complete metadata, no data, stable JSON."""

import json

import pytest

from assay import (
    AssetCheckResult,
    AssetSpec,
    Definitions,
    asset,
    asset_check,
    define_asset_job,
    observable_source_asset,
)
from assay.definitions.schedules import ScheduleDefinition
from assay.definitions.sensors import SensorDefinition
from assay.errors import AssayError
from assay.snapshot import SNAPSHOT_VERSION, DefinitionsSnapshot, build_snapshot


def _defs():
    raw = AssetSpec("s3/raw", description="landing bucket", owners=["ops@example.com"])

    @observable_source_asset(key="vendor/feed")
    def feed():
        return "v1"

    @asset(
        key_prefix="mart",
        deps=[raw, feed],
        group_name="mart",
        owners=["ana@example.com"],
        tags={"tier": "gold"},
        kinds={"sql", "python"},
        metadata={"table": "mart.orders", "secret_value_never_read": 3},
        code_version="4",
    )
    def orders():
        """Cleaned orders."""
        return [1]

    @asset_check(asset=orders, blocking=True, description="no nulls")
    def no_nulls(orders):
        return AssetCheckResult(passed=True)

    return Definitions(
        assets=[raw, feed, orders],
        asset_checks=[no_nulls],
        resources={"warehouse": object()},
        jobs=[define_asset_job("nightly", "group:mart")],
        schedules=[
            ScheduleDefinition(cron_schedule="0 2 * * *", target="nightly", name="nightly_at_2")
        ],
        sensors=[SensorDefinition(name="new_files", evaluation_fn=lambda: None, target="nightly")],
    )


def test_snapshot_describes_assets_checks_and_names():
    snap = build_snapshot(_defs())
    assert snap.version == SNAPSHOT_VERSION
    by_key = {a.key: a for a in snap.assets}
    orders = by_key["mart/orders"]
    assert orders.deps == ["s3/raw", "vendor/feed"]
    assert orders.group == "mart"
    assert orders.owners == ["ana@example.com"]
    assert orders.tags == {"tier": "gold"}
    assert orders.kinds == ["python", "sql"]
    assert orders.description == "Cleaned orders."
    assert orders.code_version == "4"
    assert not orders.is_external
    assert by_key["s3/raw"].is_external and not by_key["s3/raw"].is_observable
    assert by_key["vendor/feed"].is_observable
    (check,) = snap.checks
    assert (check.asset_key, check.name, check.blocking) == ("mart/orders", "no_nulls", True)
    assert [j.name for j in snap.jobs] == ["nightly"]
    assert snap.schedules == ["nightly_at_2"]
    assert snap.sensors == ["new_files"]
    assert snap.resources == ["warehouse"]


def test_snapshot_round_trips_through_json():
    snap = build_snapshot(_defs())
    text = snap.to_json()
    json.loads(text)
    again = DefinitionsSnapshot.from_json(text)
    assert again == snap
    assert again.snapshot_id == snap.snapshot_id


def test_snapshot_id_changes_when_definitions_change():
    a = build_snapshot(Definitions(assets=[AssetSpec("x", code_version="1")]))
    b = build_snapshot(Definitions(assets=[AssetSpec("x", code_version="2")]))
    assert a.snapshot_id != b.snapshot_id


def test_unknown_snapshot_version_is_rejected():
    data = build_snapshot(_defs()).to_dict()
    data["version"] = 999
    with pytest.raises(AssayError, match="version 999"):
        DefinitionsSnapshot.from_dict(data)
