"""Agent sessions: authenticate, open, beat, close, and hand the stream its pending commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from control_plane.agents import alert_triggers
from control_plane.agents.audit_actions import CODE_LOCATION_RELOAD
from control_plane.agents.convert import Hello, TickAnswer
from control_plane.agents.errors import (
    AgentPermissionDenied,
    AgentUnauthenticated,
    NoAgentAvailable,
)
from control_plane.agents.models import AgentSession, ReloadRequest, TickRequest
from control_plane.audit.services import record_for
from control_plane.catalog.dynamic_partitions import dynamic_keys_for_snapshot
from control_plane.core import wakeups
from control_plane.core.context import Principal, TenantContext
from control_plane.runs.models import IN_PROGRESS_STATUSES, TERMINAL_STATUSES, Run, RunStatus
from control_plane.tenancy import tokens
from control_plane.tenancy.errors import InvalidToken
from control_plane.tenancy.models import ApiToken, CodeLocation, Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


def authenticate(*, authorization: str | None, peer: str | None = None) -> TenantContext:
    """The agent's context from ``authorization: Bearer <agent token>``."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AgentUnauthenticated("send the agent token as 'authorization: Bearer <token>'")
    if not value.strip().startswith(tokens.KIND_PREFIXES[ApiToken.Kind.AGENT]):
        raise AgentUnauthenticated("this is not an agent token")  # decided before any lookup
    try:
        token = tokens.verify(value.strip())
    except InvalidToken as error:
        if error.token is not None:  # revoked or expired: security-relevant, audited
            from control_plane.tenancy.services import record_rejected_token

            record_rejected_token(error=error, ip=peer, user_agent="assay-agent")
        raise AgentUnauthenticated(f"invalid token: {error}") from None
    if token.kind != ApiToken.Kind.AGENT:
        raise AgentUnauthenticated("this is not an agent token")
    principal = Principal(kind="agent", token=token, label=f"agent token {token.prefix_id}")
    return TenantContext(organization=token.organization, principal=principal, ip=peer)


def ensure_token_live(*, ctx: TenantContext) -> None:
    """A token revoked or expired while its stream is open ends the stream (checked on
    every heartbeat)."""
    token = ctx.principal.token
    assert token is not None
    row = ApiToken.objects.filter(pk=token.pk).values("revoked_at", "expires_at").first()
    now = timezone.now()
    if row is None or row["revoked_at"] is not None:
        raise AgentUnauthenticated("the agent token has been revoked")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise AgentUnauthenticated("the agent token has expired")


def covered_deployments(*, ctx: TenantContext, names: list[str]) -> list[Deployment]:
    """The named deployments, each of which the agent token must cover."""
    token = ctx.principal.token
    assert token is not None
    covered = {d.name: d for d in token.deployments.all()}
    missing = [name for name in names if name not in covered]
    if missing:
        raise AgentPermissionDenied(
            f"the agent token does not cover deployment(s) {', '.join(sorted(missing))}"
        )
    return [covered[name] for name in names]


def open_session(*, ctx: TenantContext, hello: Hello) -> AgentSession:
    """A new stream of the agent. An agent keeps one stream at a time, so a session of it
    still marked connected was left by a stream that could not close it (its gRPC server
    was killed or crashed): it is closed now, so the dequeuer stops assigning runs to it and
    what it was given but never sent goes back to the queue."""
    deployments = covered_deployments(ctx=ctx, names=hello.deployments)
    for stale in AgentSession.objects.filter(agent_id=hello.agent_id, connected=True):
        close_session(session=stale)
    session = AgentSession.objects.create(
        organization=ctx.organization,
        token=ctx.principal.token,
        agent_id=hello.agent_id,
        agent_version=hello.agent_version,
        deployment_ids=[d.pk for d in deployments],
        code_locations=hello.code_locations,
    )
    alert_triggers.agent_connected(session=session)  # "agent offline" resolves once it is back
    wakeups.wake_dequeuer()  # queued runs may have been waiting for an agent
    return session


def record_heartbeat(*, session: AgentSession, running_run_ids: list[str]) -> None:
    """The agent is alive; runs it reports executing belong to this session from now on
    (they survive an earlier session's loss)."""
    now = timezone.now()
    ids: list[UUID] = []
    for run_id in running_run_ids[:10_000]:
        try:
            ids.append(UUID(run_id))
        except ValueError:
            continue
    with transaction.atomic():
        AgentSession.objects.filter(pk=session.pk).update(
            last_heartbeat_at=now, connected=True, running_run_ids=[str(i) for i in ids]
        )
        if ids:
            (
                Run.objects.filter(
                    pk__in=ids,
                    deployment_id__in=session.deployment_ids,
                    status__in=IN_PROGRESS_STATUSES,
                )
                .exclude(agent_session=session)
                .update(agent_session=session, updated_at=now)
            )


def close_session(*, session: AgentSession) -> None:
    """The stream ended. Its runs are not failed here: monitoring waits for the timeout, so
    an agent that reconnects in time keeps them."""
    now = timezone.now()
    AgentSession.objects.filter(pk=session.pk).update(connected=False, disconnected_at=now)
    # Runs assigned but never sent go back to the queue at once.
    requeued = Run.objects.filter(
        agent_session=session, status=RunStatus.STARTING, dispatched_at__isnull=True
    ).update(status=RunStatus.QUEUED, agent_session=None, assigned_at=None, updated_at=now)
    if requeued:
        wakeups.wake_dequeuer()


