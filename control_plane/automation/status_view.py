"""The SDK's ``StatusView`` over one deployment's catalog, read once per automation tick.

What it reads, all per deployment and in a handful of queries:

- materialized and failed partitions: one compact summary row per asset
  (``catalog.AssetStatusSummary``) plus the changes queued since the last tick
  (``catalog.AssetStatusChange``), folded here with the asset's partitions definition;
  the tick saves the fold in the transaction that saves its cursor;
- storage ids: event-log ids. Queued changes are new to exactly this tick, so one that
  committed late (after a tick saw a higher id) counts as just above the previous
  tick's id instead of being missed;
- in progress: what unfinished runs target (queued, starting, started, canceling),
  minus the asset partitions each has already finished (a materialization, or a step
  that succeeded, failed or was skipped). A run queued by the previous tick is
  therefore in progress for this one, and a child waiting in a started run for its
  parent's step is not taken for idle;
- which assets changed: those with queued changes, those whose in-progress
  partitions differ from what the previous tick saw, and those whose changes were folded
  while automation was off (``AutomationState.updated_while_off``: new to the first tick
  after it is turned on, with the partitions they materialized).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from assay.automation.errors import AutomationError
from assay.automation.status import MaterializationRecord
from assay.automation.subsets import (
    ALL_UNPARTITIONED,
    AssetSubset,
    empty_subset,
    subset_from_serializable,
    subset_of_keys,
    subset_of_known_keys,
    subtract,
    union,
)
from assay.definitions.asset_key import AssetKey
from assay.execution.events import ENDS_PROGRESS, event_types_with
from assay.partitions import (
    DynamicPartitionsStore,
    PartitionKeyRange,
    PartitionsDefinition,
    PartitionsError,
    TimeWindowPartitionsDefinition,
)
from control_plane.catalog import asset_status
from control_plane.catalog.asset_status import StatusChange, Summary
from control_plane.runs.models import EventLogEntry, Run, RunStatus
from control_plane.tenancy.models import Deployment

UNFINISHED_RUNS = (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING)
# Events after which a step's partitions are no longer in progress.
FINISHING_EVENTS = tuple(kind.value for kind in event_types_with(*ENDS_PROGRESS))
_MATERIALIZED = "m"


@dataclass
class _Folded:
    """One asset's status with the queued changes applied."""

    materialized: AssetSubset
    failed: AssetSubset
    last_materialized_at: datetime | None
    changed: bool  # differs from the stored summary


