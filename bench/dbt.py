"""Benchmark: `assay.dbt` loading a large manifest, and Assay's cost on top of a dbt build.

    .venv/bin/python bench/dbt.py [N_RUN_MODELS]      (default: 100)

Prints one JSON line: `load_1000_models_s` (`@dbt_assets(manifest=...)` plus `Definitions`
over a generated manifest of 1,000 models, each with two tests and one to three parents)
and `overhead_per_model_ms` (a real `dbt build` of a chain of N view models on DuckDB:
the best of five runs through `materialize()` minus the best of five of the same build
invoked with dbt's `dbtRunner` directly, interleaved after a warm-up, per model).
Needs the dbt extra: pip install 'assay[dbt]'.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

MODELS = 1000
# Run as a script, this file's directory is first on the path, and its name would shadow
# the `dbt` package: take the directory off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def generate_manifest(path: Path, n: int) -> None:
    """A manifest.json shaped like dbt's: models in layers, sources, tests on every model."""
    rng = random.Random(7)
    nodes: dict[str, dict] = {}
    sources = {
        f"source.big.raw.t{i}": {
            "unique_id": f"source.big.raw.t{i}",
            "resource_type": "source",
            "source_name": "raw",
            "name": f"t{i}",
            "description": "",
            "tags": [],
            "relation_name": f'"raw"."t{i}"',
        }
        for i in range(20)
    }
    ids: list[str] = []
    for i in range(n):
        uid = f"model.big.m{i}"
        parents = rng.sample(ids[-100:], k=min(len(ids), rng.randint(1, 3))) if ids else []
        if i < 20:
            parents = [f"source.big.raw.t{i}"]
        nodes[uid] = {
            "unique_id": uid,
            "resource_type": "model",
            "name": f"m{i}",
            "package_name": "big",
            "fqn": ["big", f"layer{i // 100}", f"m{i}"],
            "description": f"model {i}",
            "original_file_path": f"models/layer{i // 100}/m{i}.sql",
            "relation_name": f'"db"."main"."m{i}"',
            "tags": ["nightly"],
            "config": {"materialized": "table", "tags": ["nightly"], "meta": {"owner": "a@x.io"}},
            "depends_on": {"nodes": parents, "macros": []},
            "checksum": {"name": "sha256", "checksum": f"{i:064x}"},
        }
        ids.append(uid)
        for test in ("unique", "not_null"):
            tid = f"test.big.{test}_m{i}_id.{i:010x}"
            nodes[tid] = {
                "unique_id": tid,
                "resource_type": "test",
                "name": f"{test}_m{i}_id",
                "attached_node": uid,
                "column_name": "id",
                "depends_on": {"nodes": [uid], "macros": []},
                "config": {"severity": "ERROR" if test == "unique" else "warn"},
                "test_metadata": {"name": test, "kwargs": {}},
            }
    manifest = {
        "metadata": {"adapter_type": "duckdb", "dbt_version": "1.11"},
        "nodes": nodes,
        "sources": sources,
        "groups": {},
    }
    path.write_text(json.dumps(manifest))


def load_seconds(manifest: Path) -> float:
    from assay import Definitions
    from assay.dbt import dbt_assets

    started = time.perf_counter()

    @dbt_assets(manifest=manifest)
    def big(context, dbt):
        yield from dbt.build(context)

    defs = Definitions(assets=[big, *big.source_specs()])
    elapsed = time.perf_counter() - started
    assert len(defs.get_asset_graph().nodes) == MODELS + 20
    return elapsed


def write_project(root: Path, n: int) -> Path:
    project = root / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0'\nprofile: bench\nconfig-version: 2\n"
        "models:\n  bench:\n    +materialized: view\n"
    )
    (project / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'bench.duckdb'}\n      threads: 1\n"
    )
    for i in range(n):
        body = "select 1 as id" if i == 0 else f"select id from {{{{ ref('m{i - 1}') }}}}"
        (project / "models" / f"m{i}.sql").write_text(body + "\n")
    return project


def overhead_per_model_ms(n: int, rounds: int = 5) -> float:
    from assay import Definitions, materialize
    from assay.dbt import DbtCli, dbt_assets
    from assay.dbt.cli import run_dbt

    with tempfile.TemporaryDirectory() as tmp:
        project = write_project(Path(tmp), n)

        @dbt_assets(project_dir=project)
        def bench(context, dbt: DbtCli):
            yield from dbt.build(context)

        defs = Definitions(assets=[bench])
        args = ["build", "--quiet", *bench.project_args()]
        run_dbt(args)  # warm both paths up: dbt's first build in a process parses and connects
        materialize(defs)
        plain, through_assay = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            run_dbt(args)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = materialize(defs)
            through_assay.append(time.perf_counter() - started)
            assert result.success and len(result.materialized_keys) == n
    return (min(through_assay) - min(plain)) / n * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.json"
        generate_manifest(manifest, MODELS)
        load = load_seconds(manifest)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    overhead = overhead_per_model_ms(n)
    print(
        json.dumps(
            {"load_1000_models_s": round(load, 3), "overhead_per_model_ms": round(overhead, 2)}
        )
    )


if __name__ == "__main__":
    main()
