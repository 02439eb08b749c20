"""A versioned, JSON-serialisable description of a code location's definitions.

This, never data, is what an agent uploads: assets (keys, dependencies, ownership, code
versions, partitions and mappings, freshness and backfill policies, automation conditions
as trees, column lineage), checks, jobs, resource names, and schedule and sensor specs,
enough for the control plane's daemon to tick them and evaluate automation without
importing the code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from assay.column_lineage import column_lineage_to_snapshot
from assay.definitions.definitions import Definitions
from assay.definitions.results import normalize_metadata
from assay.definitions.targets import selection_of
from assay.errors import AssayError
from assay.graph import AssetGraph, AssetNode
from assay.graph_partitions import partition_mapping_for

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class AssetSnapshot:
    key: str
    deps: list[str]
    group: str
    owners: list[str]
    tags: dict[str, str]
    kinds: list[str]
    description: str | None
    metadata: dict[str, Any]
    code_version: str | None
    is_external: bool
    is_observable: bool
    compute_name: str | None
    partitions: Any = None
    automation_condition: Any = None
    freshness_policy: Any = None
    backfill_policy: Any = None
    # Parent key -> the partition mapping on that edge, for edges with a partitioned side.
    partition_mappings: dict[str, Any] = field(default_factory=dict)
    # [{"column", "upstream": [{"asset": key, "column": name}]}]: names only, never values.
    column_lineage: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckSnapshot:
    asset_key: str
    name: str
    blocking: bool
    description: str | None


@dataclass(frozen=True)
class JobSnapshot:
    name: str
    selection: str


@dataclass(frozen=True)
class DefinitionsSnapshot:
    """Everything the control plane may know about a code location."""

    version: int
    assets: list[AssetSnapshot]
    checks: list[CheckSnapshot]
    jobs: list[JobSnapshot]
    schedules: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    # What a daemon needs to tick them without importing the code location.
    schedule_specs: list[dict[str, Any]] = field(default_factory=list)
    sensor_specs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def snapshot_id(self) -> str:
        """A content hash: equal definitions give equal ids, so uploads can be deduplicated."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefinitionsSnapshot:
        version = data.get("version")
        if version != SNAPSHOT_VERSION:
            raise AssayError(
                f"snapshot version {version!r} is not supported "
                f"(this Assay reads version {SNAPSHOT_VERSION})"
            )
        return cls(
            version=version,
            assets=[AssetSnapshot(**_known(AssetSnapshot, a)) for a in data["assets"]],
            checks=[CheckSnapshot(**c) for c in data["checks"]],
            jobs=[JobSnapshot(**j) for j in data["jobs"]],
            schedules=list(data.get("schedules", [])),
            sensors=list(data.get("sensors", [])),
            resources=list(data.get("resources", [])),
            schedule_specs=list(data.get("schedule_specs", [])),
            sensor_specs=list(data.get("sensor_specs", [])),
        )

    @classmethod
    def from_json(cls, text: str) -> DefinitionsSnapshot:
        return cls.from_dict(json.loads(text))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The fields `cls` has: a newer SDK may add fields (never change them) within a version."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _describe(obj: Any) -> Any:
    """Opaque definitions (partitions, conditions) describe themselves via `to_snapshot()`."""
    if obj is None:
        return None
    to_snapshot = getattr(obj, "to_snapshot", None)
    if callable(to_snapshot):
        return normalize_metadata({"value": to_snapshot()})["value"]
    return {"type": type(obj).__name__, "repr": repr(obj)}


def _partition_mappings(graph: AssetGraph, node: AssetNode) -> dict[str, Any]:
    """The mapping of each edge into `node` that has a partitioned side."""
    if not graph.has_partitions or node.assets_def is None:
        return {}
    pdef = node.spec.partitions_def
    out = {}
    for parent in node.parents:
        if pdef is None and graph.nodes[parent].spec.partitions_def is None:
            continue
        mapping = partition_mapping_for(graph, node.assets_def.name, pdef, parent)
        out[parent.to_user_string()] = _describe(mapping)
    return out


def build_snapshot(defs: Definitions) -> DefinitionsSnapshot:
    """Describe `defs` for upload; contains no data and no secrets (resource names only)."""
    graph = defs.asset_graph
    assets = []
    for key in graph.toposorted:
        node = graph.nodes[key]
        spec = node.spec
        assets.append(
            AssetSnapshot(
                key=key.to_user_string(),
                deps=[p.to_user_string() for p in node.parents],
                group=spec.group_name or "default",
                owners=list(spec.owners),
                tags=dict(spec.tags),
                kinds=sorted(spec.kinds),
                description=spec.description,
                metadata=normalize_metadata(spec.metadata),
                code_version=spec.code_version,
                is_external=node.is_external,
                is_observable=node.is_observable,
                compute_name=node.assets_def.name if node.assets_def else None,
                partitions=_describe(spec.partitions_def),
                automation_condition=_describe(spec.automation_condition),
                freshness_policy=_describe(spec.freshness_policy),
                backfill_policy=_describe(
                    node.assets_def.backfill_policy if node.assets_def else None
                ),
                partition_mappings=_partition_mappings(graph, node),
                column_lineage=column_lineage_to_snapshot(spec.column_lineage),
            )
        )
    checks = [
        CheckSnapshot(c.asset_key.to_user_string(), c.spec.name, c.blocking, c.spec.description)
        for c in defs.asset_checks
    ]
    for assets_def in graph.assets_defs.values():
        for spec in assets_def.check_specs:
            checks.append(
                CheckSnapshot(
                    spec.asset.to_user_string(), spec.name, spec.blocking, spec.description
                )
            )
    return DefinitionsSnapshot(
        version=SNAPSHOT_VERSION,
        assets=assets,
        checks=checks,
        jobs=[JobSnapshot(j.name, j.selection) for j in defs.jobs],
        schedules=[s.name for s in defs.schedules],
        sensors=[s.name for s in defs.sensors],
        resources=sorted(defs.resources),
        schedule_specs=[
            {
                "name": s.name,
                "cron_schedule": s.cron_schedule,
                "execution_timezone": s.execution_timezone,
                "selection": selection_of(s.target, defs.jobs),
                "partitions": _describe(s.partitions_def),
                "has_function": s.execution_fn is not None,
                "tags": dict(s.tags),
                "default_status": str(s.default_status),
            }
            for s in defs.schedules
        ],
        sensor_specs=[
            {
                "name": s.name,
                "minimum_interval_seconds": s.minimum_interval_seconds,
                "selection": selection_of(s.target, defs.jobs),
                "default_status": str(s.default_status),
            }
            for s in defs.sensors
        ],
    )
