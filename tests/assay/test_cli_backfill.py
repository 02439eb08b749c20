"""`assay backfill` as a real subprocess: progress, summary, failure isolation, Ctrl-C."""

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from assay import AssetKey, DailyPartitionsDefinition, LocalInstance

REPO = Path(__file__).resolve().parents[2]
DAILY = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")

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
    assert re.search(r"backfill backfill-[\w-]+: 31 runs, 62 asset partitions", proc.stdout)
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
    assert "backfill failed: 1 run failed, 1 skipped because of them, 30 succeeded" in proc.stderr
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


def test_resume_after_ctrl_c_runs_only_what_was_canceled(tmp_path):
    state_file = tmp_path / "state.json"
    args = ["--from", "2024-01-01", "--to", "2024-01-06", "--select", "raw"]
    first = assay(
        tmp_path, *args, "--state-file", str(state_file), env={"INTERRUPT_DAY": "2024-01-04"}
    )
    assert first.returncode == 130
    assert f"--resume {state_file}" in first.stderr
    resumed = assay(tmp_path, "--resume", str(state_file))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming backfill-" in resumed.stdout and "3 to run" in resumed.stdout
    assert "raw [2024-01-01]" not in resumed.stdout  # already succeeded: not run again
    statuses = [run["status"] for run in json.loads(state_file.read_text())["runs"]]
    assert statuses == ["succeeded"] * 6


def test_resume_retries_only_the_failed_partition_and_what_it_skipped(tmp_path):
    state_file = tmp_path / "state.json"
    args = ["--from", "2024-01-01", "--to", "2024-01-31", "--state-file", str(state_file)]
    assert assay(tmp_path, *args, env={"FAIL_DAY": "2024-01-03"}).returncode == 1
    retried = assay(tmp_path, "--resume", str(state_file))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    ran = [line.strip() for line in retried.stdout.splitlines() if line.strip().startswith("✓")]
    assert ran == ["✓ raw, cleaned [2024-01-03]", "✓ summary"]
    assert "2 to run" in retried.stdout
    again = assay(tmp_path, "--resume", str(state_file))
    assert again.returncode == 2 and "nothing left to run" in again.stderr


def test_the_printed_resume_command_resumes_with_the_same_storage_and_executor(tmp_path):
    storage = tmp_path / "my storage"  # a space: the printed command quotes it
    args = ["--from", "2024-01-01", "--to", "2024-01-04", "--select", "raw, cleaned"]
    args += ["--storage", str(storage), "--executor", "multiprocess", "--max-concurrent", "2"]
    failed = assay(tmp_path, *args, env={"FAIL_DAY": "2024-01-03"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    [printed] = re.findall(r"retry what failed with: (.*)", failed.stderr)

    argv = shlex.split(printed)
    assert argv[:2] == ["assay", "backfill"]
    assert argv[-6:-2] == ["--executor", "multiprocess", "--max-concurrent", "2"]
    resumed = subprocess.run(
        [sys.executable, "-m", "assay", *argv[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "ASSAY_HOME": str(tmp_path)},
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "✓ raw, cleaned [2024-01-03]" in resumed.stdout
    # The retried day lands next to the others, where later runs look for their inputs.
    assert sorted(p.name for p in (storage / "cleaned").iterdir()) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert not (tmp_path / "storage").exists()


def test_runs_are_recorded_in_the_instance_so_missing_backfills_only_the_gaps(tmp_path):
    first = assay(
        tmp_path, "--partition", "2024-01-02", "--partition", "2024-01-05", "--select", "raw"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    with LocalInstance(tmp_path / "instance.db") as instance:
        done = instance.materialized_subset(AssetKey("raw"), DAILY)
        assert list(done) == ["2024-01-02", "2024-01-05"]
    gaps = assay(tmp_path, "--missing", "--select", "raw")
    assert gaps.returncode == 0, gaps.stdout + gaps.stderr
    assert "29 runs, 29 asset partitions (every missing partition)" in gaps.stdout
    assert "raw [2024-01-02]" not in gaps.stdout
    nothing = assay(tmp_path, "--missing", "--select", "raw")
    assert nothing.returncode == 0 and "nothing to backfill" in nothing.stdout


def test_a_partition_range_over_unpartitioned_assets_only_is_a_usage_error(tmp_path):
    proc = assay(tmp_path, "--select", "summary", "--from", "2024-01-01", "--to", "2024-01-02")
    assert proc.returncode == 2
    assert "none of the selected assets is partitioned" in proc.stderr


def test_an_unreadable_state_file_is_a_clear_error_and_runs_nothing(tmp_path):
    broken = tmp_path / "state.json"
    broken.write_text('{"version": 1, "runs": [{"asset_keys": ["raw"]}]}')
    proc = assay(tmp_path, "--resume", str(broken))
    assert proc.returncode == 2 and "not a valid backfill state" in proc.stderr
    assert not (tmp_path / "storage").exists()
    missing = assay(tmp_path, "--resume", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read the backfill state" in missing.stderr


DYNAMIC_PROJECT = """
from assay import Definitions, DynamicPartitionsDefinition, asset

customers = DynamicPartitionsDefinition(name="customers")


@asset(partitions_def=customers)
def export(context):
    return context.partition_key


defs = Definitions(assets=[export])
"""


def test_dynamic_partition_keys_come_from_the_instance(tmp_path):
    project = tmp_path / "dynamic.py"
    project.write_text(DYNAMIC_PROJECT)
    with LocalInstance(tmp_path / "instance.db") as instance:
        instance.add_dynamic_partitions("customers", ["acme", "globex"])
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "backfill", "-f", str(project), "--missing"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "ASSAY_HOME": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ export [acme]" in proc.stdout and "✓ export [globex]" in proc.stdout


def test_a_state_file_that_cannot_be_written_is_refused_before_anything_runs(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    proc = assay(tmp_path, "--partition", "2024-01-02", "--state-file", str(blocked / "state.json"))
    assert proc.returncode == 2 and "cannot write the backfill state" in proc.stderr
    assert not (tmp_path / "storage").exists()
