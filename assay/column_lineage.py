"""Column-level lineage: which upstream columns feed each column of an asset.

An asset's lineage is metadata only (column names and asset keys, never values): a mapping
``{output column: (ColumnDep(upstream asset key, upstream column), ...)}`` carried on its
`AssetSpec`, uploaded in the definitions snapshot and shown by the control plane. It can be
written by hand, or read from a SELECT with `column_lineage_from_sql`, which parses it with
sqlglot (imported only when SQL is parsed: it costs a third of a second to import).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.errors import DefinitionError

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = [
    "ColumnDep",
    "ColumnLineage",
    "ColumnLineageError",
    "ColumnLineageWarning",
    "coerce_column_lineage",
    "column_lineage_from_snapshot",
    "column_lineage_from_sql",
    "column_lineage_to_snapshot",
]

log = logging.getLogger(__name__)


class ColumnDep(NamedTuple):
    """One upstream column: the asset that holds it and its name there."""

    asset_key: AssetKey
    column_name: str


ColumnLineage = Mapping[str, tuple[ColumnDep, ...]]


class ColumnLineageError(DefinitionError):
    """The SQL could not be read for lineage (a parse error, or not a SELECT)."""


class ColumnLineageWarning(UserWarning):
    """Lineage was left out because the SQL could not be read; the asset loads without it."""


def coerce_column_lineage(
    value: Mapping[str, Iterable[Any]] | None,
) -> dict[str, tuple[ColumnDep, ...]]:
    """What users pass as ``column_lineage=``: each column to `ColumnDep`s or
    ``(asset key, column)`` pairs, checked and de-duplicated in order."""
    out: dict[str, tuple[ColumnDep, ...]] = {}
    for column, deps in (value or {}).items():
        if not isinstance(column, str) or not column:
            raise DefinitionError(f"column_lineage keys must be column names, got {column!r}")
        if isinstance(deps, str | bytes) or not isinstance(deps, Iterable):
            raise DefinitionError(
                f"column_lineage['{column}'] must list (asset key, column) pairs, got {deps!r}"
            )
        coerced: list[ColumnDep] = []
        for dep in deps:
            if not isinstance(dep, Sequence) or isinstance(dep, str) or len(dep) != 2:
                raise DefinitionError(
                    f"column_lineage['{column}']: {dep!r} is not an (asset key, column) pair"
                )
            key, name = dep
            if not isinstance(name, str) or not name:
                raise DefinitionError(f"column_lineage['{column}']: {name!r} is not a column name")
            coerced.append(ColumnDep(AssetKey.from_coercible(key), name))
        out[column] = tuple(dict.fromkeys(coerced))
    return out


def column_lineage_to_snapshot(lineage: ColumnLineage) -> list[dict[str, Any]]:
    """The JSON form the snapshot carries, a list so the columns keep their order (snapshot
    JSON sorts object keys): ``[{"column": name, "upstream": [{"asset": key, "column":
    name}]}]``."""
    return [
        {
            "column": column,
            "upstream": [
                {"asset": d.asset_key.to_user_string(), "column": d.column_name} for d in deps
            ],
        }
        for column, deps in lineage.items()
    ]


def column_lineage_from_snapshot(data: Iterable[Mapping[str, Any]] | None) -> ColumnLineage:
    """The inverse of `column_lineage_to_snapshot`."""
    return {
        str(row["column"]): tuple(
            ColumnDep(AssetKey.from_user_string(d["asset"]), d["column"]) for d in row["upstream"]
        )
        for row in data or ()
    }


def column_lineage_from_sql(
    sql: str,
    *,
    tables: Mapping[str, CoercibleToAssetKey | Any] | None = None,
    schema: Mapping[str, Iterable[str]] | None = None,
    dialect: str | None = None,
    strict: bool = False,
) -> dict[str, tuple[ColumnDep, ...]]:
    """Which upstream columns feed each output column of the SELECT `sql`.

    `tables` maps table names as the SQL writes them (``orders``, ``main.orders``) to the
    assets that hold them; a table it does not name is the asset of its dotted name
    (``analytics.orders`` -> ``analytics/orders``). `schema` gives upstream tables'
    columns (a list, or a mapping of column to type), needed to expand ``select *`` and to
    place unqualified columns of a join. A column computed from no column (``count(*)``, a
    literal) maps to no upstream; each column's upstreams come sorted. SQL that cannot be
    read gives ``{}`` with a `ColumnLineageWarning`, so a definition still loads;
    ``strict=True`` raises `ColumnLineageError` instead.
    """
    try:
        return _lineage(sql, tables=tables or {}, schema=schema or {}, dialect=dialect)
    except ColumnLineageError as exc:
        if strict:
            raise
        warnings.warn(f"no column lineage: {exc}", ColumnLineageWarning, stacklevel=2)
        return {}


def _lineage(
    sql: str,
    *,
    tables: Mapping[str, Any],
    schema: Mapping[str, Iterable[str]],
    dialect: str | None,
) -> dict[str, tuple[ColumnDep, ...]]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    try:
        parsed = sqlglot.parse(sql, dialect=dialect)
    except SqlglotError as exc:
        raise ColumnLineageError(f"the SQL does not parse: {_first_line(exc)}") from None
    statements = [s for s in parsed if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ColumnLineageError("the SQL is not one SELECT statement")
    keys = {_lower(_table_name(name, dialect)): _asset_key(k) for name, k in tables.items()}
    try:
        mapping = _schema(schema, dialect)
        query = qualify(
            statements[0], schema=mapping, dialect=dialect, validate_qualify_columns=False
        )
        scope = build_scope(query)
        out: dict[str, list[ColumnDep]] = {}
        for select in query.selects:
            name = select.alias_or_name
            if not name or name == "*":
                continue  # a star its schema cannot expand names no column
            ident = select.args.get("alias") or select.this
            quoted = bool(isinstance(ident, exp.Identifier) and ident.quoted)
            column = exp.column(name, quoted=quoted)  # so the name is not normalized again
            node = lineage(
                column, query, schema=mapping, dialect=dialect, scope=scope, trim_selects=False
            )
            deps = out.setdefault(name, [])
            for leaf in node.walk():
                if leaf.downstream or not isinstance(leaf.source, exp.Table):
                    continue
                deps.append(ColumnDep(_key_of(leaf.source, keys), _column_name(leaf.name)))
    except SqlglotError as exc:
        raise ColumnLineageError(f"cannot trace the SQL's columns: {_first_line(exc)}") from None
    return {column: tuple(sorted(set(deps), key=_order)) for column, deps in out.items()}


def _order(dep: ColumnDep) -> tuple[str, str]:
    """Sorted, so the same SQL always gives the same snapshot (and snapshot id)."""
    return (dep.asset_key.to_user_string(), dep.column_name)


def _asset_key(value: Any) -> AssetKey:
    """An asset key, or the key of an asset definition or spec."""
    key = getattr(value, "key", value)
    return AssetKey.from_coercible(key)


def _lower(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _table_name(name: str, dialect: str | None) -> tuple[str, ...]:
    """A table name's parts (``"db"."t"`` and ``db.t`` have the same)."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        table = exp.to_table(name, dialect=dialect)
    except SqlglotError as exc:
        raise ColumnLineageError(f"{name!r} is not a table name: {_first_line(exc)}") from None
    return tuple(p for p in (table.catalog, table.db, table.name) if p)


