"""User code can tell where it runs: the deployment name and the branch flag, per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from agent.run_worker import set_deployment_environment
from assay import Definitions, asset, materialize, InMemoryIOManager

seen = {}

@asset
def where(context):
    seen["name"] = context.deployment_name
    seen["branch"] = context.is_branch_deployment
    return 1

set_deployment_environment({"deployment": sys.argv[1]} if sys.argv[1] else {})
materialize([where], resources={"io_manager": InMemoryIOManager()})
print(json.dumps(seen))
"""


def _run(tmp_path: Path, deployment: str) -> dict:
    script = tmp_path / "where.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    out = subprocess.run(
        [sys.executable, str(script), deployment],
        env=env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def test_a_branch_run_sees_its_deployment_and_the_branch_flag(tmp_path: Path) -> None:
    assert _run(tmp_path, "warehouse-pr-7") == {"name": "warehouse-pr-7", "branch": True}
    assert _run(tmp_path, "prod") == {"name": "prod", "branch": False}
    # Outside an agent (assay materialize, tests) there is no deployment.
    assert _run(tmp_path, "") == {"name": None, "branch": False}
