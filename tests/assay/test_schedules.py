"""Schedules: cron + zone ticks across DST, partitioned-job schedules, target validation."""

import json
from datetime import UTC, datetime

import pytest

from assay import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefinitionError,
    Definitions,
    InvalidSelection,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
    evaluate_schedule,
    schedule,
)
from assay.definitions.sensors import SensorEvaluationError
from assay.snapshot import build_snapshot

daily = DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin")


@asset(partitions_def=daily)
def sales():
    return 1


sales_job = define_asset_job("sales_job", "sales", partitions_def=daily)


def test_daily_schedule_ticks_at_local_time_across_spring_forward():
    nightly = ScheduleDefinition(
        cron_schedule="30 2 * * *", target="sales", name="n", execution_timezone="Europe/Berlin"
    )
    # 2024-03-31 02:30 does not exist in Berlin: the tick moves past the gap, once.
    ticks = nightly.ticks_between(
        datetime(2024, 3, 30, 12, tzinfo=UTC), datetime(2024, 4, 1, 12, tzinfo=UTC)
    )
    assert [t.isoformat() for t in ticks] == [
        "2024-03-31T03:30:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]


def test_hourly_schedule_ticks_25_times_on_the_fall_back_day():
    hourly = ScheduleDefinition(
        cron_schedule="0 * * * *", target="sales", name="h", execution_timezone="America/New_York"
    )
    ticks = hourly.ticks_between(
        datetime(2024, 11, 3, 4, tzinfo=UTC), datetime(2024, 11, 4, 5, tzinfo=UTC)
    )
    assert len(ticks) == 25
    # The repeated 01:00 (EST) is a tick of its own; compare in UTC (PEP 495 never equates
    # a fold=1 time with another zone's).
    assert hourly.next_tick(datetime(2024, 11, 3, 5, 30, tzinfo=UTC)).astimezone(UTC) == datetime(
        2024, 11, 3, 6, tzinfo=UTC
    )
    assert hourly.previous_tick(datetime(2024, 11, 3, 5, 30, tzinfo=UTC)).astimezone(
        UTC
    ) == datetime(2024, 11, 3, 5, tzinfo=UTC)


def test_partitioned_job_schedule_runs_the_partition_that_just_ended():
    nightly = build_schedule_from_partitioned_job(sales_job)
    assert (nightly.name, nightly.cron_schedule, nightly.execution_timezone) == (
        "sales_job_schedule",
        "0 0 * * *",
        "Europe/Berlin",
    )
    tick = nightly.next_tick(datetime(2024, 1, 15, 12, tzinfo=UTC))
    assert tick.isoformat() == "2024-01-16T00:00:00+01:00"
    result = evaluate_schedule(nightly, scheduled_execution_time=tick)
    (request,) = result.run_requests
    assert request.partition_key == "2024-01-15"
    assert request.run_key == "sales_job_schedule:2024-01-15"


def test_schedule_function_decides_each_tick():
    @schedule("0 9 * * *", target="sales")
    def weekdays_only(context):
        if context.scheduled_execution_time.weekday() >= 5:
            return SkipReason("weekend")
        return RunRequest(partition_key="2024-01-05", tags={"source": "weekday"})

    friday = evaluate_schedule(
        weekdays_only, scheduled_execution_time=datetime(2024, 1, 5, 9, tzinfo=UTC)
    )
    (request,) = friday.run_requests
    assert request.run_key == "weekdays_only:2024-01-05T09:00:00+00:00:2024-01-05"
    saturday = evaluate_schedule(
        weekdays_only, scheduled_execution_time=datetime(2024, 1, 6, 9, tzinfo=UTC)
    )
    assert saturday.run_requests == () and saturday.skip_reason == "weekend"


def test_a_schedule_function_that_raises_names_the_schedule():
    @schedule("0 9 * * *", target="sales")
    def broken(context):
        raise RuntimeError("boom")

    with pytest.raises(SensorEvaluationError, match="schedule 'broken' raised RuntimeError: boom"):
        evaluate_schedule(broken, scheduled_execution_time=datetime(2024, 1, 5, tzinfo=UTC))


def test_definitions_validate_schedule_targets_and_add_their_jobs():
    defs = Definitions(assets=[sales], schedules=[build_schedule_from_partitioned_job(sales_job)])
    assert defs.get_job("sales_job") is sales_job
    with pytest.raises(InvalidSelection, match="schedule 'typo'"):
        Definitions(
            assets=[sales],
            schedules=[ScheduleDefinition(cron_schedule="0 0 * * *", target="sale", name="typo")],
        )


def test_bad_cron_timezone_or_unpartitioned_job_is_a_definition_error():
    with pytest.raises(DefinitionError, match="expected five fields"):
        ScheduleDefinition(cron_schedule="0 0 *", target="sales", name="x")
    with pytest.raises(DefinitionError, match="unknown time zone"):
        ScheduleDefinition(
            cron_schedule="0 0 * * *", target="sales", name="x", execution_timezone="Mars"
        )
    with pytest.raises(DefinitionError, match="no time-window partitions"):
        build_schedule_from_partitioned_job(define_asset_job("plain", "sales"))


def test_snapshot_describes_schedules_and_sensors_for_a_daemon():
    from assay.snapshot import build_snapshot
    from examples.analytics.signups import defs as signups

    snapshot = build_snapshot(signups)
    (nightly,) = snapshot.schedule_specs
    assert nightly["cron_schedule"] == "0 0 * * *"
    assert nightly["selection"] == "raw_signups, daily_signups"
    assert nightly["partitions"]["type"] == "time_window"
    (sensor,) = snapshot.sensor_specs
    assert sensor == {
        "name": "late_files",
        "minimum_interval_seconds": 60,
        "selection": "raw_signups, daily_signups",
        "default_status": "stopped",
    }


def test_a_schedule_is_stopped_until_started_unless_its_code_says_running():
    @schedule("0 9 * * *", target="sales", default_status="running")
    def morning():
        return RunRequest(partition_key="2024-01-01")

    plain = ScheduleDefinition(cron_schedule="0 6 * * *", target="sales", name="plain")
    nightly = build_schedule_from_partitioned_job(
        sales_job, default_status=DefaultScheduleStatus.RUNNING
    )
    shouting = ScheduleDefinition(
        cron_schedule="0 6 * * *", target="sales", name="shouting", default_status="RUNNING"
    )
    defs = Definitions(assets=[sales], schedules=[morning, plain, nightly, shouting])
    specs = {s["name"]: s["default_status"] for s in build_snapshot(defs).schedule_specs}
    assert specs == {
        "morning": "running",
        "plain": "stopped",
        "sales_job_schedule": "running",
        "shouting": "running",
    }
    assert json.loads(json.dumps(specs)) == specs  # plain strings in the snapshot's JSON


def test_an_unknown_default_status_is_refused_with_the_choices():
    with pytest.raises(DefinitionError, match="schedule 'x': default_status must be 'running'"):
        ScheduleDefinition(cron_schedule="0 6 * * *", target="sales", name="x", default_status="on")
    with pytest.raises(DefinitionError, match="got True"):
        build_schedule_from_partitioned_job(sales_job, default_status=True)  # type: ignore[arg-type]


def test_a_plain_schedule_on_a_partitioned_job_is_refused_because_it_names_no_partition():
    with pytest.raises(DefinitionError, match="targets partitioned job 'sales_job'"):
        ScheduleDefinition(cron_schedule="0 6 * * *", job=sales_job)


def test_a_schedule_that_requests_no_or_an_unknown_partition_of_its_job_fails_the_tick():
    @schedule("0 9 * * *", job=sales_job)
    def forgets_the_partition(context):
        return RunRequest()

    @schedule("0 9 * * *", job=sales_job)
    def misspells_the_partition(context):
        return RunRequest(partition_key="2024-13-01")

    tick = datetime(2024, 1, 5, 9, tzinfo=UTC)
    with pytest.raises(
        SensorEvaluationError, match=r"'forgets_the_partition'.*without a partition"
    ):
        evaluate_schedule(forgets_the_partition, scheduled_execution_time=tick)
    with pytest.raises(SensorEvaluationError, match="unknown partition key '2024-13-01'"):
        evaluate_schedule(misspells_the_partition, scheduled_execution_time=tick)


def test_partitioned_job_schedule_in_new_york_runs_each_day_across_both_dst_changes():
    new_york = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    job = define_asset_job("ny_job", "sales", partitions_def=new_york)
    nightly = build_schedule_from_partitioned_job(job)
    for after, expected in [
        (datetime(2024, 3, 9, 12, tzinfo=UTC), ["2024-03-09", "2024-03-10", "2024-03-11"]),
        (datetime(2024, 11, 2, 12, tzinfo=UTC), ["2024-11-02", "2024-11-03", "2024-11-04"]),
    ]:
        ran = []
        tick = after
        for _ in expected:
            tick = nightly.next_tick(tick)
            assert (tick.hour, tick.minute) == (0, 0)  # local midnight, whatever the offset
            (request,) = evaluate_schedule(nightly, scheduled_execution_time=tick).run_requests
            ran.append(request.partition_key)
        assert ran == expected
