"""Backfill planning and state: policies, ordering, failure isolation, cancel/resume/retry."""

from datetime import UTC, datetime

import pytest

from assay import (
    AssetCheckResult,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    BackfillState,
    BackfillStatus,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    InMemoryIOManager,
    InProcessExecutor,
    LocalInstance,
    MonthlyPartitionsDefinition,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
    plan_backfill,
)
from assay.backfill import BackfillPlanError, BackfillStateError, execute_backfill
from assay.errors import PartitionSelectionError

NOW = datetime(2024, 3, 1, tzinfo=UTC)
daily = DailyPartitionsDefinition(start_date="2024-01-01")
JANUARY_1_TO_30 = PartitionKeyRange("2024-01-01", "2024-01-30")
BAD_DAY = "2024-01-15"


class FlakyDay:
    """Raises on BAD_DAY while `broken` is set; counts calls per partition."""

    def __init__(self):
        self.broken = True
        self.calls: list[str] = []


flaky = FlakyDay()


@asset(partitions_def=daily)
def raw(context):
    flaky.calls.append(context.partition_key)
    if flaky.broken and context.partition_key == BAD_DAY:
        raise ValueError("the file for the 15th is corrupt")
    return context.partition_key


@asset(partitions_def=daily)
def cleaned(raw):
    return raw


@asset(partitions_def=daily)
def unrelated(context):
    return 1


def _plan(*assets, **kwargs):
    defs = Definitions(assets=list(assets))
    kwargs.setdefault("partition_key_range", JANUARY_1_TO_30)
    return defs, plan_backfill(defs.asset_graph, current_time=NOW, **kwargs)


def _run(defs, state, io=None):
    return execute_backfill(
        state,
        graph=defs.asset_graph,
        resources={"io_manager": io or InMemoryIOManager()},
        executor=InProcessExecutor(),
        current_time=NOW,
    )


def test_a_failed_partition_skips_only_its_downstream_and_retry_reruns_only_it():
    flaky.broken, flaky.calls = True, []
    defs, plan = _plan(raw, cleaned, unrelated)
    state = _run(defs, BackfillState(plan))
    counts = state.partition_counts()
    # raw+cleaned run together per day: on the 15th raw fails and cleaned is skipped in
    # that run; unrelated's 30 days (separate runs) all succeed.
    assert counts["failed"] == 1 and counts["skipped"] == 1
    assert counts["succeeded"] == 3 * 30 - 2
    assert state.status_of(AssetKey("raw"), BAD_DAY) is BackfillStatus.FAILED
    assert state.status_of(AssetKey("cleaned"), BAD_DAY) is BackfillStatus.SKIPPED
    assert state.status_of(AssetKey("raw"), "2024-01-16") is BackfillStatus.SUCCEEDED
    assert state.status_of(AssetKey("unrelated"), BAD_DAY) is BackfillStatus.SUCCEEDED
    (failed,) = [p for p in state.progress if p.status is BackfillStatus.FAILED]
    assert "raw" in failed.reason

    flaky.broken, flaky.calls = False, []
    assert len(state.retry_failed()) == 1
    _run(defs, state)
    assert flaky.calls == [BAD_DAY]
    assert state.partition_counts()["succeeded"] == 90 and state.is_finished


def test_downstream_in_another_run_is_skipped_with_the_reason():
    flaky.broken = True

    @asset
    def report(cleaned):
        return len(cleaned)

    defs, plan = _plan(raw, cleaned, report)
    state = _run(defs, BackfillState(plan))
    assert state.status_of(AssetKey("report")) is BackfillStatus.SKIPPED
    (skipped,) = [p for p in state.progress if p.status is BackfillStatus.SKIPPED]
    assert skipped.reason == f"upstream run raw, cleaned [{BAD_DAY}] failed"
    assert state.counts()["succeeded"] == 29


