"""Definitions: everything one code location exports, validated when it is built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.definitions.assets import AssetsDefinition, AssetSpec
from assay.definitions.checks import AssetChecksDefinition
from assay.definitions.jobs import AssetJob
from assay.errors import DefinitionError, DuplicateKeyError
from assay.graph import AssetGraph


class Definitions:
    """The object a code location exports: assets, checks, resources, jobs, schedules, sensors.

    Building it validates the asset graph (duplicate keys, unknown deps, cycles),
    so a broken code location fails at load time with the offending keys named.
    """

    def __init__(
        self,
        *,
        assets: Iterable[AssetsDefinition | AssetSpec] | None = None,
        asset_checks: Iterable[AssetChecksDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
        schedules: Iterable[Any] | None = None,
        sensors: Iterable[Any] | None = None,
        jobs: Iterable[AssetJob] | None = None,
    ) -> None:
        self.assets: list[AssetsDefinition | AssetSpec] = []
        checks = list(asset_checks or ())
        for item in assets or ():
            # Tolerate checks in the assets list: people put them there.
            if isinstance(item, AssetChecksDefinition):
                checks.append(item)
            else:
                self.assets.append(item)
        self.asset_checks: list[AssetChecksDefinition] = checks
        self.resources: dict[str, Any] = dict(resources or {})
        self.schedules: list[Any] = list(schedules or ())
        self.sensors: list[Any] = list(sensors or ())
        self.jobs: list[AssetJob] = list(jobs or ())
        for kind, items in (("schedule", self.schedules), ("sensor", self.sensors)):
            _require_unique_names(kind, items)
        _require_unique_names("job", self.jobs)
        self.asset_graph = AssetGraph(self.assets, self.asset_checks, self.resources.keys())
        for job in self.jobs:
            from assay.selection import select_keys

            select_keys(self.asset_graph, job.selection, where=f"job '{job.name}'")
        self._validate_targets()

    def _validate_targets(self) -> None:
        """Schedules and sensors must target a known job or a selection that exists."""
        from assay.definitions.schedules import ScheduleDefinition
        from assay.definitions.sensors import SensorDefinition
        from assay.definitions.targets import validate_target

        for kind, items, cls in (
            ("schedule", self.schedules, ScheduleDefinition),
            ("sensor", self.sensors, SensorDefinition),
        ):
            for item in items:
                if not isinstance(item, cls):
                    raise DefinitionError(
                        f"{item!r} is not a {kind}: use @{kind} or {cls.__name__}(...)"
                    )
                where = f"{kind} '{item.name}'"
                validate_target(self.asset_graph, self.jobs, item.target, where=where)

    def get_asset_graph(self) -> AssetGraph:
        return self.asset_graph

    def get_assets_def(self, key: CoercibleToAssetKey) -> AssetsDefinition:
        node = self.asset_graph.nodes.get(AssetKey.from_coercible(key))
        if node is None or node.assets_def is None:
            raise DefinitionError(f"no materializable asset '{key}'")
        return node.assets_def

    def get_job(self, name: str) -> AssetJob:
        for job in self.jobs:
            if job.name == name:
                return job
        names = ", ".join(j.name for j in self.jobs) or "none defined"
        raise DefinitionError(f"no job named '{name}' (jobs: {names})")

    def __repr__(self) -> str:
        return (
            f"<Definitions: {len(self.asset_graph.nodes)} assets, {len(self.asset_checks)} checks>"
        )


def _require_unique_names(kind: str, items: Sequence[Any]) -> None:
    seen: set[str] = set()
    for item in items:
        name = getattr(item, "name", None)
        if not isinstance(name, str):
            raise DefinitionError(f"{item!r} is not a {kind}: it has no name")
        if name in seen:
            raise DuplicateKeyError(f"two {kind}s are named '{name}'")
        seen.add(name)
