"""Dynamic partition keys per deployment: added and deleted by sensors, read by the run
launcher, automation and backfills through the SDK's ``DynamicPartitionsStore`` protocol."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from django.db import transaction

from assay.partitions import (
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    PartitionsError,
)
from assay.partitions.snapshot import partitions_def_from_snapshot
from control_plane.catalog.models import AssetDefinition, DynamicPartition
from control_plane.tenancy.models import Deployment

MAX_KEY_LENGTH = 255


class DeploymentDynamicPartitions:
    """One deployment's dynamic partitions; reads are cached per instance (one tick)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._keys: dict[str, list[str]] = {}
        self._key_sets: dict[str, frozenset[str]] = {}  # membership per key, in O(1)

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        if partitions_def_name not in self._keys:
            self._keys[partitions_def_name] = list(
                DynamicPartition.objects.filter(
                    deployment=self.deployment, partitions_def_name=partitions_def_name
                )
                .order_by("created_at", "id")
                .values_list("key", flat=True)
            )
        return self._keys[partitions_def_name]

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        if partitions_def_name not in self._key_sets:
            keys = self.get_dynamic_partitions(partitions_def_name)
            self._key_sets[partitions_def_name] = frozenset(keys)
        return partition_key in self._key_sets[partitions_def_name]

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Iterable[str]
    ) -> None:
        """Add keys (existing ones are left alone), in the caller's transaction."""
        keys = list(dict.fromkeys(partition_keys))
        for key in keys:
            if not key or len(key) > MAX_KEY_LENGTH or "|" in key:
                raise ValueError(
                    f"dynamic partition key {key!r} must be 1-{MAX_KEY_LENGTH} characters "
                    "without '|'"
                )
        with transaction.atomic():
            DynamicPartition.objects.bulk_create(
                [
                    DynamicPartition(
                        organization_id=self.deployment.organization_id,
                        deployment=self.deployment,
                        partitions_def_name=partitions_def_name,
                        key=key,
                    )
                    for key in keys
                ],
                ignore_conflicts=True,
            )
        self._keys.pop(partitions_def_name, None)
        self._key_sets.pop(partitions_def_name, None)

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        DynamicPartition.objects.filter(
            deployment=self.deployment, partitions_def_name=partitions_def_name, key=partition_key
        ).delete()
        self._keys.pop(partitions_def_name, None)
        self._key_sets.pop(partitions_def_name, None)


def dynamic_keys_for_snapshot(*, deployment: Deployment, snapshot_id: str) -> dict[str, list[str]]:
    """The keys of every dynamic partitions definition a location snapshot's assets use,
    as the deployment holds them now: what a launch sends the agent, which holds none."""
    names = _dynamic_names(snapshot_id)
    if not names:
        return {}
    keys: dict[str, list[str]] = {name: [] for name in names}
    rows = (
        DynamicPartition.objects.filter(deployment=deployment, partitions_def_name__in=names)
        .order_by("created_at", "id")
        .values_list("partitions_def_name", "key")
    )
    for name, key in rows:
        keys[name].append(key)
    return keys


@lru_cache(maxsize=1024)
def _dynamic_names(snapshot_id: str) -> tuple[str, ...]:
    """Names of the dynamic definitions in a snapshot; its id is a content hash, so the
    answer never changes (read in the caller's tenant context)."""
    distinct = (
        AssetDefinition.objects.filter(snapshot__snapshot_id=snapshot_id, is_partitioned=True)
        .values_list("partitions", flat=True)
        .distinct()
    )
    names: set[str] = set()
    for data in distinct:
        try:
            definition = partitions_def_from_snapshot(data)
        except (PartitionsError, KeyError, TypeError, ValueError):
            continue
        dimensions = (
            [d.partitions_def for d in definition.partitions_dimensions]
            if isinstance(definition, MultiPartitionsDefinition)
            else [definition]
        )
        names.update(d.name for d in dimensions if isinstance(d, DynamicPartitionsDefinition))
    return tuple(sorted(names))