def test_policies_chunk_runs_and_unpartitioned_assets_run_once_after_their_parents():
    @asset(partitions_def=daily, backfill_policy=BackfillPolicy.multi_run(7))
    def weekly_batches(context):
        return 1

    @asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
    def one_statement(weekly_batches):
        return 1

    @asset
    def summary(one_statement):
        return 1

    _, plan = _plan(weekly_batches, one_statement, summary)
    sizes = [len(r.partition_keys) for r in plan.runs]
    assert sizes == [7, 7, 7, 7, 2, 30, 0]
    assert plan.runs[5].depends_on == (0, 1, 2, 3, 4)
    assert plan.runs[6].asset_keys == (AssetKey("summary"),)
    assert plan.runs[6].depends_on == (5,)


def test_a_path_that_leaves_a_group_and_returns_is_split_so_runs_never_wait_in_a_circle():
    @asset(partitions_def=daily)
    def first(context):
        return 1

    @asset
    def middle(first):
        return 1

    @asset(partitions_def=daily, deps=[middle])
    def last(first):
        return 1

    _, plan = _plan(
        first, middle, last, partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-02")
    )
    described = [r.describe() for r in plan.runs]
    assert described == [
        "first [2024-01-01]",
        "first [2024-01-02]",
        "middle",
        "last [2024-01-01]",
        "last [2024-01-02]",
    ]


def test_monthly_downstream_waits_for_the_days_of_its_month():
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=monthly)
    def month(raw):
        return 1

    _, plan = _plan(raw, month, partition_key_range=PartitionKeyRange("2024-01-30", "2024-02-02"))
    by_name = {r.describe(): r for r in plan.runs}
    jan = by_name["month [2024-01-01]"]
    assert [plan.runs[d].partition_keys for d in jan.depends_on] == [
        ("2024-01-30",),
        ("2024-01-31",),
    ]
    assert len(by_name["month [2024-02-01]"].depends_on) == 2


def test_previous_day_mapping_makes_each_day_wait_for_the_one_before():
    @asset(
        partitions_def=daily,
        ins={"raw": AssetIn(partition_mapping=TimeWindowPartitionMapping(-1, -1))},
    )
    def change(raw):
        return raw

    _, plan = _plan(raw, change, partition_key_range=PartitionKeyRange("2024-01-02", "2024-01-03"))
    # raw and change run together per day; change@03 reads raw@02, produced by the run
    # before it; change@02 reads raw@01, which this backfill does not produce.
    assert [(r.describe(), r.depends_on) for r in plan.runs] == [
        ("raw, change [2024-01-02]", ()),
        ("raw, change [2024-01-03]", (0,)),
    ]


def test_missing_mode_plans_only_partitions_the_status_view_has_not_seen():
    regions = StaticPartitionsDefinition(["eu", "us", "apac"])

    @asset(partitions_def=regions)
    def sales(context):
        return 1

    @asset
    def dashboard(sales):
        return 1

    class Seen:
        def materialized_subset(self, key, partitions_def):
            if partitions_def is None:
                return True  # the dashboard exists
            return partitions_def.subset_with_partition_keys(["eu"])

    defs = Definitions(assets=[sales, dashboard])
    plan = plan_backfill(defs.asset_graph, missing_in=Seen(), current_time=NOW)
    assert [r.describe() for r in plan.runs] == ["sales [us]", "sales [apac]"]


def test_max_concurrent_runs_caps_what_next_runs_returns():
    _, plan = _plan(unrelated, max_concurrent_runs=3)
    state = BackfillState(plan)
    first = state.next_runs()
    assert first == [0, 1, 2]
    state.mark_in_progress(0)
    assert state.next_runs() == [1, 2]
    state.mark_succeeded(0)
    assert state.next_runs() == [1, 2, 3]


def test_cancel_then_resume_runs_what_was_left():
    _, plan = _plan(unrelated)
    state = BackfillState(plan)
    state.mark_in_progress(0)
    state.mark_succeeded(0)
    assert len(state.cancel()) == 29
    assert state.is_finished and state.next_runs() == []
    assert state.counts()["canceled"] == 29
    assert len(state.resume()) == 29
    assert state.next_runs() == [1]


