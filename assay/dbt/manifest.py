"""A dbt project and its manifest, read as Assay asset specs and check specs.

Reading a manifest needs no dbt import (fast: a 1,000-model manifest loads in well under
a second); only compiling one (`DbtProject.manifest` when it is missing or older than the
project's files) runs dbt's `parse`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetSpec
from assay.definitions.checks import AssetCheckSpec
from assay.errors import DefinitionError

if TYPE_CHECKING:
    from assay.dbt.lineage import ModelLineage

ASSET_TYPES = frozenset({"model", "seed", "snapshot"})
_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "profiles.yml")
_PROJECT_DIRS = ("models", "seeds", "snapshots", "macros", "tests")


@dataclass(frozen=True)
class DbtProject:
    """Where a dbt project lives and where dbt may write (target/ and logs/ stay out of it).

    `target_path` defaults to ``$ASSAY_DBT_TARGET_PATH`` or ``<project>/target``.
    """

    project_dir: Path
    profiles_dir: Path | None = None
    target_path: Path | None = None
    target: str | None = None

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        *,
        profiles_dir: str | os.PathLike[str] | None = None,
        target_path: str | os.PathLike[str] | None = None,
        target: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "project_dir", Path(project_dir).resolve())
        set_(self, "profiles_dir", Path(profiles_dir).resolve() if profiles_dir else None)
        default_target = os.environ.get("ASSAY_DBT_TARGET_PATH")
        chosen = target_path or default_target or self.project_dir / "target"
        set_(self, "target_path", Path(chosen).resolve())
        set_(self, "target", target)
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise DefinitionError(f"no dbt_project.yml in {self.project_dir}")

    @property
    def manifest_path(self) -> Path:
        assert self.target_path is not None
        return self.target_path / "manifest.json"

    def cli_args(self) -> list[str]:
        """The flags every dbt command of this project takes."""
        assert self.target_path is not None
        args = ["--project-dir", str(self.project_dir), "--target-path", str(self.target_path)]
        args += ["--log-path", str(self.target_path / "logs")]
        args += ["--profiles-dir", str(self.profiles_dir or self.project_dir)]
        if self.target:
            args += ["--target", self.target]
        return args

    def is_manifest_current(self) -> bool:
        """Whether manifest.json exists and is newer than every project file."""
        path = self.manifest_path
        if not path.is_file():
            return False
        built = path.stat().st_mtime
        for name in _PROJECT_FILES:
            file = self.project_dir / name
            if file.is_file() and file.stat().st_mtime > built:
                return False
        for name in _PROJECT_DIRS:
            for file in (self.project_dir / name).rglob("*"):
                if file.is_file() and file.stat().st_mtime > built:
                    return False
        return True

    def manifest(self) -> DbtManifest:
        """The project's manifest, compiled with `dbt parse` when missing or stale."""
        if not self.is_manifest_current():
            from assay.dbt.cli import run_dbt

            run_dbt(["parse", "--quiet", *self.cli_args()])
        return DbtManifest.load(self.manifest_path)


@dataclass
class DbtNode:
    """One model, seed or snapshot as Assay sees it."""

    unique_id: str
    key: AssetKey
    resource_type: str
    selector: str  # its fqn, for `dbt build --select`


