"""docs/dbt.md: its Python examples run against a copy of the jaffle_shop project, and it
names the extra, the example's command and the settings `assay.dbt` reads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.assay.dbt_project import copy_project

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "dbt.md").read_text()


def test_the_python_examples_in_the_dbt_docs_run(tmp_path, monkeypatch):
    project = copy_project(tmp_path, monkeypatch)
    shutil.move(project, tmp_path / "jaffle_shop")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_dbt"}
    blocks = re.findall(r"```python\n(.*?)```", PAGE, re.DOTALL)
    assert len(blocks) >= 3
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"dbt.md block {number}", "exec"), namespace)
    assert namespace["result"].success


def test_the_dbt_docs_name_the_extra_the_example_and_the_settings():
    for text in (
        "pip install 'assay[dbt]'",
        "assay dev -m examples.jaffle_shop.definitions",
        "ASSAY_DBT_TARGET_PATH",
        "JAFFLE_SHOP_DIR",
        "min_date",
        "bench/dbt.py",
        "column_lineage=False",
        "catalog.json",
    ):
        assert text in PAGE, text
