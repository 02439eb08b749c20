"""The agent's one long-lived bidirectional gRPC stream to the control plane.

A `Session` connects, says Hello, waits for Welcome, then runs three things at once until
the stream ends: a reader that handles control messages (acks delete from the outbox;
the rest go to the agent), a heartbeat every `Welcome.heartbeat_interval_seconds`, and a
drain that sends the outbox in sequence order as EventBatches / RunStatusChanges. When the
stream ends for any reason it reconnects with `ReconnectBackoff` and replays everything
not yet acknowledged (the control plane ingests idempotently on ids).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

import grpc

from agent import convert
from agent.backoff import ReconnectBackoff
from agent.config import ControlPlaneConfig
from agent.outbox import Outbox, OutboxError
from assay.api.v1 import agent_pb2 as pb
from assay.api.v1 import agent_pb2_grpc

log = logging.getLogger(__name__)

# Events per EventBatch (convert also caps a batch at ~2 MiB). The control plane's cost of a
# batch is largely fixed (round trips, its cursor, the commit): 1,000 per batch ingests about
# 15% more events per CPU second than 500.
DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_IN_FLIGHT = 20_000  # sequences sent but not acknowledged before the drain waits
_IDLE_POLL_SECONDS = 0.5
_QUEUE_SIZE = 64
_SEND_TIMEOUT_SECONDS = 10.0
# Pings find a dead connection that heartbeats alone would only notice after TCP gives up.
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
]


class SessionHandler(Protocol):
    """What the session needs from the agent around it."""

    def hello(self) -> pb.AgentMessage: ...

    def snapshots(self) -> Sequence[pb.AgentMessage]: ...

    def running_run_ids(self) -> list[str]: ...

    def handle(self, message: pb.ControlMessage) -> None: ...


def open_channel(config: ControlPlaneConfig) -> grpc.Channel:
    """A channel to the control plane: TLS (system roots or `tls.ca_file`, a client certificate
    when configured) unless insecure."""
    if config.tls.insecure:
        return grpc.insecure_channel(config.address, options=_CHANNEL_OPTIONS)
    tls = config.tls
    roots = tls.ca_file.read_bytes() if tls.ca_file is not None else None
    key = tls.key_file.read_bytes() if tls.key_file is not None else None
    chain = tls.cert_file.read_bytes() if tls.cert_file is not None else None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=roots, private_key=key, certificate_chain=chain
    )
    return grpc.secure_channel(config.address, credentials, options=_CHANNEL_OPTIONS)


class Session:
    """Keeps the stream up until `stop()`; safe to `send()` from any thread."""

    def __init__(
        self,
        *,
        config: ControlPlaneConfig,
        outbox: Outbox,
        handler: SessionHandler,
        outbox_changed: threading.Event,
        backoff: ReconnectBackoff | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._handler = handler
        self._changed = outbox_changed
        self._backoff = backoff or ReconnectBackoff()
        self._batch_size = batch_size
        self._max_in_flight = max_in_flight
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._call: grpc.Future | None = None
        self._outgoing: queue.Queue[pb.AgentMessage | None] | None = None
        self.connected = threading.Event()  # set while a Welcome'd stream is up

    # -- public --------------------------------------------------------------------------

    def run(self) -> None:
        """Connect, serve, reconnect with backoff; returns after `stop()`."""
        while not self._stopping.is_set():
            try:
                self._serve_one_stream()
                log.warning("the control plane closed the stream")
            except grpc.RpcError as exc:
                if not self._stopping.is_set():
                    _log_rpc_error(exc)
            except Exception:
                log.exception("the stream to the control plane failed")
            if self._stopping.is_set():
                break
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1fs (attempt %d)", delay, self._backoff.failures)
            self._stopping.wait(delay)

    def stop(self) -> None:
        """End the stream and stop reconnecting (what is unacknowledged stays in the outbox)."""
        self._stopping.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def send(self, message: pb.AgentMessage) -> bool:
        """Queue `message` on the current stream; False when there is none (not durable)."""
        with self._lock:
            outgoing = self._outgoing if self.connected.is_set() else None
        if outgoing is None:
            return False
        try:
            outgoing.put(message, timeout=_SEND_TIMEOUT_SECONDS)
        except queue.Full:
            return False
        return True

    # -- one stream ----------------------------------------------------------------------

    def _serve_one_stream(self) -> None:
        outgoing: queue.Queue[pb.AgentMessage | None] = queue.Queue(maxsize=_QUEUE_SIZE)
        closed = threading.Event()
        workers: list[threading.Thread] = []
        with open_channel(self._config) as channel:
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            call = stub.Connect(
                _requests(self._handler.hello(), outgoing),
                metadata=(("authorization", f"Bearer {self._config.token.reveal()}"),),
            )
            with self._lock:
                self._call, self._outgoing = call, outgoing
            if self._stopping.is_set():
                call.cancel()
            try:
                for message in call:
                    which = message.WhichOneof("message")
                    if which == "welcome":
                        workers = self._welcomed(message.welcome, outgoing, closed)
                    elif which == "ack":
                        self._ack(message.ack.acked_sequence)
                    elif which is None:
                        log.warning("ignoring a control message this agent does not understand")
                    else:
                        self._handler.handle(message)
            finally:
                self.connected.clear()
                closed.set()
                with self._lock:
                    self._call, self._outgoing = None, None
                call.cancel()
                for worker in workers:
                    worker.join()
                _drain_queue(outgoing)
                outgoing.put_nowait(None)  # ends the request iterator if gRPC still reads it

    def _welcomed(
        self, welcome: pb.Welcome, outgoing: queue.Queue, closed: threading.Event
    ) -> list[threading.Thread]:
        log.info(
            "connected to the control plane (session %s, heartbeat every %ds, acked %d)",
            welcome.session_id,
            welcome.heartbeat_interval_seconds,
            welcome.acked_sequence,
        )
        self._backoff.connected()
        self._ack(welcome.acked_sequence)
        self.connected.set()
        for snapshot in self._handler.snapshots():
            outgoing.put(snapshot)
        interval = max(1, welcome.heartbeat_interval_seconds or 30)
        start = max(welcome.acked_sequence, self._outbox.acked_sequence)
        workers = [
            threading.Thread(
                target=self._heartbeat, args=(interval, outgoing, closed), name="heartbeat"
            ),
            threading.Thread(target=self._drain, args=(start, outgoing, closed), name="drain"),
        ]
        for worker in workers:
            worker.daemon = True
            worker.start()
        return workers

    def _ack(self, sequence: int) -> None:
        if sequence == 0:
            return
        try:
            deleted = self._outbox.ack(sequence)
        except OutboxError as exc:
            log.error("ignoring an acknowledgement: %s", exc)
            return
        if deleted:
            log.debug("acknowledged up to %d (%d entries delivered)", sequence, deleted)
        self._changed.set()  # the drain may be waiting for the in-flight window to open

    def _heartbeat(self, interval: int, outgoing: queue.Queue, closed: threading.Event) -> None:
        number = 0
        while not closed.is_set():
            number += 1
            message = convert.heartbeat(number, self._handler.running_run_ids())
            if not _put(outgoing, message, closed) or closed.wait(interval):
                return

    def _drain(self, sent: int, outgoing: queue.Queue, closed: threading.Event) -> None:
        """Send outbox entries above `sent`, in order, keeping a bounded window in flight."""
        while not closed.is_set():
            self._changed.clear()
            in_flight = sent - self._outbox.acked_sequence
            pending = (
                self._outbox.pending(after_seq=sent, limit=self._batch_size)
                if in_flight < self._max_in_flight
                else []
            )
            if not pending:
                self._changed.wait(_IDLE_POLL_SECONDS)
                continue
            for message in convert.outbox_messages(pending, batch_size=self._batch_size):
                if not _put(outgoing, message, closed):
                    return
            sent = pending[-1].sequence


def _requests(
    hello: pb.AgentMessage, outgoing: queue.Queue[pb.AgentMessage | None]
) -> Iterator[pb.AgentMessage]:
    yield hello
    while (message := outgoing.get()) is not None:
        yield message


def _put(outgoing: queue.Queue, message: pb.AgentMessage, closed: threading.Event) -> bool:
    """Queue `message` unless the stream closed meanwhile (never blocks forever)."""
    while not closed.is_set():
        try:
            outgoing.put(message, timeout=_IDLE_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _drain_queue(outgoing: queue.Queue) -> None:
    while True:
        try:
            outgoing.get_nowait()
        except queue.Empty:
            return


def _log_rpc_error(exc: grpc.RpcError) -> None:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    level = (
        logging.ERROR
        if code
        in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        else logging.WARNING
    )
    log.log(level, "stream to the control plane ended: %s: %s", code, details)
