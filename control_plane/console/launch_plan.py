"""What launching a selection without a partition does when some of it is partitioned.

One run cannot hold it: an unpartitioned asset downstream of a partitioned one reads every
partition, and one run materializes one partition (or one range) of the partitioned ones.
The console's answer, said in the launch preview before anything runs: a selection whose
partitioned assets share one partitions definition is launched as a backfill of all of its
partitions (the unpartitioned assets run once, after the partitions they read); assets
partitioned differently, or in two dimensions, need a range chosen by the person.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from assay.definitions.asset_key import AssetKey
from assay.partitions import MultiPartitionsDefinition
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.tenancy.models import Deployment


@dataclass(frozen=True)
class WholeRange:
    """The partitioned part of a selection and the range launching it without one covers
    (``problem``: why there is no such range; then the person must choose one)."""

    partitioned: list[str]
    unpartitioned: list[str]
    first: str = ""
    last: str = ""
    count: int = 0
    problem: str = ""


def whole_range(*, graph, deployment: Deployment, keys: list[str]) -> WholeRange | None:
    """``None`` when nothing in ``keys`` is partitioned (a plain run)."""
    partitioned: dict[str, object] = {}  # key -> its partitions definition
    unpartitioned = []
    for key in keys:
        node = graph.nodes.get(AssetKey.from_user_string(key))
        definition = node.spec.partitions_def if node is not None else None
        if definition is None:
            unpartitioned.append(key)
        else:
            partitioned[key] = definition
    if not partitioned:
        return None
    names = sorted(partitioned)
    distinct: list = []
    for definition in partitioned.values():
        if definition not in distinct:
            distinct.append(definition)
    shown = ", ".join(names[:5])
    if len(distinct) > 1:
        problem = (
            f"{shown} are partitioned differently: choose a partition range "
            "(or select assets of one partitions definition)"
        )
        return WholeRange(names, unpartitioned, problem=problem)
    (definition,) = distinct
    if isinstance(definition, MultiPartitionsDefinition):
        return WholeRange(
            names, unpartitioned, problem=f"{shown}: partitioned in two dimensions; choose a range"
        )
    found = [
        str(k)
        for k in definition.get_partition_keys(  # type: ignore[attr-defined]
            timezone.now(), DeploymentDynamicPartitions(deployment)
        )
    ]
    if not found:
        return WholeRange(names, unpartitioned, problem=f"{shown} has no partition yet")
    return WholeRange(names, unpartitioned, first=found[0], last=found[-1], count=len(found))
