"""Benchmark: load + materialize N trivial assets in a layered DAG, in-process, in-memory IO.

    .venv/bin/python bench/materialize.py [N ...]      (default: 500 5000)

Prints one JSON line per size: n, defs_load_s, materialize_s, per_asset_ms, peak_rss_mb.
Each size runs in a fresh interpreter so peak RSS is that size's own.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
import types

WIDTH = 50
MAX_PARENTS = 3


def _arity0():
    return 1


def _arity1(p0):
    return 1


def _arity2(p0, p1):
    return 1


def _arity3(p0, p1, p2):
    return 1


TEMPLATES = [_arity0, _arity1, _arity2, _arity3]


def build_definitions(n: int):  # type: ignore[no-untyped-def]
    from assay import AssetIn, Definitions, asset

    rng = random.Random(n)
    assets = []
    for i in range(n):
        layer, previous = divmod(i, WIDTH)[0], None
        if layer:
            start = (layer - 1) * WIDTH
            previous = list(range(start, start + WIDTH))
        parents = rng.sample(previous, rng.randint(1, MAX_PARENTS)) if previous else []
        template = TEMPLATES[len(parents)]
        fn = types.FunctionType(template.__code__, template.__globals__, f"asset_{i}")
        ins = {f"p{j}": AssetIn(f"asset_{p}") for j, p in enumerate(parents)}
        assets.append(asset(fn, name=f"asset_{i}", ins=ins))
    return Definitions(assets=assets)


def run_one(n: int) -> dict:
    from assay import materialize

    started = time.perf_counter()
    defs = build_definitions(n)
    defs_load_s = time.perf_counter() - started

    started = time.perf_counter()
    result = materialize(defs)
    materialize_s = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"benchmark run failed: {result.failure_message}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "defs_load_s": round(defs_load_s, 4),
        "materialize_s": round(materialize_s, 4),
        "per_asset_ms": round(materialize_s / n * 1000, 4),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or [500, 5000]
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        )
        print(out.stdout.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