def test_state_round_trips_through_json():
    flaky.broken = True
    defs, plan = _plan(raw, cleaned)
    state = _run(defs, BackfillState(plan, backfill_id="b-1"))
    again = BackfillState.from_json(state.to_json())
    assert again.backfill_id == "b-1"
    assert again.counts() == state.counts()
    assert again.partition_counts() == state.partition_counts()
    assert again.plan == state.plan
    assert [p.reason for p in again.progress] == [p.reason for p in state.progress]


def test_invalid_transitions_and_requests_are_rejected():
    _, plan = _plan(unrelated)
    state = BackfillState(plan)
    with pytest.raises(BackfillStateError, match="it is requested, not in_progress"):
        state.mark_succeeded(0)
    with pytest.raises(BackfillPlanError, match="say what to backfill"):
        plan_backfill(Definitions(assets=[unrelated]).asset_graph)
    with pytest.raises(PartitionSelectionError, match="does not exist"):
        _plan(unrelated, partition_key_range=PartitionKeyRange("2024-01-01", "2025-01-01"))


def test_every_run_follows_the_runs_it_waits_for_and_covers_each_partition_once():
    import random

    rng = random.Random(7)
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")
    shapes = [
        {"partitions_def": daily},
        {"partitions_def": daily, "backfill_policy": BackfillPolicy.multi_run(3)},
        {"partitions_def": daily, "backfill_policy": BackfillPolicy.single_run()},
        {"partitions_def": monthly},
        {},
    ]
    assets = []
    for i in range(60):
        parents = rng.sample(range(i), min(i, rng.randint(0, 3)))
        assets.append(
            asset(
                lambda: None,
                name=f"a{i}",
                deps=[f"a{p}" for p in parents],
                **rng.choice(shapes),
            )
        )
    defs = Definitions(assets=assets)
    plan = plan_backfill(
        defs.asset_graph,
        partition_key_range=PartitionKeyRange("2024-01-25", "2024-02-10"),
        current_time=NOW,
    )
    seen = set()
    for index, run in enumerate(plan.runs):
        assert all(dep < index for dep in run.depends_on)
        for key in run.asset_keys:
            for partition in run.partition_keys or (None,):
                assert (key, partition) not in seen
                seen.add((key, partition))
    graph = defs.asset_graph
    for run in plan.runs:
        # A run waits only for runs that produce something upstream of it.
        upstream = graph.upstream(run.asset_keys, include_self=False)
        for dep in run.depends_on:
            assert upstream & set(plan.runs[dep].asset_keys)
    assert {k for k, _ in seen} == set(defs.asset_graph.nodes)


def test_a_monthly_root_in_a_daily_backfill_runs_the_months_the_range_touches():
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=monthly)
    def budget(context):
        return 1

    _, plan = _plan(
        unrelated, budget, partition_key_range=PartitionKeyRange("2024-01-30", "2024-02-02")
    )
    assert [r.describe() for r in plan.runs if r.asset_keys == (AssetKey("budget"),)] == [
        "budget [2024-01-01]",
        "budget [2024-02-01]",
    ]


def test_a_failed_asset_is_reported_failed_even_when_its_blocking_check_is_skipped():
    flaky.broken = True

    @asset_check(asset=raw, blocking=True)
    def not_empty(raw):
        return AssetCheckResult(passed=bool(raw))

    defs = Definitions(assets=[raw], asset_checks=[not_empty])
    plan = plan_backfill(
        defs.asset_graph, partition_keys=[BAD_DAY], current_time=NOW, max_concurrent_runs=1
    )
    state = _run(defs, BackfillState(plan))
    assert state.status_of(AssetKey("raw"), BAD_DAY) is BackfillStatus.FAILED
    assert state.partition_counts()["failed"] == 1 and state.partition_counts()["skipped"] == 0


