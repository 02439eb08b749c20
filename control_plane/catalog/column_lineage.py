"""An asset's column lineage as the catalog stores and serves it (names only, never data).

The snapshot carries it as ``[{"column", "upstream": [{"asset", "column"}]}]``, a list so
that the columns keep their order (PostgreSQL's ``jsonb`` would not keep an object's);
the catalog stores it checked in the same form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def lineage_rows(snapshot_lineage: Any) -> list[dict[str, Any]]:
    """A snapshot asset's ``column_lineage`` as stored; malformed entries are dropped."""
    if not isinstance(snapshot_lineage, list):
        return []
    rows = []
    for row in snapshot_lineage:
        if not isinstance(row, Mapping) or "column" not in row:
            continue
        deps = row.get("upstream")
        upstream = [
            {"asset": str(d["asset"]), "column": str(d["column"])}
            for d in (deps if isinstance(deps, list) else [])
            if isinstance(d, Mapping) and "asset" in d and "column" in d
        ]
        rows.append({"column": str(row["column"]), "upstream": upstream})
    return rows