def _parts(table: exp.Table) -> tuple[str, ...]:
    return tuple(p.lower() for p in (table.catalog, table.db, table.name) if p)


def _schema(schema: Mapping[str, Iterable[str]], dialect: str | None) -> Any:
    """A sqlglot schema from ``{table: columns}``; every table at the same depth."""
    from sqlglot.schema import MappingSchema

    nested: dict[str, Any] = {}
    depths = set()
    for name, columns in schema.items():
        parts = _table_name(name, dialect)
        depths.add(len(parts))
        place = nested
        for part in parts[:-1]:
            place = place.setdefault(part, {})
        types = columns if isinstance(columns, Mapping) else dict.fromkeys(columns, "UNKNOWN")
        place[parts[-1]] = {str(c): str(t or "UNKNOWN") for c, t in types.items()}
    if len(depths) > 1:
        raise ColumnLineageError(
            "schema names its tables with different qualification (e.g. 'orders' and "
            "'main.orders'): name every table the same way"
        )
    return MappingSchema(nested, dialect=dialect)


def _key_of(table: exp.Table, keys: Mapping[tuple[str, ...], AssetKey]) -> AssetKey:
    """The asset of a table: the longest of its qualified names `tables` maps."""
    parts = _parts(table)
    for start in range(len(parts)):
        found = keys.get(parts[start:])
        if found is not None:
            return found
    return AssetKey(list(p for p in (table.catalog, table.db, table.name) if p))


def _column_name(qualified: str) -> str:
    """``"alias"."column"`` (as sqlglot names a traced column) -> ``column``."""
    from sqlglot import exp

    return exp.to_column(qualified).name
