"""``AgentService.Connect``: a thin adapter from the agent stream to the services.

Per stream, two threads: this handler's thread sends (welcome, acks and notices queued by the
reader, and the commands for this session: launches the dequeuer assigned, terminations, tick
and reload requests); a reader thread receives and handles the agent's messages in order.
Typed errors end the call with one status code each; nothing is written for a message that is
rejected.

Commands are made by other processes (the dequeuer, the web API, the daemon), so the handler
takes them from the database when woken by their NOTIFY (``core.wakeups``, on PostgreSQL),
and every ``RUN_DISPATCH_FALLBACK_SECONDS`` in case a wake-up was lost; on SQLite it polls
every ``RUN_DISPATCH_POLL_SECONDS``.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from django.conf import settings
from django.db import close_old_connections, connection

from assay.api.v1 import agent_pb2 as pb
from assay.api.v1 import agent_pb2_grpc
from control_plane.agents import branch_serving, convert, services
from control_plane.agents.errors import (
    AgentPermissionDenied,
    AgentUnauthenticated,
    InvalidAgentMessage,
    UnsupportedProtocol,
)
from control_plane.agents.models import AgentSession
from control_plane.catalog.errors import InvalidSnapshot
from control_plane.catalog.services import record_location_snapshot
from control_plane.core import wakeups
from control_plane.core.context import TenantContext, tenant_context
from control_plane.core.errors import AssayError
from control_plane.runs import ingest
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

STATUS_CODES: dict[type[AssayError], grpc.StatusCode] = {
    AgentUnauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    AgentPermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    InvalidAgentMessage: grpc.StatusCode.INVALID_ARGUMENT,
    UnsupportedProtocol: grpc.StatusCode.FAILED_PRECONDITION,
}


# Queued by a wake-up (or the first look): take this session's commands now.
_TAKE_COMMANDS = object()
# How often a stream looks for branch deployments opened, moved or closed (a branch's
# `ready_s` is dominated by the agent's git fetch and load, not by this).
BRANCH_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class _End:
    """Queued by the reader: end the call (with ``code`` unless None: the agent hung up)."""

    code: grpc.StatusCode | None = None
    message: str = ""


def peer_ip(peer: str) -> str | None:
    """The IP address in a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0] or None
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]") or None
    return None


def _status_of(error: AssayError) -> grpc.StatusCode:
    for kind, code in STATUS_CODES.items():
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INVALID_ARGUMENT