def test_backfill_runs_are_recorded_in_the_instance_and_an_interrupt_ends_its_run():
    instance = LocalInstance.ephemeral()

    @asset(partitions_def=daily)
    def stops_on_the_third(context):
        if context.partition_key == "2024-01-03":
            raise KeyboardInterrupt
        return 1

    defs = Definitions(assets=[stops_on_the_third])
    plan = plan_backfill(
        defs.asset_graph,
        partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-05"),
        current_time=NOW,
    )
    state = BackfillState(plan)
    with pytest.raises(KeyboardInterrupt):
        execute_backfill(
            state,
            graph=defs.asset_graph,
            resources={"io_manager": InMemoryIOManager()},
            current_time=NOW,
            instance=instance,
        )
    key = AssetKey("stops_on_the_third")
    assert list(instance.materialized_subset(key, daily)) == ["2024-01-01", "2024-01-02"]
    assert not instance.in_progress_subset(key, daily)  # the interrupted run ended
    assert instance.run_status(state.progress[2].run_id) == "failed"
    assert [p.status.value for p in state.progress] == [
        "succeeded",
        "succeeded",
        "canceled",
        "canceled",
        "canceled",
    ]


def test_a_partition_request_over_unpartitioned_assets_only_is_rejected():
    @asset
    def lookup():
        return 1

    with pytest.raises(BackfillPlanError, match="none of the selected assets is partitioned"):
        _plan(lookup)


def test_dynamic_partitions_plan_without_a_store_gives_each_key_a_run():
    customers = DynamicPartitionsDefinition(name="customers")

    @asset(partitions_def=customers, backfill_policy=BackfillPolicy.single_run())
    def export(context):
        return 1

    defs = Definitions(assets=[export])
    plan = plan_backfill(defs.asset_graph, partition_keys=["globex", "acme"])
    assert [r.describe() for r in plan.runs] == ["export [acme]", "export [globex]"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "a backfill state is JSON"),
        ('{"version": 7, "runs": []}', "version 7 is not supported"),
        ('{"version": 1, "runs": [{"asset_keys": ["raw"]}]}', "not a valid backfill state"),
        (
            '{"version": 1, "backfill_id": "b", "max_concurrent_runs": 1, "runs": ['
            '{"asset_keys": ["raw"], "partition_keys": [], "depends_on": [3], '
            '"status": "requested"}]}',
            "waits for a run that does not come before it",
        ),
    ],
)
def test_a_saved_state_that_is_not_valid_is_rejected_with_a_clear_error(text, message):
    with pytest.raises(BackfillStateError, match=message):
        BackfillState.from_json(text)


def test_a_date_range_backfills_every_region_of_a_date_by_region_asset():
    by_region = MultiPartitionsDefinition(
        {"date": daily, "region": StaticPartitionsDefinition(["eu", "us"])}
    )

    @asset(partitions_def=by_region)
    def regional_sales(context):
        return context.partition_key

    @asset(partitions_def=daily)
    def global_sales(regional_sales):  # every region of its day
        return sorted(regional_sales)

    defs, plan = _plan(
        regional_sales,
        global_sales,
        partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-02"),
    )
    assert [r.describe() for r in plan.runs] == [
        "regional_sales [2024-01-01|eu]",
        "regional_sales [2024-01-01|us]",
        "regional_sales [2024-01-02|eu]",
        "regional_sales [2024-01-02|us]",
        "global_sales [2024-01-01]",
        "global_sales [2024-01-02]",
    ]
    assert plan.runs[4].depends_on == (0, 1)
    state = _run(defs, BackfillState(plan))
    assert state.counts()["succeeded"] == 6


def test_a_list_with_a_misspelt_partition_key_is_refused_naming_it():
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=daily)
    def events() -> int:
        return 1

    graph = Definitions(assets=[events]).asset_graph
    with pytest.raises(BackfillPlanError, match=r"'2024-13-01' do not exist for 'events'"):
        plan_backfill(
            graph,
            "events",
            partition_keys=["2024-01-02", "2024-13-01"],
            current_time=datetime(2024, 3, 1, tzinfo=UTC),
        )
