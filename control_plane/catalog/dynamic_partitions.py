"""Dynamic partition keys per deployment: added and deleted by sensors, read by the run
launcher, automation and backfills through the SDK's ``DynamicPartitionsStore`` protocol."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction

from control_plane.catalog.models import DynamicPartition
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
