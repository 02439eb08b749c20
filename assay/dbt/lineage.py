"""Column lineage of dbt models, read from the manifest's SQL with `assay.column_lineage`.

A model's SQL is its ``compiled_code`` when dbt compiled it (``dbt compile``, ``build``,
``run``); otherwise its ``raw_code`` when that uses no Jinja but ``ref``, ``source``,
``var`` (with a default), ``config`` and ``is_incremental``, which are rendered here from
the manifest. Upstream tables' columns, which ``select *`` and unqualified columns in joins
need, come from dbt's ``catalog.json`` beside the manifest (``dbt docs generate``), else
the columns documented in the manifest, else the columns traced for the upstream model
itself. A model whose SQL cannot be read loads without lineage (with a warning).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.column_lineage import (
    ColumnDep,
    ColumnLineageError,
    ColumnLineageWarning,
    column_lineage_from_sql,
)
from assay.definitions.asset_key import AssetKey

if TYPE_CHECKING:
    from assay.dbt.manifest import DbtManifest

log = logging.getLogger(__name__)

# dbt adapter -> sqlglot dialect, where the names differ (the rest are the same or unknown).
_DIALECTS = {"sqlserver": "tsql", "synapse": "tsql", "spark": "spark", "glue": "spark"}
_SQLGLOT_DIALECTS = frozenset(
    {
        "athena", "bigquery", "clickhouse", "databricks", "doris", "dremio", "drill", "druid",
        "duckdb", "exasol", "fabric", "hive", "materialize", "mysql", "oracle", "postgres",
        "presto", "redshift", "risingwave", "singlestore", "snowflake", "spark", "sqlite",
        "starrocks", "teradata", "trino", "tsql",
    }
)  # fmt: skip


def dialect_of(adapter: str | None) -> str | None:
    """The sqlglot dialect for a dbt adapter type (None: sqlglot's generic SQL)."""
    if not adapter:
        return None
    name = _DIALECTS.get(adapter, adapter)
    return name if name in _SQLGLOT_DIALECTS else None


def load_catalog(path: Path) -> Mapping[str, Any] | None:
    """dbt's catalog.json at `path`, or None when there is none (or it does not read)."""
    try:
        with open(path, "rb") as f:
            catalog = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        warnings.warn(
            f"{path} is not a dbt catalog, ignored: {exc}", ColumnLineageWarning, stacklevel=2
        )
        return None
    return catalog if isinstance(catalog, dict) else None


class ModelLineage:
    """Traces the models of one manifest, each once, upstream models first."""

    def __init__(self, manifest: DbtManifest, catalog: Mapping[str, Any] | None = None) -> None:
        self.manifest = manifest
        self.catalog = catalog or {}
        self.dialect = dialect_of(manifest.raw.get("metadata", {}).get("adapter_type"))
        self._traced: dict[str, dict[str, tuple[ColumnDep, ...]]] = {}

    def of(self, node: Mapping[str, Any]) -> dict[str, tuple[ColumnDep, ...]]:
        """The lineage of one model, seed or snapshot (``{}`` when none can be read)."""
        uid = node["unique_id"]
        if uid not in self._traced:
            self._traced[uid] = {}  # a cycle (not valid dbt) ends here rather than recursing
            self._traced[uid] = self._trace(node)
        return self._traced[uid]

    def _trace(self, node: Mapping[str, Any]) -> dict[str, tuple[ColumnDep, ...]]:
        sql = self._sql(node)
        if sql is None:
            return {}
        tables: dict[str, AssetKey] = {}
        schema: dict[str, list[str]] = {}
        for parent in node.get("depends_on", {}).get("nodes", ()):
            key = self.manifest.key_of(parent)
            relation = self._relation(parent)
            if key is None or not relation:
                continue
            tables[relation] = key
            columns = self._columns(parent)
            if columns:
                schema[relation] = columns
        try:
            return column_lineage_from_sql(
                sql, tables=tables, schema=schema, dialect=self.dialect, strict=True
            )
        except ColumnLineageError as exc:
            warnings.warn(
                f"dbt {node['resource_type']} {node['unique_id']}: no column lineage: {exc}",
                ColumnLineageWarning,
                stacklevel=2,
            )
            return {}

    def _sql(self, node: Mapping[str, Any]) -> str | None:
        if node.get("language", "sql") != "sql" or node["resource_type"] == "seed":
            return None
        if node.get("compiled_code"):
            return str(node["compiled_code"])
        raw = node.get("raw_code")
        if not raw:
            return None
        try:
            return self._render(node, str(raw))
        except _Unrenderable as exc:
            log.info("dbt %s: no column lineage until dbt compiles it (%s)", node["unique_id"], exc)
            return None

    def _render(self, node: Mapping[str, Any], raw: str) -> str:
        """Raw SQL with the few Jinja calls that need no dbt: ``ref``, ``source``, ..."""
        import jinja2
        from jinja2.sandbox import SandboxedEnvironment

        parents = list(node.get("depends_on", {}).get("nodes", ()))

        def relation(found: Iterable[str], what: str) -> str:
            for uid in found:
                name = self._relation(uid)
                if name:
                    return name
            raise _Unrenderable(f"{what} is not a table here")

        def ref(*args: str, **kwargs: Any) -> str:
            name = args[-1] if args else str(kwargs.get("name", ""))
            return relation((p for p in parents if self._name_of(p) == name), f"ref({name!r})")

        def source(source_name: str, table_name: str) -> str:
            wanted = (source_name, table_name)
            found = (p for p in parents if self._source_of(p) == wanted)
            return relation(found, f"source({source_name!r}, {table_name!r})")

        def var(name: str, default: Any = None) -> Any:
            if default is None:
                raise _Unrenderable(f"var({name!r}) has no default")
            return default

        env = SandboxedEnvironment(undefined=jinja2.StrictUndefined)
        env.globals.update(
            ref=ref,
            source=source,
            var=var,
            config=lambda *a, **k: "",
            is_incremental=lambda: False,
            this=node.get("relation_name") or node["name"],
        )
        try:
            return env.from_string(raw).render()
        except _Unrenderable:
            raise
        except jinja2.TemplateError as exc:
            raise _Unrenderable(str(exc)) from None

    def _relation(self, uid: str) -> str | None:
        found = self.manifest.raw["nodes"].get(uid) or self.manifest.raw.get("sources", {}).get(uid)
        return (found or {}).get("relation_name")

    def _name_of(self, uid: str) -> str | None:
        return (self.manifest.raw["nodes"].get(uid) or {}).get("name")

    def _source_of(self, uid: str) -> tuple[str, str] | None:
        source = self.manifest.raw.get("sources", {}).get(uid)
        return (source["source_name"], source["name"]) if source else None

    def _columns(self, uid: str) -> list[str]:
        """An upstream's columns: the catalog's, the documented ones, or those traced."""
        for section in ("nodes", "sources"):
            entry = (self.catalog.get(section) or {}).get(uid)
            if entry and entry.get("columns"):
                columns = sorted(entry["columns"].values(), key=lambda c: c.get("index", 0))
                return [str(c["name"]) for c in columns]
        node = self.manifest.raw["nodes"].get(uid)
        if node is not None and node.get("resource_type") in ("model", "snapshot"):
            traced = self.of(node)
            if traced:
                return list(traced)
        documented = (node or self.manifest.raw.get("sources", {}).get(uid) or {}).get("columns")
        return [str(c.get("name") or name) for name, c in (documented or {}).items()]


class _Unrenderable(Exception):
    """Raw SQL that needs dbt to compile it."""
