"""A copy of the jaffle_shop dbt project per test, with its raw tables loaded into DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("dbt.cli.main", reason="the dbt extra is not installed")

import duckdb

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "jaffle_shop" / "dbt_project"

CUSTOMERS = [(1, "Ann", "Archer"), (2, "Bo", "Baker"), (3, "Cy", "Cooper")]
ORDERS = [
    (1, 1, "2026-01-01", "completed"),
    (2, 1, "2026-01-02", "placed"),
    (3, 2, "2026-01-02", "shipped"),
    (4, 3, "2026-01-03", "completed"),
]


def copy_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's dbt project under tmp_path, its DuckDB file beside it."""
    project = tmp_path / "dbt_project"
    shutil.copytree(EXAMPLE, project)
    database = tmp_path / "jaffle.duckdb"
    monkeypatch.setenv("JAFFLE_SHOP_DUCKDB", str(database))
    load_raw(database, CUSTOMERS, ORDERS)
    return project


def load_raw(database: Path, customers: list[tuple], orders: list[tuple]) -> None:
    with duckdb.connect(str(database)) as con:
        con.execute(
            "create or replace table raw_customers (id int, first_name text, last_name text)"
        )
        con.executemany("insert into raw_customers values (?, ?, ?)", customers)
        con.execute(
            "create or replace table raw_orders (id int, user_id int, order_date date, status text)"
        )
        con.executemany("insert into raw_orders values (?, ?, ?, ?)", orders)
