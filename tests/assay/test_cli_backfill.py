"""`assay backfill` as a real subprocess: progress, summary, failure isolation, Ctrl-C."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROJECT = """
import os
import signal

from assay import DailyPartitionsDefinition, Definitions, asset

daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


@asset(partitions_def=daily)
def raw(context):
    if context.partition_key == os.environ.get("FAIL_DAY"):
        raise ValueError("corrupt file for " + context.partition_key)
    if context.partition_key == os.environ.get("INTERRUPT_DAY"):
        os.kill(os.getpid(), signal.SIGINT)
    return context.partition_key


@asset(partitions_def=daily)
def cleaned(raw):
    return raw


@asset
def summary(cleaned):
    return len(cleaned)


defs = Definitions(assets=[raw, cleaned, summary])
"""


def assay(tmp_path, *args, env=None):
    project = tmp_path / "project.py"
    project.write_text(textwrap.dedent(PROJECT))
    return subprocess.run(
        [sys.executable, "-m", "assay", "backfill", "-f", str(project), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "ASSAY_HOME": str(tmp_path), **(env or {})},
        timeout=120,
    )


def test_backfill_runs_every_partition_and_prints_a_summary(tmp_path):
    proc = assay(tmp_path, "--from", "2024-01-01", "--to", "2024-01-31", "--select", "raw, cleaned")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "backfill: 31 runs, 62 asset partitions" in proc.stdout
    assert "backfill succeeded: 31 runs" in proc.stdout
    assert "│ raw" in proc.stdout and "31 │" in proc.stdout
    assert len(list((tmp_path / "storage" / "cleaned").iterdir())) == 31


def test_a_failed_partition_fails_the_backfill_but_not_the_other_days(tmp_path):
    state_file = tmp_path / "state.json"
    proc = assay(
        tmp_path,
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-31",
        "--state-file",
        str(state_file),
        env={"FAIL_DAY": "2024-01-15"},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "backfill failed: 1 runs failed, 1 skipped because of them, 30 succeeded" in proc.stderr
    assert "ValueError: corrupt file for 2024-01-15" in proc.stdout
    assert "skipped: summary: upstream run raw, cleaned [2024-01-15] failed" in proc.stdout
    state = json.loads(state_file.read_text())
    statuses = [run["status"] for run in state["runs"]]
    assert statuses.count("succeeded") == 30 and statuses.count("failed") == 1


def test_ctrl_c_cancels_cleanly_and_says_what_ran(tmp_path):
    state_file = tmp_path / "state.json"
    proc = assay(
        tmp_path,
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-10",
        "--select",
        "raw",
        "--state-file",
        str(state_file),
        env={"INTERRUPT_DAY": "2024-01-04"},
    )
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "interrupted: 3 runs succeeded, 0 failed, 7 canceled" in proc.stderr
    assert "Traceback" not in proc.stderr
    statuses = [run["status"] for run in json.loads(state_file.read_text())["runs"]]
    assert statuses == ["succeeded"] * 3 + ["canceled"] * 7


def test_backfill_usage_errors_exit_2(tmp_path):
    missing_to = assay(tmp_path, "--from", "2024-01-01")
    assert missing_to.returncode == 2 and "pass both --from and --to" in missing_to.stderr
    unknown = assay(tmp_path, "--from", "2024-01-01", "--to", "2024-02-30")
    assert unknown.returncode == 2 and "2024-02-30" in unknown.stderr
