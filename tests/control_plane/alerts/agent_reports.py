"""What an agent tells the control plane about a run, sent through the real ingest path.

The run is executed with the SDK (as the agent's run worker does), and its events and
status changes go through ``runs.ingest`` under one per-agent sequence, exactly as the
agent's outbox would deliver them.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from assay import Definitions, materialize
from assay.execution.events import Event
from control_plane.core.context import TenantContext, tenant_context
from control_plane.runs.ingest import (
    IncomingEvent,
    IncomingStatusChange,
    ingest_events,
    ingest_status_change,
)
from control_plane.runs.models import Run, RunStatus
from control_plane.runs.services import AGENT_STATUSES
from control_plane.tenancy.models import Deployment


@dataclass
class AgentReports:
    ctx: TenantContext
    deployment: Deployment
    agent_id: str = "agent-1"
    sequence: int = 0

    def execute(self, run: Run, definitions: Definitions, *, ago: timedelta = timedelta(0)):
        """Run ``run`` with the SDK and report it: started, its events, then the outcome.

        ``ago`` backdates the report, as when an agent's outbox delivers a run it executed
        while the control plane could not be reached.
        """
        self.status(run, "STARTED", ago=ago)
        events: list[Event] = []
        result = materialize(
            definitions,
            selection=run.selection or None,
            run_id=str(run.id),
            partition_key=run.partition_key or None,
            on_event=events.append,
        )
        self.events(run, events, ago=ago)
        self.status(run, "SUCCEEDED" if result.success else "FAILED", ago=ago)
        return result

    def events(self, run: Run, events: list[Event], *, ago: timedelta = timedelta(0)) -> None:
        incoming = []
        for event in events:
            self.sequence += 1
            data = event.to_dict()
            data["timestamp"] = event.timestamp - ago.total_seconds()
            incoming.append(
                IncomingEvent(
                    event_id=event.id,
                    sequence=self.sequence,
                    run_id=str(run.id),
                    event_type=event.type.value,
                    timestamp=data["timestamp"],
                    payload=data,
                    payload_json=json.dumps(data),
                )
            )
        with tenant_context(self.ctx):
            result = ingest_events(
                ctx=self.ctx,
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                events=incoming,
            )
        assert not result.rejected, result.rejected

    def status(
        self, run: Run, status: str, *, reason: str = "", ago: timedelta = timedelta(0)
    ) -> None:
        self.sequence += 1
        change = IncomingStatusChange(
            change_id=uuid.uuid4().hex,
            sequence=self.sequence,
            run_id=str(run.id),
            status=AGENT_STATUSES[status],
            reason=reason,
            timestamp=time.time() - ago.total_seconds(),
        )
        with tenant_context(self.ctx):
            result = ingest_status_change(
                ctx=self.ctx,
                agent_id=self.agent_id,
                deployment_ids={self.deployment.pk},
                change=change,
            )
        assert not result.rejected, result.rejected


def run_status(ctx: TenantContext, run: Run) -> RunStatus:
    with tenant_context(ctx):
        run.refresh_from_db()
    return RunStatus(run.status)