class CatalogStatusView:
    """What automation may know about one deployment, as of the moment it was built.

    ``partitions_defs`` is every asset of the deployment's graph; ``previous_storage_id``
    and ``previous_in_progress`` are what the previous tick saw, and
    ``updated_while_off`` what was folded since without a tick (``AutomationState``).
    """

    def __init__(
        self,
        *,
        deployment: Deployment,
        partitions_defs: Mapping[AssetKey, PartitionsDefinition | None],
        previous_storage_id: int = 0,
        previous_in_progress: Mapping[str, str] | None = None,
        updated_while_off: Mapping[str, str] | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
        now: datetime | None = None,
    ) -> None:
        self.deployment = deployment
        self._defs = partitions_defs
        self._by_name = {key.to_user_string(): key for key in partitions_defs}
        self._store = dynamic_partitions_store
        self._now = now or timezone.now()
        self._previous_storage_id = previous_storage_id
        self._previous_in_progress = dict(previous_in_progress or {})
        self._while_off = dict(updated_while_off or {})
        self._summaries: dict[str, Summary] = asset_status.summaries(deployment=deployment)
        self._changes: dict[str, list[tuple[int, StatusChange]]] = {}
        latest = previous_storage_id
        for change in asset_status.queued_changes(deployment=deployment):
            effective = max(change.storage_id, previous_storage_id + 1)
            self._changes.setdefault(change.asset_key, []).append((effective, change))
            latest = max(latest, effective)
        self._latest = latest
        self._folded: dict[str, _Folded] = {}
        self._updated_since: dict[tuple[AssetKey, float], AssetSubset] = {}
        self._in_progress = self._load_in_progress()

    # -- the StatusView protocol -------------------------------------------------------
    def latest_storage_id(self) -> int:
        return self._latest

    def changed_asset_keys(self, *, after_storage_id: int) -> set[AssetKey]:
        if after_storage_id < self._previous_storage_id:
            # Older than the tick this view follows: what changed in between is folded
            # away, so every asset with any status counts as changed (re-evaluating is safe).
            names = set(self._summaries) | set(self._changes) | set(self.in_progress_state())
            names |= set(self._previous_in_progress) | set(self._while_off)
        else:
            names = {
                name for name, changes in self._changes.items() if changes[-1][0] > after_storage_id
            }
            if after_storage_id <= self._previous_storage_id:
                names |= set(self._while_off)  # folded after the previous tick, so newer
            now = self.in_progress_state()
            previous = self._previous_in_progress
            names |= {n for n in now.keys() | previous.keys() if now.get(n) != previous.get(n)}
        return {self._key(name) for name in names}

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        return self._fold(key, partitions_def).materialized

    def updated_subset(
        self,
        key: AssetKey,
        partitions_def: PartitionsDefinition | None,
        *,
        after_storage_id: int,
    ) -> AssetSubset:
        name = key.to_user_string()
        changes = self._changes.get(name)
        queued = (
            _to_subset(
                partitions_def,
                (
                    c.partition
                    for sid, c in changes
                    if c.kind == _MATERIALIZED and sid > after_storage_id
                ),
            )
            if changes
            else empty_subset(partitions_def)
        )
        while_off = self._while_off.get(name)
        if not while_off or after_storage_id > self._previous_storage_id:
            return queued
        try:
            return union(queued, _decode(while_off, partitions_def))
        except AutomationError:  # re-partitioned since: its changed partitions are unknown
            return queued

    def updated_since_time(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, *, timestamp: float
    ) -> AssetSubset:
        # Asked once per dependency edge: the children of one parent share the answer.
        found = self._updated_since.get((key, timestamp))
        if found is not None:
            return found
        last = self._fold(key, partitions_def).last_materialized_at
        if last is None or last.timestamp() < timestamp:
            found = empty_subset(partitions_def)
        else:
            since = datetime.fromtimestamp(timestamp, tz=UTC)
            found = _to_subset(
                partitions_def,
                asset_status.partitions_materialized_since(
                    deployment=self.deployment, asset_key=key.to_user_string(), since=since
                ),
            )
        self._updated_since[(key, timestamp)] = found
        return found

    def in_progress_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        found = self._in_progress.get(key)
        return empty_subset(partitions_def) if found is None else found

    def failed_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        return self._fold(key, partitions_def).failed

    def latest_materialization(
        self, key: AssetKey, partition: str | None = None
    ) -> MaterializationRecord | None:
        found = asset_status.latest_materialization(
            deployment=self.deployment, asset_key=key.to_user_string(), partition=partition or ""
        )
        if found is None:
            return None
        storage_id = (
            EventLogEntry.objects.filter(event_id=found.event_id)
            .values_list("pk", flat=True)
            .first()
        )
        return MaterializationRecord(
            key,
            partition,
            storage_id or 0,
            found.timestamp.timestamp(),
            found.run_id,
            found.code_version or None,
        )

    # -- what the tick saves -----------------------------------------------------------
    def in_progress_state(self) -> dict[str, str]:
        """``{asset key: subset JSON}`` of what is in progress now (the next tick's diff)."""
        return {key.to_user_string(): _encode(subset) for key, subset in self._in_progress.items()}

    def folded_summaries(self) -> tuple[list[Summary], list[int]]:
        """Summaries that changed, and the queued changes they absorbed (to delete).

        Changes of assets not in the current definitions stay queued: their partitions
        cannot be placed without a definition, and the asset may come back.
        """
        consumed: list[int] = []
        for name, changes in self._changes.items():
            key = self._by_name.get(name)
            if key is None:
                continue
            self._fold(key, self._defs[key])
            consumed.extend(change.storage_id for _, change in changes)
        summaries = [
            Summary(name, _encode(f.materialized), _encode(f.failed), f.last_materialized_at)
            for name, f in self._folded.items()
            if f.changed
        ]
        return summaries, consumed

    def updated_while_off_state(self) -> dict[str, str]:
        """What a fold while automation is off leaves for the first tick after it is on:
        every asset with changes so far, with the partitions they materialized."""
        kept = dict(self._while_off)
        for name in self._changes:
            key = self._by_name.get(name)
            if key is not None:  # the others stay queued (see ``folded_summaries``)
                pd = self._defs[key]
                updated = self.updated_subset(key, pd, after_storage_id=self._previous_storage_id)
                kept[name] = _encode(updated)
        return kept

    # -- internals ---------------------------------------------------------------------
    def _key(self, name: str) -> AssetKey:
        key = self._by_name.get(name)
        return AssetKey.from_user_string(name) if key is None else key

    def _fold(self, key: AssetKey, partitions_def: PartitionsDefinition | None) -> _Folded:
        name = key.to_user_string()
        folded = self._folded.get(name)
        if folded is not None:
            return folded
        summary = self._summaries.get(name)
        rebuilt = False
        if summary is None:
            materialized = failed = empty_subset(partitions_def)
            last = None
        else:
            last = summary.last_materialized_at
            try:
                materialized = _decode(summary.materialized, partitions_def)
                failed = _decode(summary.failed, partitions_def)
            except AutomationError:  # the asset's partitioning changed shape
                materialized = _to_subset(
                    partitions_def,
                    asset_status.materialized_partitions(
                        deployment=self.deployment, asset_key=name
                    ),
                )
                failed = _to_subset(
                    partitions_def,
                    asset_status.failed_partitions(deployment=self.deployment, asset_key=name),
                )
                rebuilt = True
        changes = self._changes.get(name)
        if changes:
            done: set[str] = set()
            latest_kind: dict[str, str] = {}
            for _, change in changes:
                for partition in _partitions_of(change, partitions_def):
                    latest_kind[partition] = change.kind
                    if change.kind == _MATERIALIZED:
                        done.add(partition)
                        if last is None or change.timestamp > last:
                            last = change.timestamp
            now_done = _to_subset(partitions_def, done)
            now_failed = _to_subset(partitions_def, (p for p, k in latest_kind.items() if k != "m"))
            materialized = union(materialized, now_done)
            failed = union(subtract(failed, now_done), now_failed)
        folded = _Folded(materialized, failed, last, changed=rebuilt or bool(changes))
        self._folded[name] = folded
        return folded

    def _load_in_progress(self) -> dict[AssetKey, AssetSubset]:
        runs = list(
            Run.objects.filter(deployment=self.deployment, status__in=UNFINISHED_RUNS).values_list(
                "id",
                "status",
                "asset_keys",
                "partition_key",
                "partition_range_start",
                "partition_range_end",
            )
        )
        if not runs:
            return {}
        finished: dict[object, dict[str, set[str]]] = {}
        started = [run[0] for run in runs if run[1] != RunStatus.QUEUED]
        if started:
            rows = (
                EventLogEntry.objects.filter(run_id__in=started, event_type__in=FINISHING_EVENTS)
                .exclude(asset_key="")
                .values_list("run_id", "asset_key", "partition")
            )
            for run_id, name, partition in rows:
                finished.setdefault(run_id, {}).setdefault(name, set()).add(partition)
        result: dict[AssetKey, AssetSubset] = {}
        for run_id, _, names, partition_key, range_start, range_end in runs:
            done = finished.get(run_id, {})
            for name in names:
                key = self._by_name.get(name)
                if key is None:
                    continue
                pd = self._defs[key]
                target = self._target(pd, partition_key, range_start, range_end)
                finished_parts = done.get(name)
                if target and finished_parts:
                    if pd is None or "" in finished_parts:
                        continue  # the asset's whole share of the run is done
                    target = subtract(target, _to_subset(pd, finished_parts))
                if target:
                    previous = result.get(key)
                    result[key] = target if previous is None else union(previous, target)
        return result

    def _target(
        self, pd: PartitionsDefinition | None, partition_key: str, start: str, end: str
    ) -> AssetSubset:
        """The partitions of an asset with ``pd`` that a run covers."""
        if pd is None:
            return ALL_UNPARTITIONED
        if partition_key:
            return _to_subset(pd, [partition_key])
        if not (start and end):
            return empty_subset(pd)
        try:
            if isinstance(pd, TimeWindowPartitionsDefinition):
                keys = pd.get_partition_keys_in_range(PartitionKeyRange(start, end))
            else:
                every = list(pd.get_partition_keys(self._now, self._store))
                keys = every[every.index(start) : every.index(end) + 1]
        except (PartitionsError, ValueError):
            return empty_subset(pd)
        return _to_subset(pd, keys)


