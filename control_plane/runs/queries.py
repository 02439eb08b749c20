"""Run reads shared by the REST API, the servicer and the daemon."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from control_plane.runs.errors import RunNotFound
from control_plane.runs.models import EventLogEntry, Run
from control_plane.tenancy.models import Deployment


def get_run(*, deployment: Deployment, run_id: str) -> Run:
    try:
        key = uuid.UUID(str(run_id))
    except ValueError:
        raise RunNotFound("run not found") from None
    run = (
        Run.objects.select_related("deployment", "code_location")
        .filter(pk=key, deployment=deployment)
        .first()
    )
    if run is None:
        raise RunNotFound("run not found")
    return run


def runs_of(*, deployment: Deployment, status: str | None = None) -> QuerySet[Run]:
    queryset = Run.objects.filter(deployment=deployment).select_related("code_location")
    return queryset.filter(status=status) if status else queryset


def events_of(*, run: Run) -> QuerySet[EventLogEntry]:
    return EventLogEntry.objects.filter(run=run)
