"""The catalog's status view answers what the SDK's LocalInstance answers for the same
history, tick after tick, and the automation engine decides the same on both."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from assay import AssetKey, DailyPartitionsDefinition, Definitions, StaticPartitionsDefinition
from assay import asset as asset_decorator
from assay.automation import AutomationCondition as AC
from assay.automation import evaluate_automation_conditions
from control_plane.catalog.models import AssetStatusChange, AssetStatusSummary
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.automation.history import History, load_definitions

DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
T = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)  # daily partitions 2024-01-01 .. 2024-01-09
LATEST = "2024-01-09"


def _definitions(raw_partitions=DAILY) -> Definitions:
    @asset_decorator(partitions_def=raw_partitions)
    def raw() -> None: ...

    @asset_decorator(partitions_def=DAILY, automation_condition=AC.eager(), deps=["raw"])
    def clean() -> None: ...

    @asset_decorator
    def source() -> None: ...

    @asset_decorator(automation_condition=AC.eager(), deps=["source"])
    def summary() -> None: ...

    @asset_decorator(automation_condition=AC.on_cron("0 * * * *"), deps=["summary"])
    def hourly() -> None: ...

    return Definitions(assets=[raw, clean, source, summary, hourly])


@pytest.fixture
def history(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_definitions(ctx, prod, "shop", _definitions())
    return History(ctx, prod, location, clock=T.timestamp() - 600)


class Ticker:
    """Evaluates the same graph over the LocalInstance and over the catalog, side by side."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.graph = history.graph()
        self.local_cursor = None
        self.catalog_cursor = None
        self.local_seen = None  # the storage id each side's previous tick saw
        self.catalog_seen = None

    def tick(self, at: datetime) -> dict[str, list]:
        """One tick on both sides; asserts they agree on status and on what to request."""
        history, graph = self.history, self.graph.graph
        view, state = history.view(now=at)
        self.assert_same_status(view)
        local = evaluate_automation_conditions(
            defs=graph, instance=history.local, evaluation_time=at, cursor=self.local_cursor
        )
        with tenant_context(history.ctx):
            catalog = evaluate_automation_conditions(
                defs=graph, instance=view, evaluation_time=at, cursor=self.catalog_cursor
            )
        assert _requested(catalog) == _requested(local)
        self.local_cursor, self.catalog_cursor = local.cursor, catalog.cursor
        self.local_seen = history.local.latest_storage_id()
        self.catalog_seen = view.latest_storage_id()
        history.end_tick(view, state)
        return _requested(catalog)

    def assert_same_status(self, view) -> None:
        local = self.history.local
        with tenant_context(self.history.ctx):
            for key, pd in self.graph.partitions_defs.items():
                for question in ("materialized_subset", "failed_subset", "in_progress_subset"):
                    ours = getattr(view, question)(key, pd)
                    theirs = getattr(local, question)(key, pd)
                    assert sorted(ours) == sorted(theirs), (question, key)
                if self.local_seen is not None:
                    ours = view.updated_subset(key, pd, after_storage_id=self.catalog_seen)
                    theirs = local.updated_subset(key, pd, after_storage_id=self.local_seen)
                    assert sorted(ours) == sorted(theirs), ("updated_subset", key)
            if self.local_seen is not None:
                assert view.changed_asset_keys(
                    after_storage_id=self.catalog_seen
                ) == local.changed_asset_keys(after_storage_id=self.local_seen)


def _requested(result) -> dict[str, list]:
    return {k.to_user_string(): sorted(s) for k, s in result.requested.items()}


