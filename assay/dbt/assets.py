"""`@dbt_assets`: a dbt project's models, seeds and snapshots as one subsettable multi-asset."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from assay.dbt.lineage import ModelLineage
from assay.dbt.manifest import DbtManifest, DbtNode, DbtProject, severity_of
from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetsDefinition, AssetSpec, coerce_deps
from assay.errors import DefinitionError


class DbtAssetsDefinition(AssetsDefinition):
    """The multi-asset `@dbt_assets` builds, plus what its runs need from the manifest."""

    manifest: DbtManifest
    project: DbtProject | None
    dbt_nodes: dict[str, DbtNode]
    dbt_tests: dict[str, tuple[AssetKey, str, str]]  # test id -> (asset, check name, severity)
    vars_for_partition: Callable[[Any], dict[str, Any]]

    def project_args(self) -> list[str]:
        if self.project is None:
            raise DefinitionError(
                f"'{self.name}' was built from a manifest alone; give project_dir= to run dbt"
            )
        return self.project.cli_args()

    def source_specs(self, *, provided: Iterable[Any] = ()) -> list[AssetSpec]:
        """The project's sources as external assets, except those another asset provides.

        Pass the Python assets that load a source's table as `provided`, so the source is
        their asset (and dbt's models depend on it) rather than a second definition.
        """
        taken = set(coerce_deps(provided))
        return [s for s in self.manifest.source_specs() if s.key not in taken]


def dbt_assets(
    *,
    manifest: str | os.PathLike[str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    profiles_dir: str | os.PathLike[str] | None = None,
    target_path: str | os.PathLike[str] | None = None,
    target: str | None = None,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    partitions_def: Any = None,
    partition_vars: Callable[[Any], dict[str, Any]] | None = None,
    automation_condition: Any = None,
    freshness_policy: Any = None,
    column_lineage: bool = True,
) -> Callable[[Callable[..., Any]], DbtAssetsDefinition]:
    """Declare a dbt project's nodes as assets; the function runs dbt for a selection.

    The function takes `context` and `dbt` (a `DbtCli`) and usually is one line:
    ``yield from dbt.build(context)``. `manifest=` reads an existing manifest.json;
    `project_dir=` compiles one with `dbt parse` when it is missing or stale (and is needed
    to run). `select` keeps only nodes with these `tag:`/`path:`/`resource_type:` terms or
    names, and `exclude` drops those matching its terms. A partitioned definition passes
    each run's time window to dbt as vars (`min_date`, `max_date`, `min_time`, `max_time`,
    or what `partition_vars` returns). Each model's column lineage is read from its SQL
    (see `assay.dbt.lineage`) unless `column_lineage=False`.
    """
    from assay.dbt.cli import partition_vars as default_partition_vars

    if manifest is None and project_dir is None:
        raise DefinitionError("dbt_assets needs manifest= or project_dir=")
    project = (
        DbtProject(project_dir, profiles_dir=profiles_dir, target_path=target_path, target=target)
        if project_dir is not None
        else None
    )
    loaded = DbtManifest.load(manifest) if manifest is not None else project.manifest()  # type: ignore[union-attr]
    if key_prefix is not None:
        loaded.key_prefix = (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix)

    def decorate(fn: Callable[..., Any]) -> DbtAssetsDefinition:
        nodes = loaded.asset_nodes(select, exclude)
        if not nodes:
            raise DefinitionError(f"no dbt model, seed or snapshot matches {list(select or ())}")
        specs = []
        dbt_nodes: dict[str, DbtNode] = {}
        lineage = ModelLineage(loaded, loaded.catalog()) if column_lineage else None
        for node in nodes:
            spec = loaded.asset_spec(node, lineage=lineage)
            if partitions_def is not None:
                spec = spec.replace(partitions_def=partitions_def)
            if automation_condition is not None:
                spec = spec.replace(automation_condition=automation_condition)
            if freshness_policy is not None:
                spec = spec.replace(freshness_policy=freshness_policy)
            specs.append(spec)
            selector = ".".join(node.get("fqn") or (node["name"],))
            dbt_nodes[node["unique_id"]] = DbtNode(
                node["unique_id"], spec.key, node["resource_type"], selector
            )
        check_specs = []
        dbt_tests: dict[str, tuple[AssetKey, str, str]] = {}
        for test, key in loaded.test_nodes(set(dbt_nodes)):
            check_specs.append(loaded.check_spec(test, key))
            dbt_tests[test["unique_id"]] = (key, test["name"], severity_of(test))
        wants_cli = len(inspect.signature(fn).parameters) > 1

        @functools.wraps(fn)
        def run(context: Any) -> Any:
            from assay.dbt.cli import DbtCli

            cli = DbtCli(definition)
            result = fn(context, cli) if wants_cli else fn(context)
            return cli.build(context) if result is None else result

        definition = DbtAssetsDefinition(
            fn=run,
            name=name or fn.__name__,
            specs=specs,
            ins={},
            context_param="context",
            io_manager_key="io_manager",
            check_specs=check_specs,
            can_subset=True,
        )
        definition.manifest = loaded
        definition.project = project
        definition.dbt_nodes = dbt_nodes
        definition.dbt_tests = dbt_tests
        definition.vars_for_partition = partition_vars or default_partition_vars
        return definition

    return decorate
