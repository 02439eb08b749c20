"""`assay automation tick` against a local instance."""

from __future__ import annotations

import json

from assay import AssetKey, LocalInstance
from assay.cli import main

PIPELINE = """
from assay import AutomationCondition, Definitions, asset


@asset(automation_condition=AutomationCondition.eager())
def raw():
    return 1


@asset(automation_condition=AutomationCondition.eager())
def clean(raw):
    return raw


defs = Definitions(assets=[raw, clean])
"""


def tick(tmp_path, capsys, *extra: str, pipeline: str = PIPELINE) -> tuple[int, str]:
    (tmp_path / "pipeline.py").write_text(pipeline)
    code = main(
        [
            "automation",
            "tick",
            "-f",
            str(tmp_path / "pipeline.py"),
            "--instance",
            str(tmp_path / "instance.db"),
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_tick_prints_the_runs_and_why(tmp_path, capsys):
    code, out = tick(tmp_path, capsys, "--at", "2024-01-01T00:00:00")
    assert code == 0
    assert "1 run(s) requested" in out
    assert "run: raw, clean" in out
    assert "clean: requested 1 partition(s)" in out
    assert "[x] any_deps_updated() (1 of 1)" in out


def test_tick_stores_the_cursor_unless_dry_run(tmp_path, capsys):
    tick(tmp_path, capsys, "--at", "2024-01-01T00:00:00", "--dry-run")
    with LocalInstance(tmp_path / "instance.db") as instance:
        assert instance.get_automation_cursor() is None
    tick(tmp_path, capsys, "--at", "2024-01-01T00:00:00")
    with LocalInstance(tmp_path / "instance.db") as instance:
        assert instance.get_automation_cursor() is not None
    code, out = tick(tmp_path, capsys, "--at", "2024-01-01T00:01:00", "--json")
    result = json.loads(out)
    assert code == 0
    assert result["run_requests"] == []  # requested on the previous tick: not again


def test_tick_reads_materializations_recorded_by_materialize(tmp_path, capsys):
    from assay import materialize
    from assay.loading import load_definitions

    tick(tmp_path, capsys, "--at", "2024-01-01T00:00:00")
    defs = load_definitions(file=str(tmp_path / "pipeline.py"))
    with LocalInstance(tmp_path / "instance.db") as instance:
        materialize(defs, instance=instance, selection="raw")
    code, out = tick(tmp_path, capsys, "--at", "2024-01-01T00:01:00", "--json")
    result = json.loads(out)
    assert code == 0
    # raw's run materialized it; clean was requested last tick and is handled too.
    assert result["run_requests"] == []
    (clean,) = [e for e in result["evaluations"] if e["asset_key"] == "clean"]
    trigger = clean["explanation"]["children"][1]
    assert trigger["children"][0]["children"][1] == {
        "condition": "any_deps_updated()",
        "true": 1,
        "candidates": 1,
        "evaluated": True,
    }


def test_tick_sees_what_assay_materialize_ran(tmp_path, capsys):
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    pipeline = str(tmp_path / "pipeline.py")
    storage = str(tmp_path / "storage")
    db = str(tmp_path / "instance.db")
    assert main(["materialize", "-f", pipeline, "--storage", storage, "--instance", db]) == 0
    assert "2 materialized" in capsys.readouterr().out
    with LocalInstance(db) as instance:
        assert {k.to_user_string() for k in instance.changed_asset_keys(after_storage_id=0)} == {
            "raw",
            "clean",
        }
    code, out = tick(tmp_path, capsys, "--at", "2024-01-01T00:01:00", "--json")
    assert code == 0
    assert json.loads(out)["run_requests"] == []  # neither is missing: nothing to run


def test_materialize_records_into_assay_home_by_default(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    assert main(["materialize", "-f", str(tmp_path / "pipeline.py")]) == 0
    with LocalInstance(tmp_path / "home" / "instance.db") as instance:
        (run_id,) = {e.run_id for e in instance.get_events()}
        assert instance.run_status(run_id) == "succeeded"
        assert instance.latest_materialization(AssetKey("clean")) is not None


def test_bad_time_is_a_usage_error(tmp_path, capsys):
    code, out = tick(tmp_path, capsys, "--at", "yesterday")
    assert code == 2
    assert "'yesterday' is not an ISO date-time" in out


DYNAMIC_PIPELINE = """
from assay import AutomationCondition, Definitions, DynamicPartitionsDefinition, asset

customers = DynamicPartitionsDefinition(name="customers")


@asset(partitions_def=customers, automation_condition=AutomationCondition.on_missing())
def export(context):
    return context.partition_key


defs = Definitions(assets=[export])
"""


def test_tick_reads_dynamic_partition_keys_from_the_instance(tmp_path, capsys):
    with LocalInstance(tmp_path / "instance.db") as instance:
        instance.add_dynamic_partitions("customers", ["acme", "globex"])
    code, out = tick(tmp_path, capsys, "--at", "2024-01-01T00:00:00", pipeline=DYNAMIC_PIPELINE)
    assert code == 0, out
    assert "run partition acme: export" in out and "run partition globex: export" in out