def _encode(subset: AssetSubset) -> str:
    return json.dumps(subset.to_serializable(), separators=(",", ":")) if subset else ""


def _decode(text: str, partitions_def: PartitionsDefinition | None) -> AssetSubset:
    """A stored subset; raises AutomationError when it no longer fits the definition."""
    if not text:
        return empty_subset(partitions_def)
    return subset_from_serializable(json.loads(text), partitions_def)


def _partitions_of(
    change: StatusChange, partitions_def: PartitionsDefinition | None
) -> Iterable[str]:
    """The partitions a change is about: its own, or those of a step over several (a
    subset of another shape, from before the asset was re-partitioned, counts for none)."""
    if change.partition or change.partition_subset is None or partitions_def is None:
        return (change.partition,)
    try:
        return list(partitions_def.subset_from_serializable(change.partition_subset))
    except (PartitionsError, KeyError, TypeError, ValueError):
        return ()


def _to_subset(
    partitions_def: PartitionsDefinition | None, partitions: Iterable[str]
) -> AssetSubset:
    """Partition keys to a subset, dropping keys of another shape (as the local instance
    does): an unpartitioned asset counts only rows without a partition."""
    if partitions_def is None:
        return subset_of_keys(None, (p for p in partitions if p == ""))
    keys = [p for p in partitions if p]
    if not keys:
        return empty_subset(partitions_def)
    return subset_of_known_keys(partitions_def, keys)
