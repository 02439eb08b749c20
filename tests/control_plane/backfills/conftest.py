"""A deployment with the backfill project loaded, and an in-process agent that executes
queued runs with the SDK and reports them through ``runs.ingest`` as the real agent does."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from assay import Definitions, FilesystemIOManager, InProcessExecutor, PartitionKeyRange
from assay.execution.materialize import execute_run
from assay.partitions import InMemoryDynamicPartitionsStore
from assay.snapshot import build_snapshot
from control_plane.backfills.loop import tick_backfills
from control_plane.backfills.models import Backfill
from control_plane.catalog.dynamic_partitions import dynamic_keys_for_snapshot
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import TenantContext, tenant_context
from control_plane.runs.ingest import (
    IncomingEvent,
    IncomingStatusChange,
    ingest_events,
    ingest_status_change,
)
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from control_plane.runs.services import AGENT_STATUSES
from control_plane.tenancy import queries
from control_plane.tenancy.models import CodeLocation, Deployment
from tests.control_plane.backfills import project
from tests.control_plane.factories import agent_ctx

URL = "/api/v1/orgs/acme/deployments/prod/backfills/"


def load_definitions(ctx: TenantContext, deployment: Deployment, name: str, defs: Definitions):
    """Register ``defs`` as code location ``name``, as an agent's snapshot would."""
    snapshot = build_snapshot(defs)
    with tenant_context(ctx):
        record_location_snapshot(
            ctx=agent_ctx(ctx),
            deployment=deployment,
            location_name=name,
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
        return CodeLocation.objects.get(deployment=deployment, name=name)


@dataclass
class LocalAgent:
    """Executes runs with the SDK in this process; reports events, then the run's status."""

    ctx: TenantContext
    deployment: Deployment
    definitions: dict[str, Definitions]  # location name -> its definitions
    storage: str
    agent_id: str = "local-agent"
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    def queued(self) -> list[Run]:
        with tenant_context(self.ctx):
            return list(
                Run.objects.filter(deployment=self.deployment, status=RunStatus.QUEUED)
                .select_related("code_location")
                .order_by("created_at")
            )

    def start(self, run: Run) -> None:
        self.report_status(run, "STARTED")

    def execute(self, run: Run) -> None:
        """Run it to the end: events as the executor emitted them, then SUCCEEDED/FAILED."""
        self.start(run)
        defs = self.definitions[run.code_location.name]
        start, end = run.partition_range_start, run.partition_range_end
        with tenant_context(self.ctx):  # what the launch sends an agent (LaunchRun)
            dynamic = dynamic_keys_for_snapshot(
                deployment=self.deployment, snapshot_id=run.snapshot_id
            )
        result = execute_run(
            defs.asset_graph,
            {"io_manager": FilesystemIOManager(base_dir=self.storage)},
            run.selection,
            executor=InProcessExecutor(),
            run_id=str(run.id),
            partition_key=run.partition_key or None,
            partition_key_range=PartitionKeyRange(start, end) if start else None,
            dynamic_partitions_store=InMemoryDynamicPartitionsStore(dynamic),
        )
        events = [
            IncomingEvent(e.id, seq, e.run_id, e.type.value, e.timestamp, e.to_dict())
            for e, seq in zip(result.events, self.sequence, strict=False)
        ]
        with tenant_context(self.ctx):
            ingest_events(
                ctx=agent_ctx(self.ctx),
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                events=events,
            )
        status = "SUCCEEDED" if result.success else "FAILED"
        self.report_status(run, status, reason=result.failure_message or "")

    def report_status(self, run: Run, status: str, *, reason: str = "") -> None:
        sequence = next(self.sequence)
        with tenant_context(self.ctx):
            ingest_status_change(
                ctx=agent_ctx(self.ctx),
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                change=IncomingStatusChange(
                    f"status-{sequence}",
                    sequence,
                    str(run.id),
                    AGENT_STATUSES[status],
                    reason,
                    1_700_000_000.0 + sequence,
                ),
            )

    def run_queued(self) -> list[Run]:
        runs = self.queued()
        for run in runs:
            self.execute(run)
        return runs

    def drive(self, backfill_id, *, max_passes: int = 200) -> Backfill:
        """Daemon pass, execute what it queued, until the backfill is no longer active."""
        for _ in range(max_passes):
            tick_backfills()
            backfill = Backfill.objects.unscoped().get(pk=backfill_id)
            if not backfill.is_active:
                return backfill
            self.run_queued()
        raise AssertionError(f"backfill {backfill_id} still {backfill.status}")


@pytest.fixture
def prod(acme) -> Deployment:
    with tenant_context(acme.ctx()):
        return queries.get_deployment(name="prod")


@pytest.fixture
def shop(acme, prod) -> CodeLocation:
    return load_definitions(acme.ctx(), prod, "shop", project.DEFINITIONS)


@pytest.fixture
def agent(acme, prod, shop, tmp_path) -> LocalAgent:
    project.BROKEN.clear()
    return LocalAgent(acme.ctx(), prod, {"shop": project.DEFINITIONS}, str(tmp_path / "storage"))


def runs_of(acme, **filters) -> list[Run]:
    with tenant_context(acme.ctx()):
        return list(
            Run.objects.filter(**filters).select_related("code_location").order_by("created_at")
        )


def is_finished(run: Run) -> bool:
    return run.status in TERMINAL_STATUSES