def _close_when_done(ctx: TenantContext, session: AgentSession) -> None:
    """Close the session as soon as its RPC ends, however it ends. gRPC stops pulling a
    cancelled stream's responses, so ``Connect``'s ``finally`` may run only when the
    generator is collected; until then the session looks connected and can be given runs
    nobody will start (``assay-agent init`` and ``doctor`` hang up right after Welcome)."""
    try:
        with tenant_context(ctx):
            services.close_session(session=session)
    finally:
        connection.close()


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def Connect(self, request_iterator, context) -> Iterator[pb.ControlMessage]:
        metadata = dict(context.invocation_metadata())
        close_old_connections()
        try:
            ctx = services.authenticate(
                authorization=metadata.get("authorization"), peer=peer_ip(context.peer())
            )
            first = next(request_iterator, None)
            if first is None:
                return
            with tenant_context(ctx):
                hello = convert.hello_from_proto(first)
                session = services.open_session(ctx=ctx, hello=hello)
                acked = ingest.acked_sequence(ctx=ctx, agent_id=hello.agent_id)
        except AssayError as error:
            connection.close()
            context.abort(_status_of(error), error.message)
            return
        except Exception:
            connection.close()
            raise
        log.info("agent %s connected (session %s)", hello.agent_id, session.pk)
        context.add_callback(functools.partial(_close_when_done, ctx, session))
        yield convert.welcome(
            session_id=str(session.pk),
            heartbeat_interval=settings.AGENT_HEARTBEAT_INTERVAL_SECONDS,
            acked_sequence=acked,
        )
        outgoing: queue.Queue = queue.Queue()
        woken = wakeups.subscribe(
            wakeups.AGENT_SESSION, session.pk, lambda: outgoing.put(_TAKE_COMMANDS)
        )
        poll = (
            settings.RUN_DISPATCH_FALLBACK_SECONDS if woken else settings.RUN_DISPATCH_POLL_SECONDS
        )
        outgoing.put(_TAKE_COMMANDS)  # at once (and again once the wake-ups listen)
        handler = _MessageHandler(ctx=ctx, session=session, hello=hello, outgoing=outgoing)
        branches = _BranchWatch(session=session, handler=handler) if hello.serves_branches else None
        reader = threading.Thread(
            target=self._read,
            args=(ctx, handler, request_iterator, outgoing),
            name=f"agent-{hello.agent_id[:8]}-reader",
            daemon=True,
        )
        reader.start()
        end: _End | None = None
        try:
            with tenant_context(ctx):
                while end is None and context.is_active():
                    try:
                        item = outgoing.get(timeout=poll)
                    except queue.Empty:
                        item = _TAKE_COMMANDS
                    if isinstance(item, _End):
                        end = item
                        break
                    if item is not _TAKE_COMMANDS:
                        yield item
                        continue
                    if branches is not None and (change := branches.changed()) is not None:
                        yield change
                    for command in services.take_commands(session=session):
                        yield self._command_message(command)
        finally:
            if woken is not None:
                woken.close()
            with tenant_context(ctx):
                services.close_session(session=session)
            connection.close()
            log.info("agent %s disconnected (session %s)", hello.agent_id, session.pk)
        if end is not None and end.code is not None:
            context.abort(end.code, end.message)

    @staticmethod
    def _command_message(command: services.Command) -> pb.ControlMessage:
        if command.kind == "evaluate_tick":
            assert command.tick is not None
            return convert.evaluate_tick(command.tick, deployment_name=command.deployment_name)
        if command.kind == "reload":
            return convert.reload_location(
                deployment_name=command.deployment_name, location_name=command.location_name
            )
        assert command.run is not None
        if command.kind == "launch":
            return convert.launch_run(
                command.run,
                deployment_name=command.deployment_name,
                location_name=command.location_name,
                dynamic_partitions=command.dynamic_partitions,
            )
        return convert.terminate_run(command.run)

    def _read(
        self,
        ctx: TenantContext,
        handler: _MessageHandler,
        request_iterator,
        outgoing: queue.Queue,
    ) -> None:
        """Handle the agent's messages in order until it hangs up or breaks the protocol."""
        hello = handler.hello
        try:
            with tenant_context(ctx):
                for message in request_iterator:
                    handler.handle(message)
            outgoing.put(_End())
        except AssayError as error:
            outgoing.put(_End(_status_of(error), error.message))
        except grpc.RpcError:
            outgoing.put(_End())  # the stream broke; the agent reconnects
        except Exception:
            log.exception("agent %s: message handling failed", hello.agent_id)
            outgoing.put(_End(grpc.StatusCode.INTERNAL, "internal error; the agent will retry"))
        finally:
            connection.close()