def test_status_and_decisions_match_the_local_instance_tick_after_tick(history):
    ticker = Ticker(history)
    assert ticker.tick(T) == {}  # the first tick has no "since"

    history.materialize("raw", LATEST)
    history.materialize("source")
    assert ticker.tick(T + timedelta(minutes=5)) == {"clean": [LATEST], "summary": [None]}

    running = history.start("clean", LATEST)
    history.fail(history.start("summary"))
    history.materialize("raw", LATEST)  # the parent updates again while clean is running
    assert ticker.tick(T + timedelta(minutes=10)) == {}  # clean is in progress

    history.succeed(running)
    history.materialize("raw", "2024-01-05")  # an old partition: not in the latest window
    history.materialize("summary")
    ticker.tick(T + timedelta(minutes=15))

    history.clock = (T + timedelta(minutes=45)).timestamp()  # after the 01:00 cron tick
    ticker.tick(T + timedelta(minutes=40))
    history.materialize("summary")
    assert ticker.tick(T + timedelta(minutes=50))["hourly"] == [None]

    view, _ = history.view(now=T + timedelta(minutes=55))
    with tenant_context(history.ctx):
        assert sorted(view.updated_since_time(AssetKey("raw"), DAILY, timestamp=0)) == [
            "2024-01-05",
            LATEST,
        ]
        record = view.latest_materialization(AssetKey("raw"), LATEST)
    theirs = history.local.latest_materialization(AssetKey("raw"), LATEST)
    assert (record.timestamp, record.run_id) == (theirs.timestamp, theirs.run_id)


def test_every_status_change_is_folded_into_one_row_per_asset_and_the_queue_emptied(history):
    history.materialize("raw", LATEST)
    history.materialize("raw", "2024-01-08")
    history.fail(history.start("raw", "2024-01-07"))
    view, state = history.view(now=T)
    history.end_tick(view, state)

    with tenant_context(history.ctx):
        assert not AssetStatusChange.objects.exists()
        [summary] = AssetStatusSummary.objects.all()
        assert summary.asset_key == "raw"
        again, _ = history.view(now=T)
        assert sorted(again.materialized_subset(AssetKey("raw"), DAILY)) == ["2024-01-08", LATEST]
        assert sorted(again.failed_subset(AssetKey("raw"), DAILY)) == ["2024-01-07"]
        assert not again.updated_subset(
            AssetKey("raw"), DAILY, after_storage_id=again.latest_storage_id()
        )


def test_a_queued_run_is_in_progress_for_its_whole_target_until_each_asset_finishes(history):
    run = history.launch("raw+", LATEST)
    view, state = history.view(now=T)
    with tenant_context(history.ctx):
        assert view.changed_asset_keys(after_storage_id=view.latest_storage_id()) == {
            AssetKey("raw"),
            AssetKey("clean"),
        }
        assert list(view.in_progress_subset(AssetKey("clean"), DAILY)) == [LATEST]
    history.end_tick(view, state)

    # The run starts and raw finishes: clean, still waiting for its step, stays in progress.
    history.begin(run)
    history.step(run, "raw", LATEST)
    view, state = history.view(now=T)
    with tenant_context(history.ctx):
        assert not view.in_progress_subset(AssetKey("raw"), DAILY)
        assert list(view.in_progress_subset(AssetKey("clean"), DAILY)) == [LATEST]
        assert view.changed_asset_keys(after_storage_id=state.storage_id) == {AssetKey("raw")}
    history.end_tick(view, state)

    history.step(run, "clean", LATEST, ok=False)
    view, _ = history.view(now=T)
    with tenant_context(history.ctx):
        assert not view.in_progress_subset(AssetKey("clean"), DAILY)
        assert list(view.failed_subset(AssetKey("clean"), DAILY)) == [LATEST]


def test_a_change_that_commits_after_a_tick_saw_a_higher_id_is_new_to_the_next_tick_only(
    acme, transactional_db
):
    require_postgresql()  # an ingest and a tick in two transactions at once
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_definitions(ctx, prod, "shop", _definitions())
    history = History(ctx, prod, location, clock=T.timestamp())
    other_agent = History(ctx, prod, location, clock=T.timestamp(), agent_id="other-agent")
    first = history.start("raw", LATEST)
    # Another asset: two ingests of one asset on one day take turns on its credit rollup
    # row (billing's DailyUsage), so the slow one would hold the fast one back.
    second = other_agent.launch("clean", "2024-01-02")
    slow_started, release = threading.Event(), threading.Event()

    def slow_ingest() -> None:
        try:
            with transaction.atomic():  # takes its event ids first, commits last
                other_agent.begin(second)
                other_agent.step(second, "clean", "2024-01-02")
                slow_started.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_ingest)
    thread.start()
    assert slow_started.wait(30)
    history.succeed(first)  # higher event ids, committed first
    view, state = history.view(now=T)
    with tenant_context(ctx):
        assert list(view.updated_subset(AssetKey("raw"), DAILY, after_storage_id=0)) == [LATEST]
    seen = view.latest_storage_id()
    history.end_tick(view, state)
    release.set()
    thread.join()

    view, state = history.view(now=T)
    with tenant_context(ctx):
        late = view.updated_subset(AssetKey("clean"), DAILY, after_storage_id=seen)
        assert list(late) == ["2024-01-02"]
        assert AssetKey("clean") in view.changed_asset_keys(after_storage_id=seen)
    history.end_tick(view, state)
    view, _ = history.view(now=T)
    with tenant_context(ctx):
        assert not view.updated_subset(
            AssetKey("clean"), DAILY, after_storage_id=view.latest_storage_id() - 1
        )
        assert list(view.materialized_subset(AssetKey("raw"), DAILY)) == [LATEST]
        assert list(view.materialized_subset(AssetKey("clean"), DAILY)) == ["2024-01-02"]