@dataclass
class DbtManifest:
    """A parsed manifest.json: the nodes Assay turns into assets, sources and tests."""

    raw: Mapping[str, Any]
    key_prefix: tuple[str, ...] = ()
    nodes: dict[str, DbtNode] = field(default_factory=dict)
    path: Path | None = None  # where it was read from (dbt's catalog.json sits beside it)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DbtManifest:
        try:
            with open(path, "rb") as f:
                raw = json.load(f)
        except FileNotFoundError:
            raise DefinitionError(f"no dbt manifest at {path}: run `dbt parse` first") from None
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"{path} is not a dbt manifest: {exc}") from None
        if not isinstance(raw, dict) or "nodes" not in raw:
            raise DefinitionError(f"{path} is not a dbt manifest (no 'nodes')")
        return cls(raw, path=Path(path))

    def catalog(self) -> Mapping[str, Any] | None:
        """dbt's catalog.json beside the manifest (``dbt docs generate``), when there is one."""
        from assay.dbt.lineage import load_catalog

        return load_catalog(self.path.parent / "catalog.json") if self.path else None

    def key_of(self, unique_id: str) -> AssetKey | None:
        """The asset key of a model, seed, snapshot or source; None for anything else."""
        node = self.raw["nodes"].get(unique_id)
        if node is not None:
            if node["resource_type"] not in ASSET_TYPES:
                return None
            return AssetKey([*self.key_prefix, node["name"]])
        source = self.raw.get("sources", {}).get(unique_id)
        if source is not None:
            return AssetKey([*self.key_prefix, source["source_name"], source["name"]])
        return None

    def asset_nodes(
        self, select: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """The models, seeds and snapshots matching `select` (all if None) but not `exclude`."""
        terms = list(select or ())
        excluded = list(exclude or ())
        out = []
        for node in self.raw["nodes"].values():
            if node["resource_type"] not in ASSET_TYPES:
                continue
            if node.get("config", {}).get("materialized") == "ephemeral":
                continue  # compiled into its dependents; nothing of its own to track
            if terms and not any(_matches(node, t) for t in terms):
                continue
            if any(_matches(node, t) for t in excluded):
                continue
            out.append(node)
        return out

    def _owners(self, node: Mapping[str, Any]) -> list[str]:
        owners: list[str] = []
        owner = (node.get("config", {}).get("meta") or node.get("meta") or {}).get("owner")
        if isinstance(owner, str):
            owners.append(owner)
        elif isinstance(owner, list):
            owners.extend(str(o) for o in owner)
        group = node.get("config", {}).get("group") or node.get("group")
        if group:
            groups = self.raw.get("groups", {})
            info = groups.get(f"group.{node['package_name']}.{group}", {}).get("owner", {})
            if info.get("email"):
                owners.append(info["email"])
        return list(dict.fromkeys(owners))

    def asset_spec(
        self, node: Mapping[str, Any], *, lineage: ModelLineage | None = None
    ) -> AssetSpec:
        """The spec of a model, seed or snapshot: deps, group, owners, tags, code version,
        and its column lineage when `lineage` traces it."""
        key = self.key_of(node["unique_id"])
        assert key is not None
        deps = [
            k for k in (self.key_of(u) for u in node.get("depends_on", {}).get("nodes", ())) if k
        ]
        config = node.get("config", {})
        adapter = self.raw.get("metadata", {}).get("adapter_type")
        metadata: dict[str, Any] = {
            "dbt/unique_id": node["unique_id"],
            "dbt/resource_type": node["resource_type"],
            "dbt/path": node.get("original_file_path"),
        }
        if config.get("materialized"):
            metadata["dbt/materialized"] = config["materialized"]
        if node.get("relation_name"):
            metadata["dbt/relation"] = node["relation_name"]
        return AssetSpec(
            key,
            deps=deps,
            description=node.get("description") or None,
            metadata=metadata,
            group_name=config.get("group") or node.get("group") or None,
            owners=self._owners(node),
            tags={str(t): "" for t in config.get("tags") or node.get("tags") or ()},
            kinds={"dbt", *([adapter] if adapter else [])},
            code_version=(node.get("checksum") or {}).get("checksum"),
            column_lineage=lineage.of(node) if lineage is not None else None,
        )

    def source_specs(self) -> list[AssetSpec]:
        """Every dbt source as an external asset (Assay tracks it; dbt does not build it)."""
        specs = []
        for source in self.raw.get("sources", {}).values():
            key = self.key_of(source["unique_id"])
            assert key is not None
            specs.append(
                AssetSpec(
                    key,
                    description=source.get("description") or source.get("source_description"),
                    metadata={
                        "dbt/unique_id": source["unique_id"],
                        "dbt/relation": source.get("relation_name"),
                    },
                    tags={str(t): "" for t in source.get("tags") or ()},
                    kinds={"dbt", "source"},
                )
            )
        return specs

    def test_nodes(self, asset_ids: set[str]) -> list[tuple[dict[str, Any], AssetKey]]:
        """The dbt tests on the given nodes, each with the asset it checks."""
        out = []
        for node in self.raw["nodes"].values():
            if node["resource_type"] != "test":
                continue
            target = node.get("attached_node")
            if target is None:  # a singular test: it checks the first node it reads
                parents = [p for p in node.get("depends_on", {}).get("nodes", ()) if p in asset_ids]
                target = parents[0] if parents else None
            if target in asset_ids:
                key = self.key_of(target)
                assert key is not None
                out.append((node, key))
        return out

    @staticmethod
    def check_spec(test: Mapping[str, Any], key: AssetKey) -> AssetCheckSpec:
        """A dbt test as a check; an error-severity test blocks (dbt skips downstream too)."""
        meta = test.get("test_metadata") or {}
        what = meta.get("name") or "singular test"
        column = test.get("column_name")
        description = test.get("description") or (
            f"dbt {what} test" + (f" on column {column}" if column else "")
        )
        return AssetCheckSpec(
            test["name"],
            asset=key,
            description=description,
            blocking=severity_of(test) == "ERROR",
        )


def severity_of(test: Mapping[str, Any]) -> str:
    """ERROR or WARN, from the test's config (dbt writes it in either case)."""
    return str(test.get("config", {}).get("severity") or "ERROR").upper()


def _matches(node: Mapping[str, Any], term: str) -> bool:
    """A small part of dbt's selection syntax: `tag:x`, `resource_type:x`, `path:x`, names."""
    method, _, value = term.partition(":")
    if not value:
        return node["name"] == term or ".".join(node.get("fqn", ())) == term
    if method == "tag":
        return value in (node.get("config", {}).get("tags") or node.get("tags") or ())
    if method == "resource_type":
        return node["resource_type"] == value
    if method == "path":
        return str(node.get("original_file_path", "")).startswith(value)
    raise DefinitionError(
        f"dbt selection term '{term}' is not supported here: use tag:, resource_type:, path: "
        "or a node name"
    )
