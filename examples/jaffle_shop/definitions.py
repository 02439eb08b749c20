"""jaffle_shop: a dbt project on DuckDB behind one upstream Python asset.

Serve it with `assay dev -m examples.jaffle_shop.definitions`. The DuckDB file and dbt's
target/ live under ``$JAFFLE_SHOP_DIR`` (default: a directory in the system's temp dir),
never in the repository.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay import Definitions, MaterializeResult, asset
from assay.dbt import DbtCli, dbt_assets
from assay.execution.context import AssetExecutionContext
from assay.partitions import DailyPartitionsDefinition

PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
STATE_DIR = Path(os.environ.get("JAFFLE_SHOP_DIR") or Path(tempfile.gettempdir()) / "jaffle_shop")
STATE_DIR.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("JAFFLE_SHOP_DUCKDB", str(STATE_DIR / "jaffle_shop.duckdb"))
TARGET_PATH = STATE_DIR / "target"

CUSTOMERS = [(1, "Ann", "Archer"), (2, "Bo", "Baker"), (3, "Cy", "Cooper")]
ORDERS = [
    (1, 1, "2026-01-01", "completed"),
    (2, 1, "2026-01-02", "placed"),
    (3, 2, "2026-01-02", "shipped"),
    (4, 3, "2026-01-03", "completed"),
    (5, 3, "2026-01-03", "returned"),
]


@asset(key=["jaffle_shop", "raw_customers"], group_name="raw", kinds=["python", "duckdb"])
def raw_customers() -> MaterializeResult:
    """The shop's customer export, loaded into DuckDB for dbt's `jaffle_shop` source."""
    return _load("raw_customers", "id integer, first_name varchar, last_name varchar", CUSTOMERS)


@asset(key=["jaffle_shop", "raw_orders"], group_name="raw", kinds=["python", "duckdb"])
def raw_orders() -> MaterializeResult:
    """The shop's order export."""
    return _load(
        "raw_orders", "id integer, user_id integer, order_date date, status varchar", ORDERS
    )


def _load(table: str, columns: str, rows: list[tuple[object, ...]]) -> MaterializeResult:
    import duckdb

    with duckdb.connect(os.environ["JAFFLE_SHOP_DUCKDB"]) as con:
        con.execute(f"create or replace table {table} ({columns})")
        con.executemany(f"insert into {table} values ({', '.join('?' * len(rows[0]))})", rows)
    return MaterializeResult(metadata={"rows": len(rows)})


@dbt_assets(project_dir=PROJECT_DIR, target_path=TARGET_PATH, exclude=["tag:daily"])
def jaffle_shop_dbt(context: AssetExecutionContext, dbt: DbtCli) -> Iterator[Any]:
    """Every model, seed and snapshot of the project but the daily one: `dbt build`."""
    yield from dbt.build(context)


@dbt_assets(
    project_dir=PROJECT_DIR,
    target_path=TARGET_PATH,
    select=["tag:daily"],
    partitions_def=DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04"),
)
def jaffle_shop_daily(context: AssetExecutionContext, dbt: DbtCli) -> Iterator[Any]:
    """The daily models: each partition's run passes its day as vars (min_date, max_date)."""
    yield from dbt.build(context)


defs = Definitions(
    assets=[
        raw_customers,
        raw_orders,
        jaffle_shop_dbt,
        jaffle_shop_daily,
        *jaffle_shop_dbt.source_specs(provided=[raw_customers, raw_orders]),
    ],
)