class _MessageHandler:
    """One stream's handling of agent messages (runs in the reader thread)."""

    def __init__(self, *, ctx, session, hello, outgoing) -> None:
        self.ctx: TenantContext = ctx
        self.session: AgentSession = session
        self.hello: convert.Hello = hello
        self.outgoing: queue.Queue = outgoing
        self.deployment_ids = set(session.deployment_ids)
        self.acked = 0
        # Branch deployments served now, and every one served on this stream: a closed
        # branch's last events and snapshots may still be on their way.
        self.branches: dict[str, branch_serving.ServedBranch] = {}
        self.branches_served: set[str] = set()

    def serve_branches(self, branches: dict[str, branch_serving.ServedBranch]) -> None:
        """Called by the sending thread before it tells the agent (ingest ids only grow)."""
        self.deployment_ids.update(b.deployment_id for b in branches.values())
        self.branches_served.update(branches)
        self.branches = dict(branches)

    def handle(self, message: pb.AgentMessage) -> None:
        case = message.WhichOneof("message")
        if case == "heartbeat":
            services.ensure_token_live(ctx=self.ctx)
            services.record_heartbeat(
                session=self.session, running_run_ids=list(message.heartbeat.running_run_ids)
            )
        elif case == "event_batch":
            events = convert.events_from_proto(message.event_batch)
            self._answer(
                ingest.ingest_events(
                    ctx=self.ctx,
                    agent_id=self.hello.agent_id,
                    deployment_ids=self.deployment_ids,
                    events=events,
                )
            )
        elif case == "run_status_change":
            change = convert.status_change_from_proto(message.run_status_change)
            self._answer(
                ingest.ingest_status_change(
                    ctx=self.ctx,
                    agent_id=self.hello.agent_id,
                    deployment_ids=self.deployment_ids,
                    change=change,
                )
            )
        elif case == "location_snapshot":
            self._snapshot(convert.snapshot_from_proto(message.location_snapshot))
        elif case == "tick_result":
            answer = convert.tick_answer_from_proto(message.tick_result)
            if not services.record_tick_answer(session=self.session, answer=answer):
                self.outgoing.put(
                    convert.notice(
                        code="unknown_tick",
                        message=f"no open tick request {answer.request_id} on this stream",
                    )
                )
        elif case == "hello":
            raise InvalidAgentMessage("hello may be sent only once per stream")
        else:
            raise InvalidAgentMessage("a message with no known case set")

    def _answer(self, result: ingest.IngestResult) -> None:
        for rejection in result.rejected:
            self.outgoing.put(
                convert.notice(
                    code=rejection.code,
                    message=rejection.message,
                    related_sequence=rejection.sequence,
                )
            )
        if result.acked_sequence > self.acked:
            self.acked = result.acked_sequence
            self.outgoing.put(convert.ack(result.acked_sequence))

    def _snapshot(self, snapshot: convert.Snapshot) -> None:
        branch = self.branches.get(snapshot.deployment)
        if branch is not None:
            deployment = Deployment.objects.get(pk=branch.deployment_id)
        elif snapshot.deployment in self.branches_served:
            return  # the branch was closed meanwhile: its late snapshot changes nothing
        else:
            [deployment] = services.covered_deployments(ctx=self.ctx, names=[snapshot.deployment])
        if branch is None and snapshot.deployment not in self.hello.deployments:
            self.outgoing.put(
                convert.notice(
                    code="unknown_deployment",
                    message=f"deployment {snapshot.deployment!r} was not named in hello",
                )
            )
            return
        if snapshot.location_name not in self.hello.code_locations:
            self.outgoing.put(
                convert.notice(
                    code="unknown_location",
                    message=f"location {snapshot.location_name!r} was not named in hello",
                )
            )
            return
        try:
            record_location_snapshot(
                ctx=self.ctx,
                deployment=deployment,
                location_name=snapshot.location_name,
                ok=snapshot.ok,
                snapshot_json=snapshot.snapshot_json,
                snapshot_id=snapshot.snapshot_id,
                snapshot_version=snapshot.snapshot_version,
                error=snapshot.error,
                sdk_version=snapshot.sdk_version,
                agent_id=self.hello.agent_id,
            )
        except InvalidSnapshot as error:
            self.outgoing.put(convert.notice(code="snapshot_rejected", message=error.message))
            return
        if branch is not None:
            branch_serving.loaded(branch)


class _BranchWatch:
    """The sending thread's view of which branches its agent serves; see branch_serving."""

    def __init__(self, *, session: AgentSession, handler: _MessageHandler) -> None:
        self.session = session
        self.handler = handler
        self.base_ids = list(session.deployment_ids)
        self.served: dict[str, branch_serving.ServedBranch] | None = None
        self.checked_at = 0.0

    def changed(self) -> pb.ControlMessage | None:
        """A ServeBranches when the set differs from what the agent was told (always the
        first time), at most every ``BRANCH_CHECK_SECONDS``."""
        now = time.monotonic()
        if self.served is not None and now - self.checked_at < BRANCH_CHECK_SECONDS:
            return None
        self.checked_at = now
        wanted = branch_serving.branches_to_serve(base_ids=self.base_ids)
        if wanted == self.served:
            return None
        branch_serving.serve(session=self.session, base_ids=self.base_ids, branches=wanted)
        self.handler.serve_branches(wanted)
        self.served = wanted
        return convert.serve_branches(wanted.values())


def add_to_server(server: grpc.Server) -> None:
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(), server)
