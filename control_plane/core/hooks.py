"""Extension points that apps outside the control plane's core (billing) plug into.

The control plane calls these; it never imports who listens, so billing may depend on
tenancy and ingestion while they know nothing of billing (an import-linter contract).
A hook runs inside the caller's transaction: whatever it writes commits or rolls back
with the change that triggered it, and an error it raises undoes that change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from control_plane.core.context import TenantContext


class StoredEvent(Protocol):
    """What ingestion hands to ``events_stored`` listeners for each newly stored event."""

    run_id: Any
    event_id: str
    event_type: str
    asset_key: str
    timestamp: Any


EventsStored = Callable[[TenantContext, Sequence[StoredEvent], Mapping[Any, Any]], object]
# (ctx, what is being created: "member" / "invitation" / "code_location", its name) -> None
# or raise a typed error
LimitCheck = Callable[[TenantContext, str, str], None]

LaunchCheck = Callable[[TenantContext], None]
# (ctx) -> why the organization's queued runs must wait ("" when they need not)
QueueHold = Callable[[TenantContext], str]

_events_stored: list[EventsStored] = []
_limit_checks: list[LimitCheck] = []
_launch_checks: list[LaunchCheck] = []
_queue_holds: list[QueueHold] = []
_launch_estimates: list[Callable[..., str]] = []
_daemon_loops: dict[str, tuple[float, Callable[[], object]]] = {}


def on_events_stored(listener: EventsStored) -> EventsStored:
    """Register ``listener(ctx, events, runs_by_uuid)``, called once per ingested batch."""
    if listener not in _events_stored:
        _events_stored.append(listener)
    return listener


def on_limit_check(listener: LimitCheck) -> LimitCheck:
    """Register ``listener(ctx, kind, name)``; it raises a typed error to refuse the creation."""
    if listener not in _limit_checks:
        _limit_checks.append(listener)
    return listener


def events_stored(ctx: TenantContext, events: Sequence[StoredEvent], runs: Mapping) -> None:
    for listener in _events_stored:
        listener(ctx, events, runs)


def check_limit(ctx: TenantContext, kind: str, name: str = "") -> None:
    """Called, in the creating transaction, before creating something a plan limits:
    ``"member"``, ``"invitation"`` (``name``: the email), ``"code_location"``."""
    for listener in _limit_checks:
        listener(ctx, kind, name)


def on_launch_check(listener: LaunchCheck) -> LaunchCheck:
    """Register ``listener(ctx)``; it raises a typed error to refuse a run launch."""
    if listener not in _launch_checks:
        _launch_checks.append(listener)
    return listener


def check_launch(ctx: TenantContext) -> None:
    """Called before a run is queued (after authorization)."""
    for listener in _launch_checks:
        listener(ctx)


def on_queue_hold(listener: QueueHold) -> QueueHold:
    """Register ``listener(ctx)``; a non-empty answer holds the organization's runs queued."""
    if listener not in _queue_holds:
        _queue_holds.append(listener)
    return listener


def queue_hold(ctx: TenantContext) -> str:
    """Why the current organization's runs stay queued (shown as their reason), or "".
    Asked at launch and by the dequeuer on each pass, so runs start once the hold lifts."""
    for listener in _queue_holds:
        reason = listener(ctx)
        if reason:
            return reason
    return ""


def on_launch_estimate(listener: Callable[..., str]) -> Callable[..., str]:
    """Register ``listener(ctx, *, deployment, selection, location_name, start, end,
    assets)``: a line for a person about what the launch will cost ("" for nothing)."""
    if listener not in _launch_estimates:
        _launch_estimates.append(listener)
    return listener


def launch_estimate(
    ctx: TenantContext,
    *,
    deployment: Any,
    selection: str,
    location_name: str,
    start: str = "",
    end: str = "",
    assets: int,
) -> str:
    """What the console's launch form shows before launching (billing: the credit cost);
    ``start``/``end``: the partition range of a backfill."""
    lines = [
        listener(
            ctx,
            deployment=deployment,
            selection=selection,
            location_name=location_name,
            start=start,
            end=end,
            assets=assets,
        )
        for listener in _launch_estimates
    ]
    return " ".join(line for line in lines if line)


def add_daemon_loop(name: str, interval: float, run: Callable[[], object]) -> None:
    """Have the daemon run ``run()`` every ``interval`` seconds as loop ``name``."""
    _daemon_loops[name] = (interval, run)


def daemon_loops() -> dict[str, tuple[float, Callable[[], object]]]:
    return dict(_daemon_loops)
