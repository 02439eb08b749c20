"""The declarative automation loop: per deployment, one ``assay.automation`` tick per interval.

A tick rebuilds (or reuses) the deployment's graph from its current snapshots, reads the
catalog through :class:`CatalogStatusView`, calls the SDK's
``evaluate_automation_conditions`` with the cursor the previous tick left, and in one
transaction queues the requested runs, stores every evaluated asset's explanation, folds
the status changes it consumed and saves the new cursor. A tick that raises keeps none of
that (the next one starts from the same cursor) and is recorded as failed with its error.

Replica-safe twice over: the deployment's ``AutomationState`` row stays locked for the
whole tick (a replica that finds it locked skips the deployment), and the tick row is
claimed per interval, so an interval is evaluated once however many replicas run.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assay.automation import AutomationCursor, evaluate_automation_conditions
from assay.automation.collector import collector_paused
from assay.automation.errors import InvalidAutomationCursor
from control_plane.automation import ticks
from control_plane.automation.evaluations import save_evaluations
from control_plane.automation.instigators import deployments_with_snapshots
from control_plane.automation.models import AutomationState, DaemonTick
from control_plane.automation.requested_runs import launch_requested_runs
from control_plane.automation.status_view import CatalogStatusView
from control_plane.catalog import asset_status
from control_plane.catalog import deployment_graph as deployment_graphs
from control_plane.catalog.deployment_graph import DeploymentGraph, deployment_graph
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.models import AssetStatusChange
from control_plane.core.context import current_context
from control_plane.core.errors import AssayError
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

MAX_LISTED = 100  # requested assets / skipped conditions named in a tick's details

# Deployment id -> (state version, the cursor that version saved): the next tick on this
# replica reuses the decoded cursor instead of parsing its JSON again.
_cursors: dict[int, tuple[int, AutomationCursor]] = {}
_cursors_lock = threading.Lock()


def tick_automation(*, now: datetime | None = None) -> int:
    """One pass over every deployment; returns the number of ticks recorded."""
    now = now or timezone.now()
    handled = 0
    ticks.fail_abandoned(loop=DaemonTick.Loop.AUTOMATION, now=now)
    deployments = deployments_with_snapshots()
    deployment_graphs.retain(deployment_ids=[d.pk for d in deployments])
    for deployment in deployments:
        with ticks.daemon_context(deployment, "automation"):
            if tick_deployment(deployment=deployment, now=now) is not None:
                handled += 1
    return handled


def tick_deployment(
    *, deployment: Deployment, now: datetime, interval: float | None = None
) -> DaemonTick | None:
    """Evaluate the deployment's automation once for the interval containing ``now``.

    None when there was nothing to do: automation is off (its status changes are still
    folded), no asset has a condition, the interval was already evaluated, or another
    replica is evaluating right now.
    """
    interval = settings.DAEMON_AUTOMATION_SECONDS if interval is None else interval
    try:
        graph, graph_error = deployment_graph(deployment=deployment), ""
    except Exception as exc:  # a snapshot the SDK cannot rebuild: say so in a tick
        log.exception("automation: cannot rebuild the graph of deployment %s", deployment.pk)
        graph, graph_error = None, f"the deployment's definitions cannot be rebuilt: {exc}"
    if graph is None and not graph_error:
        return None
    ensure_state(deployment=deployment)
    with transaction.atomic():
        state = (
            AutomationState.objects.select_for_update(skip_locked=True)
            .filter(deployment=deployment)
            .first()
        )
        if state is None:
            return None  # another replica is evaluating it
        if not state.enabled:
            if graph is not None:
                _fold_while_off(deployment, graph, state, now)
            return None
        if graph is not None and not graph.automated_keys and not _skipped(graph):
            _fold_only(deployment, graph, state, now)
            return None
        tick = ticks.claim_tick(
            deployment=deployment,
            loop=DaemonTick.Loop.AUTOMATION,
            tick_key=_interval_start(now, interval).isoformat(),
        )
        if tick is None:
            return None  # this interval was evaluated already
        if graph is None:
            return ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=graph_error)
        try:
            # The tick allocates ~10^6 short-lived, cycle-free objects per 10,000 assets
            # (results, explanations, rows): the cyclic collector would rescan that heap
            # over and over, doubling the tick.
            with collector_paused(), transaction.atomic():
                return _evaluate(deployment, graph, state, tick, now)
        except Exception as exc:
            log.exception("automation tick %s of deployment %s failed", tick.pk, deployment.pk)
            message = exc.message if isinstance(exc, AssayError) else f"{type(exc).__name__}: {exc}"
            return ticks.finish_tick(
                tick,
                status=DaemonTick.Status.FAILURE,
                error=f"nothing was launched; the next tick tries again: {message}",
            )


def ensure_state(*, deployment: Deployment) -> AutomationState:
    """The deployment's automation state, created (enabled) the first time it is needed."""
    state = AutomationState.objects.filter(deployment=deployment).first()
    if state is None:
        AutomationState.objects.bulk_create(
            [AutomationState(organization_id=deployment.organization_id, deployment=deployment)],
            ignore_conflicts=True,  # a replica may create it at the same time
        )
        state = AutomationState.objects.get(deployment=deployment)
    return state