def test_a_summary_is_rebuilt_from_the_history_when_the_partitioning_changes_shape(acme, history):
    history.materialize("raw", LATEST)
    history.materialize("raw", "2024-01-08")
    view, state = history.view(now=T)
    history.end_tick(view, state)

    regions = StaticPartitionsDefinition([LATEST, "eu"])  # one old key still exists
    load_definitions(history.ctx, history.deployment, "shop", _definitions(regions))
    view, state = history.view(now=T)
    with tenant_context(history.ctx):
        assert list(view.materialized_subset(AssetKey("raw"), regions)) == [LATEST]
    history.end_tick(view, state)
    with tenant_context(history.ctx):
        stored = AssetStatusSummary.objects.get(asset_key="raw")
    assert '"keys"' in stored.materialized


def test_changes_of_an_asset_no_location_defines_stay_queued(history):
    history.materialize("raw", LATEST)
    with tenant_context(history.ctx):
        AssetStatusChange.objects.update(asset_key="gone")
    view, state = history.view(now=T)
    history.end_tick(view, state)
    with tenant_context(history.ctx):
        assert list(AssetStatusChange.objects.values_list("asset_key", flat=True)) == ["gone"]
        assert not AssetStatusSummary.objects.exists()


def test_a_failed_step_over_several_partitions_marks_each_of_them_failed(acme, history):
    """A single-run backfill's step reports its partitions as a subset, not one key: each
    is failed in the catalog and for automation, as in the SDK's local instance."""
    from assay.execution.events import Event, EventType
    from control_plane.catalog.models import AssetPartitionStatus

    days = ["2024-01-03", "2024-01-04", "2024-01-05"]
    run = history.launch("clean", days[0])
    history.begin(run)
    history.clock += 1
    subset = DAILY.subset_with_partition_keys(days).to_serializable()
    failed = Event(
        EventType.STEP_FAILED,
        str(run.id),
        AssetKey("raw"),
        "raw",
        {"message": "boom", "partition_key_range": [days[0], days[-1]], "partition_subset": subset},
        None,
        timestamp=history.clock,
    )
    history.send([failed])
    view, _ = history.view(now=T)
    assert sorted(view.failed_subset(AssetKey("raw"), DAILY)) == days
    assert sorted(history.local.failed_subset(AssetKey("raw"), DAILY)) == days
    with tenant_context(acme.ctx()):
        stored = AssetPartitionStatus.objects.filter(asset_key="raw").order_by("partition")
        assert [(s.partition, s.status) for s in stored] == [(d, "failed") for d in days]


def test_updated_since_a_time_is_read_once_per_asset_and_time_in_a_tick(history):
    """Every child of a parent asks about it (``all_deps_updated_since_cron``): one read."""
    history.materialize("raw", LATEST)
    view, _ = history.view(now=T)
    raw = AssetKey("raw")
    since = T.timestamp() - 3600
    with tenant_context(history.ctx):
        with CaptureQueriesContext(connection) as first:
            answer = view.updated_since_time(raw, DAILY, timestamp=since)
        with CaptureQueriesContext(connection) as again:
            assert view.updated_since_time(raw, DAILY, timestamp=since) == answer
        assert sorted(answer) == [LATEST] and len(first) > 0
        assert len(again) == 0
        assert not view.updated_since_time(raw, DAILY, timestamp=T.timestamp() + 60)
