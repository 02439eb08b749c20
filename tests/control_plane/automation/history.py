"""One history of runs, written both to the control plane (launched runs, events ingested
the way an agent's arrive, status changes) and to the SDK's ``LocalInstance``, so the
catalog's status view can be compared with the reference implementation."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from assay import Definitions, asset
from assay.automation import AutomationCondition
from assay.definitions.asset_key import AssetKey
from assay.execution.events import Event, EventType
from assay.instance import LocalInstance
from assay.snapshot import build_snapshot
from control_plane.automation.declarative import ensure_state, save_status
from control_plane.automation.models import AutomationState
from control_plane.automation.status_view import CatalogStatusView
from control_plane.catalog.deployment_graph import DeploymentGraph, deployment_graph
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.runs import services
from control_plane.runs.ingest import (
    IncomingEvent,
    IncomingStatusChange,
    ingest_events,
    ingest_status_change,
)
from control_plane.runs.models import Run, RunStatus
from control_plane.tenancy.models import CodeLocation, Deployment

AGENT_ID = "history-agent"


@asset
def orders() -> None: ...


@asset(automation_condition=AutomationCondition.eager(), deps=["orders"])
def order_count() -> None: ...


SHOP = Definitions(assets=[orders, order_count])  # an eager child of a plain parent


def load_definitions(ctx: TenantContext, deployment: Deployment, name: str, defs: Definitions):
    """Record ``defs`` as the current snapshot of code location ``name`` (as an agent would)."""
    snapshot = build_snapshot(defs)
    agent = TenantContext(organization=ctx.organization, principal=Principal.system("agent"))
    with tenant_context(ctx):
        record_location_snapshot(
            ctx=agent,
            deployment=deployment,
            location_name=name,
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
        return CodeLocation.objects.get(deployment=deployment, name=name)


@dataclass
class RunHandle:
    run: Run
    key: str
    partition: str | None


@dataclass
class History:
    """Write runs and their events to both stores, one clock for both."""

    ctx: TenantContext
    deployment: Deployment
    location: CodeLocation
    clock: float
    local: LocalInstance = field(default_factory=LocalInstance.ephemeral)
    agent_id: str = AGENT_ID
    _sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- writing -------------------------------------------------------------------
    def launch(self, selection: str, partition: str | None = None) -> Run:
        """Queue a run through the run service (the control plane only: nothing ran yet)."""
        with tenant_context(self.ctx):
            return services.launch_run(
                ctx=self.ctx,
                deployment=self.deployment,
                location=self.location,
                selection=selection,
                partition_key=partition or "",
            )

    def begin(self, run: Run) -> None:
        """The agent reports the run started."""
        self.set_status(run, RunStatus.STARTED)
        self.send([self.event(run, EventType.RUN_STARTED)])

    def step(self, run: Run, key: str, partition: str | None = None, *, ok: bool = True) -> None:
        """One step of ``run`` from start to end: materialized, or failed."""
        kinds = [EventType.STEP_STARTED]
        kinds += (
            [EventType.ASSET_MATERIALIZATION, EventType.STEP_SUCCEEDED]
            if ok
            else [EventType.STEP_FAILED]
        )
        self.send([self.event(run, kind, key, partition) for kind in kinds])

    def end(self, run: Run, *, ok: bool = True) -> None:
        """The run ends (its status reported by the agent)."""
        self.send([self.event(run, EventType.RUN_SUCCEEDED if ok else EventType.RUN_FAILED)])
        self.set_status(run, RunStatus.SUCCESS if ok else RunStatus.FAILURE)

    def start(self, key: str, partition: str | None = None) -> RunHandle:
        """Launch a run of one asset (partition), start it and start its step."""
        run = self.launch(key, partition)
        self.begin(run)
        self.send([self.event(run, EventType.STEP_STARTED, key, partition)])
        return RunHandle(run, key, partition)

    def succeed(self, handle: RunHandle, *, observe: bool = False) -> None:
        kind = EventType.ASSET_OBSERVATION if observe else EventType.ASSET_MATERIALIZATION
        run, key, partition = handle.run, handle.key, handle.partition
        self.send(
            [
                self.event(run, kind, key, partition),
                self.event(run, EventType.STEP_SUCCEEDED, key, partition),
                self.event(run, EventType.RUN_SUCCEEDED),
            ]
        )
        self.set_status(run, RunStatus.SUCCESS)

    def fail(self, handle: RunHandle) -> None:
        run, key, partition = handle.run, handle.key, handle.partition
        self.send(
            [
                self.event(run, EventType.STEP_FAILED, key, partition),
                self.event(run, EventType.RUN_FAILED),
            ]
        )
        self.set_status(run, RunStatus.FAILURE)

    def materialize(self, key: str, partition: str | None = None) -> None:
        self.succeed(self.start(key, partition))

    def event(
        self, run: Run, kind: EventType, key: str | None = None, partition: str | None = None
    ) -> Event:
        self.clock += 1
        return Event(
            kind,
            str(run.id),
            None if key is None else AssetKey.from_user_string(key),
            key,
            {"code_version": None} if kind is EventType.ASSET_MATERIALIZATION else {},
            partition,
            timestamp=self.clock,
        )

    def send(self, events: list[Event]) -> None:
        """Record ``events`` in the LocalInstance and ingest them as an agent's batch."""
        self.local.store_events(events)
        incoming = [
            IncomingEvent(
                e.id, next(self._sequence), e.run_id, e.type.value, e.timestamp, e.to_dict()
            )
            for e in events
        ]
        with tenant_context(self.ctx):
            result = ingest_events(
                ctx=self.ctx,
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                events=incoming,
            )
        assert not result.rejected, result.rejected

    def set_status(self, run: Run, status: RunStatus) -> None:
        self.clock += 1
        change = IncomingStatusChange(
            uuid.uuid4().hex, next(self._sequence), str(run.id), status, "", self.clock
        )
        with tenant_context(self.ctx):
            ingest_status_change(
                ctx=self.ctx,
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                change=change,
            )

    # -- reading, as the automation tick does ----------------------------------------
    def graph(self) -> DeploymentGraph:
        with tenant_context(self.ctx):
            graph = deployment_graph(deployment=self.deployment)
        assert graph is not None
        return graph

    def view(self, *, now: datetime) -> tuple[CatalogStatusView, AutomationState]:
        """The catalog's status view as the next tick would build it."""
        with tenant_context(self.ctx):
            ensure_state(deployment=self.deployment)
            state = AutomationState.objects.get(deployment=self.deployment)
            view = CatalogStatusView(
                deployment=self.deployment,
                partitions_defs=self.graph().partitions_defs,
                previous_storage_id=state.storage_id,
                previous_in_progress=state.in_progress,
                now=now,
            )
        return view, state

    def end_tick(self, view: CatalogStatusView, state: AutomationState) -> None:
        """What the tick saves after evaluating: the fold and the storage id it saw."""
        with tenant_context(self.ctx):
            save_status(view=view, state=state)
