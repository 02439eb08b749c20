"""A small in-test control plane for the agent's side of the protocol.

This is a test double of our OWN other component: the real servicer in `control_plane/`
is being written in parallel against the same proto, so the agent is tested here against
the generated `AgentServiceServicer` base on a real loopback gRPC server. It keeps what a
real control plane keeps (every message received, events deduplicated by id, the highest
contiguous sequence ingested) across server restarts, like a database would. The real
end-to-end test (tests/e2e) replaces it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from assay.api.v1 import agent_pb2 as pb
from assay.api.v1 import agent_pb2_grpc

WAIT_SECONDS = 45.0  # generous: only for waiting, never asserted as a duration


@dataclass
class Ingested:
    """What the fake stored, as a control plane's tables would."""

    events_received: list[pb.Event] = field(default_factory=list)  # every copy, replays too
    events: dict[str, pb.Event] = field(default_factory=dict)  # deduplicated on id
    statuses: list[pb.RunStatusChange] = field(default_factory=list)  # deduplicated on id
    status_ids: set[str] = field(default_factory=set)
    sequences: set[int] = field(default_factory=set)
    snapshots: list[pb.LocationSnapshot] = field(default_factory=list)
    hellos: list[pb.Hello] = field(default_factory=list)
    heartbeats: list[pb.Heartbeat] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    acked: int = 0  # highest contiguous sequence stored
    reported_acked: int = 0  # highest one the agent was told about (Ack or Welcome)


class FakeControlPlane(agent_pb2_grpc.AgentServiceServicer):
    """Accepts one agent stream at a time; acks what it ingested unless told not to.

    Welcome carries the last acknowledgement actually sent, so with `acking` off the
    agent must replay everything on reconnect, and deduplication on ids is exercised.
    """

    def __init__(
        self,
        *,
        token: str,
        heartbeat_interval_seconds: int = 1,
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.token = token
        self.tls = tls  # (private key PEM, certificate chain PEM) to serve TLS
        self.heartbeat_interval_seconds = heartbeat_interval_seconds
        self.acking = True
        self.state = Ingested()
        self._changed = threading.Condition()
        self._outgoing: queue.Queue[pb.ControlMessage] | None = None
        self._server: grpc.Server | None = None
        self.port = 0

    # -- server lifecycle ---------------------------------------------------------------

    def start(self) -> int:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        agent_pb2_grpc.add_AgentServiceServicer_to_server(self, server)
        if self.tls is None:
            self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        else:
            credentials = grpc.ssl_server_credentials([self.tls])
            self.port = server.add_secure_port(f"127.0.0.1:{self.port}", credentials)
        server.start()
        self._server = server
        return self.port

    def stop(self) -> None:
        """Stop serving (active streams end abruptly); the ingested state survives."""
        if self._server is not None:
            self._server.stop(grace=0).wait()
            self._server = None
        with self._changed:
            self._outgoing = None
            self._changed.notify_all()

    # -- the servicer --------------------------------------------------------------------

    def Connect(self, request_iterator, context):
        metadata = dict(context.invocation_metadata())
        authorization = metadata.get("authorization", "")
        with self._changed:
            self.state.authorizations.append(authorization)
        if authorization != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad agent token")
        first = next(request_iterator)
        assert first.WhichOneof("message") == "hello", first
        outgoing: queue.Queue[pb.ControlMessage] = queue.Queue()
        with self._changed:
            self.state.hellos.append(first.hello)
            acked = self.state.reported_acked
        threading.Thread(target=self._read, args=(request_iterator, outgoing), daemon=True).start()
        yield pb.ControlMessage(
            welcome=pb.Welcome(
                session_id=uuid.uuid4().hex,
                heartbeat_interval_seconds=self.heartbeat_interval_seconds,
                acked_sequence=acked,
            )
        )
        with self._changed:
            self._outgoing = outgoing
            self._changed.notify_all()
        while context.is_active():
            try:
                yield outgoing.get(timeout=0.1)
            except queue.Empty:
                continue

    def _read(self, request_iterator, outgoing: queue.Queue) -> None:
        try:
            for message in request_iterator:
                ack = self._ingest(message)
                if ack is not None:
                    outgoing.put(pb.ControlMessage(ack=pb.Ack(acked_sequence=ack)))
        except grpc.RpcError:
            pass

    def _ingest(self, message: pb.AgentMessage) -> int | None:
        which = message.WhichOneof("message")
        with self._changed:
            state = self.state
            sequences: list[int] = []
            if which == "event_batch":
                for event in message.event_batch.events:
                    state.events_received.append(event)
                    state.events.setdefault(event.id, event)
                    sequences.append(event.sequence)
            elif which == "run_status_change":
                change = message.run_status_change
                if change.id not in state.status_ids:
                    state.status_ids.add(change.id)
                    state.statuses.append(change)
                sequences.append(change.sequence)
            elif which == "location_snapshot":
                state.snapshots.append(message.location_snapshot)
            elif which == "heartbeat":
                state.heartbeats.append(message.heartbeat)
            state.sequences.update(sequences)
            while state.acked + 1 in state.sequences:
                state.acked += 1
            self._changed.notify_all()
            if not (sequences and self.acking):
                return None
            state.reported_acked = state.acked
            return state.acked

    # -- test helpers --------------------------------------------------------------------

    def send(self, message: pb.ControlMessage) -> None:
        """Send a control message on the current stream (waits for one)."""
        outgoing = self.wait_for(lambda: self._outgoing, "a connected agent")
        outgoing.put(message)

    def wait_for(self, condition: Callable[[], object], what: str) -> object:
        """Wait (generously) until `condition()` is truthy under the state lock; return it."""
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._changed.wait(min(remaining, 0.2))

    def statuses_of(self, run_id: str) -> list[str]:
        return [pb.RunStatus.Name(s.status) for s in self.state.statuses if s.run_id == run_id]

    def wait_for_status(self, run_id: str, status: str) -> pb.RunStatusChange:
        def found():
            for change in self.state.statuses:
                if change.run_id == run_id and pb.RunStatus.Name(change.status) == status:
                    return change
            return None

        return self.wait_for(found, f"run {run_id} to be {status}")  # type: ignore[return-value]

    def events_of(self, run_id: str, event_type: str | None = None) -> list[dict]:
        return [
            json.loads(e.payload_json)
            for e in self.state.events.values()
            if e.run_id == run_id and (event_type is None or e.event_type == event_type)
        ]


def launch(run_id: str, **fields: object) -> pb.ControlMessage:
    fields.setdefault("deployment", "prod")
    return pb.ControlMessage(launch_run=pb.LaunchRun(run_id=run_id, **fields))
