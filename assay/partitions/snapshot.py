"""Rebuild partitions definitions and mappings from their ``to_snapshot()`` form.

The control plane receives snapshots, not Python objects; these functions let it
compute keys, subsets and mappings for an asset it has never imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.partitions.base import PartitionsDefinition
from assay.partitions.dynamic import DynamicPartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition
from assay.partitions.mapping import (
    AllPartitionMapping,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
    PartitionMapping,
    StaticPartitionMapping,
    TimeWindowPartitionMapping,
)
from assay.partitions.multi import MultiPartitionsDefinition
from assay.partitions.static import StaticPartitionsDefinition
from assay.partitions.time_window import TimeWindowPartitionsDefinition

__all__ = ["partition_mapping_from_snapshot", "partitions_def_from_snapshot"]


def partitions_def_from_snapshot(data: Mapping[str, Any]) -> PartitionsDefinition:
    """The definition described by ``PartitionsDefinition.to_snapshot()``."""
    kind = data.get("type")
    if kind == "time_window":
        return TimeWindowPartitionsDefinition(
            cron_schedule=data["cron_schedule"],
            fmt=data["fmt"],
            start=data["start"],
            end=data["end"],
            timezone=data["timezone"],
            end_offset=data["end_offset"],
        )
    if kind == "static":
        return StaticPartitionsDefinition(data["partition_keys"])
    if kind == "dynamic":
        return DynamicPartitionsDefinition(name=data["name"])
    if kind == "multi":
        return MultiPartitionsDefinition(
            {name: partitions_def_from_snapshot(d) for name, d in data["dimensions"].items()}
        )
    raise InvalidPartitionsDefinition(f"unknown partitions definition snapshot type {kind!r}")


def partition_mapping_from_snapshot(data: Mapping[str, Any]) -> PartitionMapping:
    """The mapping described by ``PartitionMapping.to_snapshot()``."""
    kind = data.get("type")
    simple: dict[str, type[PartitionMapping]] = {
        "IdentityPartitionMapping": IdentityPartitionMapping,
        "AllPartitionMapping": AllPartitionMapping,
        "LastPartitionMapping": LastPartitionMapping,
    }
    if kind in simple:
        return simple[kind]()
    if kind == "TimeWindowPartitionMapping":
        return TimeWindowPartitionMapping(data["start_offset"], data["end_offset"])
    if kind == "StaticPartitionMapping":
        return StaticPartitionMapping(data["upstream_partition_keys_by_downstream_partition_key"])
    if kind == "MultiToSingleDimensionPartitionMapping":
        return MultiToSingleDimensionPartitionMapping(data["partition_dimension_name"])
    if kind == "MultiPartitionMapping":
        return MultiPartitionMapping(
            {
                name: DimensionPartitionMapping(
                    rule["dimension_name"],
                    partition_mapping_from_snapshot(rule["partition_mapping"]),
                )
                for name, rule in data["downstream_mappings_by_upstream_dimension"].items()
            }
        )
    raise InvalidPartitionsDefinition(f"unknown partition mapping snapshot type {kind!r}")
