"""Definitions and mappings survive the snapshot (JSON) round trip the control plane uses."""

from __future__ import annotations

import json

import pytest

from assay.freshness import FreshnessPolicy
from assay.partitions import (
    AllPartitionMapping,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    InvalidPartitionsDefinition,
    LastPartitionMapping,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    partition_mapping_from_snapshot,
    partitions_def_from_snapshot,
)

DEFINITIONS = [
    DailyPartitionsDefinition("2024-01-01", timezone="Europe/Berlin", end_offset=1),
    HourlyPartitionsDefinition("2024-01-01-00:00", end_date="2024-02-01-00:00"),
    StaticPartitionsDefinition(["eu", "us"]),
    DynamicPartitionsDefinition("customers"),
    MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition("2024-01-01"),
            "region": StaticPartitionsDefinition(["eu"]),
        }
    ),
]

MAPPINGS = [
    IdentityPartitionMapping(),
    AllPartitionMapping(),
    LastPartitionMapping(),
    TimeWindowPartitionMapping(start_offset=-7, end_offset=-1),
    StaticPartitionMapping({"emea": ["de", "fr"], "amer": "us"}),
    MultiToSingleDimensionPartitionMapping("date"),
    MultiPartitionMapping(
        {"date": DimensionPartitionMapping("date", TimeWindowPartitionMapping(-1, -1))}
    ),
]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.to_snapshot()["type"])
def test_partitions_definition_round_trips(definition):
    data = json.loads(json.dumps(definition.to_snapshot()))
    assert partitions_def_from_snapshot(data) == definition


@pytest.mark.parametrize("mapping", MAPPINGS, ids=lambda m: type(m).__name__)
def test_partition_mapping_round_trips(mapping):
    data = json.loads(json.dumps(mapping.to_snapshot()))
    assert partition_mapping_from_snapshot(data) == mapping


def test_policies_describe_themselves():
    assert BackfillPolicy.multi_run(5).to_snapshot() == {"max_partitions_per_run": 5}
    assert FreshnessPolicy(60, cron_schedule="0 9 * * *").to_snapshot() == {
        "maximum_lag_minutes": 60,
        "cron_schedule": "0 9 * * *",
        "cron_schedule_timezone": "UTC",
    }


def test_unknown_snapshot_types_are_rejected():
    with pytest.raises(InvalidPartitionsDefinition, match="'weird'"):
        partitions_def_from_snapshot({"type": "weird"})
    with pytest.raises(InvalidPartitionsDefinition, match="'Nope'"):
        partition_mapping_from_snapshot({"type": "Nope"})