def _evaluate(
    deployment: Deployment,
    graph: DeploymentGraph,
    state: AutomationState,
    tick: DaemonTick,
    now: datetime,
) -> DaemonTick:
    store = DeploymentDynamicPartitions(deployment)
    view = CatalogStatusView(
        deployment=deployment,
        partitions_defs=graph.partitions_defs,
        previous_storage_id=state.storage_id,
        previous_in_progress=state.in_progress,
        updated_while_off=state.updated_while_off,
        dynamic_partitions_store=store,
        now=now,
    )
    cursor, cursor_note = _previous_cursor(state)
    evaluation_time = now
    if cursor is not None and cursor.evaluation_time is not None:
        evaluation_time = max(now, cursor.evaluation_time)  # replicas' clocks may differ
    result = evaluate_automation_conditions(
        defs=graph.graph,
        instance=view,
        evaluation_time=evaluation_time,
        cursor=cursor,
        dynamic_partitions_store=store,
    )
    launched = launch_requested_runs(
        ctx=current_context(),
        deployment=deployment,
        graph=graph,
        requests=result.run_requests,
        tick=tick,
    )
    stored = save_evaluations(tick=tick, result=result, run_ids=launched.run_ids)
    state.cursor = result.cursor.to_json()
    save_status(view=view, state=state)
    # Only a committed tick's cursor may be reused: a rolled-back one never happened.
    transaction.on_commit(partial(_remember_cursor, deployment.pk, state.version, result.cursor))
    requested = {k.to_user_string(): len(s) for k, s in result.requested.items()}
    details: dict[str, Any] = {
        "evaluation_time": result.evaluation_time.isoformat(),
        "storage_id": state.storage_id,
        "num_automated": len(graph.automated_keys),
        "num_evaluated": result.num_evaluated,
        "num_explanations": stored,
        "num_requested": sum(requested.values()),
        "num_runs": len(launched.runs),
        "requested": dict(list(requested.items())[:MAX_LISTED]),
    }
    if _skipped(graph):
        details["skipped_conditions"] = dict(list(_skipped(graph).items())[:MAX_LISTED])
    if cursor_note:
        details["cursor_reset"] = cursor_note
    return ticks.finish_tick(
        tick,
        status=DaemonTick.Status.SUCCESS if launched.runs else DaemonTick.Status.SKIPPED,
        skip_reason="" if launched.runs else "no asset was requested",
        run_ids=[run.id for run in launched.runs],
        details=details,
    )


def _fold_only(
    deployment: Deployment, graph: DeploymentGraph, state: AutomationState, now: datetime
) -> None:
    """No asset has a condition: keep the status summaries current (and the queue short)
    without recording a tick, so conditions added later start from the present."""
    if not AssetStatusChange.objects.filter(deployment=deployment).exists():
        return
    view = CatalogStatusView(
        deployment=deployment,
        partitions_defs=graph.partitions_defs,
        previous_storage_id=state.storage_id,
        previous_in_progress=state.in_progress,
        now=now,
    )
    save_status(view=view, state=state)


def _fold_while_off(
    deployment: Deployment, graph: DeploymentGraph, state: AutomationState, now: datetime
) -> None:
    """Automation is off: fold the queued changes all the same (the queue stays short),
    keeping what they updated, and the storage id, for the first tick after it is on."""
    if not AssetStatusChange.objects.filter(deployment=deployment).exists():
        return
    view = CatalogStatusView(
        deployment=deployment,
        partitions_defs=graph.partitions_defs,
        previous_storage_id=state.storage_id,
        previous_in_progress=state.in_progress,
        updated_while_off=state.updated_while_off,
        now=now,
    )
    summaries, consumed = view.folded_summaries()
    asset_status.save_folded(deployment=deployment, folded=summaries, consumed=consumed)
    state.updated_while_off = view.updated_while_off_state()
    state.updated_at = timezone.now()
    state.save(update_fields=["updated_while_off", "updated_at"])


def save_status(*, view: CatalogStatusView, state: AutomationState) -> None:
    """Fold the queued changes ``view`` read into the summaries, and remember the storage
    id and in-progress partitions it saw (with ``state.cursor``, already set by the
    caller), so the next tick's view starts where this one ended. Caller's transaction."""
    summaries, consumed = view.folded_summaries()
    asset_status.save_folded(deployment=view.deployment, folded=summaries, consumed=consumed)
    state.storage_id = view.latest_storage_id()
    state.in_progress = view.in_progress_state()
    state.updated_while_off = {}  # this view saw them; they are new to no later tick
    state.version += 1
    state.updated_at = timezone.now()
    state.save(
        update_fields=[
            "cursor",
            "storage_id",
            "in_progress",
            "updated_while_off",
            "version",
            "updated_at",
        ]
    )


def _previous_cursor(state: AutomationState) -> tuple[AutomationCursor | None, str]:
    """The cursor the previous tick saved (decoded once per replica), and why it was
    dropped when it could not be read."""
    with _cursors_lock:
        cached = _cursors.get(state.deployment_id)
    if cached is not None and (cached[0], cached[1].storage_id) == (
        state.version,
        state.storage_id,
    ):
        return cached[1], ""
    if not state.cursor:
        return None, ""
    try:
        return AutomationCursor.from_json(state.cursor), ""
    except InvalidAutomationCursor as exc:
        log.warning("automation cursor of deployment %s reset: %s", state.deployment_id, exc)
        return None, f"the stored cursor could not be read ({exc}); evaluated as a first tick"


def _remember_cursor(deployment_id: int, version: int, cursor: AutomationCursor) -> None:
    with _cursors_lock:
        _cursors[deployment_id] = (version, cursor)


def _skipped(graph: DeploymentGraph) -> dict[str, str]:
    return {k.to_user_string(): why for k, why in graph.snapshot_graph.skipped_conditions.items()}


def _interval_start(now: datetime, interval: float) -> datetime:
    """The start of the interval containing ``now``: every replica computes the same one."""
    seconds = now.timestamp()
    if interval > 0:
        seconds -= seconds % interval
    return datetime.fromtimestamp(seconds, tz=UTC)