@dataclass(frozen=True)
class Command:
    """Something to send down the stream: launch or terminate ``run``, or evaluate ``tick``."""

    kind: str  # "launch" | "terminate" | "evaluate_tick" | "reload"
    run: Run | None
    deployment_name: str
    location_name: str
    tick: TickRequest | None = None
    # A launch: the keys of the location's dynamic partitions (an agent holds none).
    dynamic_partitions: dict[str, list[str]] = field(default_factory=dict)


def take_commands(*, session: AgentSession, now: datetime | None = None) -> list[Command]:
    """Commands made for this session and not sent yet; marked sent as they are taken.

    Whoever makes one calls ``wakeups.wake_session`` in the same transaction, so the stream
    looks as it commits."""
    now = now or timezone.now()
    commands: list[Command] = []
    launches = Run.objects.filter(
        agent_session=session, status=RunStatus.STARTING, dispatched_at__isnull=True
    ).select_related("deployment", "code_location")
    for run in launches:
        taken = Run.objects.filter(  # not if terminated or re-queued meanwhile
            pk=run.pk, agent_session=session, status=RunStatus.STARTING, dispatched_at__isnull=True
        ).update(dispatched_at=now, updated_at=now)
        if taken:
            dynamic = dynamic_keys_for_snapshot(
                deployment=run.deployment, snapshot_id=run.snapshot_id
            )
            commands.append(
                Command(
                    "launch",
                    run,
                    run.deployment.name,
                    run.code_location.name,
                    dynamic_partitions=dynamic,
                )
            )
    stops = (
        Run.objects.filter(agent_session=session, terminate_dispatched_at__isnull=True)
        .filter(terminate_requested_at__isnull=False)
        .exclude(status__in=TERMINAL_STATUSES)
        .select_related("deployment", "code_location")
    )
    for run in stops:
        taken = Run.objects.filter(pk=run.pk, terminate_dispatched_at__isnull=True).update(
            terminate_dispatched_at=now
        )
        if taken:
            commands.append(Command("terminate", run, run.deployment.name, run.code_location.name))
    ticks = TickRequest.objects.filter(agent_session=session, sent_at__isnull=True).select_related(
        "deployment"
    )
    for tick in ticks:
        if TickRequest.objects.filter(pk=tick.pk, sent_at__isnull=True).update(sent_at=now):
            commands.append(
                Command("evaluate_tick", None, tick.deployment.name, tick.location_name, tick)
            )
    for reload in ReloadRequest.objects.filter(agent_session=session, sent_at__isnull=True):
        if ReloadRequest.objects.filter(pk=reload.pk, sent_at__isnull=True).update(sent_at=now):
            commands.append(Command("reload", None, reload.deployment_name, reload.location_name))
    return commands


def request_reload(
    *, deployment: Deployment, location_name: str, now: datetime | None = None
) -> list[AgentSession]:
    """Ask every live agent serving the location to reload it; returns those asked.

    Raises ``NoAgentAvailable`` when none is connected: there is nobody to reload it.
    """
    from control_plane.runs.queue import live_sessions

    serving = [
        s
        for s in live_sessions(now=now or timezone.now())
        if s.serves(deployment_id=deployment.pk, location_name=location_name)
    ]
    if not serving:
        raise NoAgentAvailable(
            f"no connected agent serves code location {location_name!r} in deployment "
            f"{deployment.name!r}, so nothing can reload it"
        )
    ReloadRequest.objects.bulk_create(
        [
            ReloadRequest(
                organization_id=deployment.organization_id,
                agent_session=session,
                deployment_name=deployment.name,
                location_name=location_name,
            )
            for session in serving
        ]
    )
    for session in serving:
        wakeups.wake_session(session.pk)
    return serving


def request_tick(
    *,
    deployment: Deployment,
    location_name: str,
    kind: str,
    name: str,
    evaluation_time: datetime,
    last_evaluation_time: datetime | None = None,
    cursor: str | None = None,
    timeout_seconds: int = 60,
    now: datetime | None = None,
) -> TickRequest:
    """Ask a live agent serving the location to evaluate a sensor or schedule function.

    The stream serving that agent sends it; the answer lands on the returned row.
    """
    from control_plane.runs.queue import live_sessions

    serving = [
        s
        for s in live_sessions(now=now or timezone.now())
        if s.serves(deployment_id=deployment.pk, location_name=location_name)
    ]
    if not serving:
        raise NoAgentAvailable(
            f"no connected agent serves code location {location_name!r} in deployment "
            f"{deployment.name!r}"
        )
    session = min(serving, key=lambda s: str(s.pk))
    request = TickRequest.objects.create(
        organization_id=deployment.organization_id,
        deployment=deployment,
        location_name=location_name,
        kind=kind,
        name=name,
        evaluation_time=evaluation_time,
        last_evaluation_time=last_evaluation_time,
        cursor=cursor,
        timeout_seconds=timeout_seconds,
        agent_session=session,
    )
    wakeups.wake_session(session.pk)
    return request


def record_tick_answer(*, session: AgentSession, answer: TickAnswer) -> bool:
    """Store the agent's answer to a request sent on this session; False when unknown
    (another session's, already answered, or never asked)."""
    return bool(
        TickRequest.objects.filter(
            pk=answer.request_id, agent_session=session, answered_at__isnull=True
        ).update(result=answer.to_dict(), answered_at=timezone.now())
    )


def reload_location(*, ctx: TenantContext, location: CodeLocation) -> list[AgentSession]:
    """A person asks the agents serving ``location`` to reload it (after a deploy): Editor
    role on the location; audited. The fresh snapshots arrive on the streams."""
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, location)
    with transaction.atomic():
        sessions = request_reload(deployment=location.deployment, location_name=location.name)
        record_for(
            ctx,
            action=CODE_LOCATION_RELOAD,
            target=location,
            after={"agents": sorted({s.agent_id for s in sessions})},
        )
    return sessions
