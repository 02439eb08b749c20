"""Wake-ups over PostgreSQL ``LISTEN``/``NOTIFY``: work for an agent stream or the run queue
reaches whoever waits for it when the transaction that made it commits, instead of every
waiter polling the database many times a second.

Writers call :func:`notify` inside their transaction (delivered on commit, dropped on
rollback; PostgreSQL folds repeats of one channel and key within a transaction into one).
A waiting process subscribes a callback with :func:`subscribe`: one listening connection per
process, a daemon thread opened with the first subscription and closed with the last, calls
the callbacks of each notification's channel and key. Waiters still look every
``RUN_DISPATCH_FALLBACK_SECONDS`` in case a wake-up was lost (the listening connection broke,
or was not listening yet). On SQLite (``assay dev``) there is no NOTIFY: :func:`notify` does
nothing, :func:`subscribe` returns None, and waiters poll every
``RUN_DISPATCH_POLL_SECONDS`` as before.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg import sql

log = logging.getLogger(__name__)

RUN_QUEUE = "assay_run_queue"  # a queued run may be assignable now (no key)
AGENT_SESSION = "assay_agent_session"  # key: the id of a session with commands to send

# Seconds the listener waits for a notification before checking its connection is alive,
# and its longest wait between reconnection attempts.
_KEEPALIVE_SECONDS = 60.0
_MAX_RECONNECT_DELAY_SECONDS = 30.0


def is_supported() -> bool:
    return connection.vendor == "postgresql"


def notify(channel: str, key: object = "") -> None:
    """Wake the subscribers of ``(channel, key)`` when the current transaction commits (at
    once outside one)."""
    if is_supported():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, str(key)])


def wake_dequeuer() -> None:
    """A queued run may be assignable now (launched, retried, put back, capacity freed, an
    agent connected): the run daemon's queue loop looks when the transaction commits."""
    notify(RUN_QUEUE)


def wake_session(session_id: object) -> None:
    """The agent session has a command to send (launch, terminate, tick, reload): its
    stream takes it when the transaction commits."""
    notify(AGENT_SESSION, session_id)


@dataclass(eq=False)
class Subscription:
    channel: str
    key: str
    callback: Callable[[], None] = field(repr=False)

    def close(self) -> None:
        _listener.remove(self)


def subscribe(channel: str, key: object, callback: Callable[[], None]) -> Subscription | None:
    """Call ``callback`` (from the listener thread; keep it quick) on each notification of
    ``(channel, key)``; and once as soon as the process listens for them, and again after
    the listening connection was re-established: look for work then, as what was notified
    before is not repeated. None where there is no NOTIFY: poll instead."""
    if not is_supported():
        return None
    subscription = Subscription(channel, str(key), callback)
    _listener.add(subscription)
    return subscription


class _Listener:
    """The process's listening connection and who to wake for what."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], list[Subscription]] = {}
        # Subscriptions not called back yet since listening (re)started for them.
        self._unlistened: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        # Written to when subscriptions change, so the thread's wait ends at once.
        self._poke_out, self._poke_in = socket.socketpair()
        self._poke_out.setblocking(False)
        self._poke_in.setblocking(False)

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            key = (subscription.channel, subscription.key)
            self._subscriptions.setdefault(key, []).append(subscription)
            self._unlistened.add(subscription)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wakeups", daemon=True)
                self._thread.start()
        self._poke()

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            key = (subscription.channel, subscription.key)
            remaining = [s for s in self._subscriptions.get(key, []) if s is not subscription]
            if remaining:
                self._subscriptions[key] = remaining
            else:
                self._subscriptions.pop(key, None)
            self._unlistened.discard(subscription)
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(BlockingIOError):  # else a wake-up is pending already
            self._poke_in.send(b"x")

    def _wake(self, keys: set[tuple[str, str]]) -> None:
        """Call back every subscriber of one of ``keys``."""
        with self._lock:
            due = [s for key in keys for s in self._subscriptions.get(key, [])]
        for subscription in due:
            subscription.callback()

    def _listened(self, channels: set[str], *, reconnected: bool) -> None:
        """Call back the subscribers now covered by LISTEN on ``channels``: new ones, and
        after a reconnection all of them (notifications were lost meanwhile)."""
        with self._lock:
            if reconnected:
                self._unlistened.update(s for subs in self._subscriptions.values() for s in subs)
            due = [s for s in self._unlistened if s.channel in channels]
            self._unlistened.difference_update(due)
        for subscription in due:
            subscription.callback()

    def _channels(self) -> set[str] | None:
        """The channels to listen on; None (and the thread forgotten) when nobody waits."""
        with self._lock:
            if not self._subscriptions:
                self._thread = None
                return None
            return {channel for channel, _ in self._subscriptions}

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        listening: set[str] = set()
        delay = 1.0
        try:
            while (channels := self._channels()) is not None:
                try:
                    reconnected = conn is None
                    if conn is None:
                        params = connections[DEFAULT_DB_ALIAS].get_connection_params()
                        conn = psycopg.connect(**params, autocommit=True)
                        listening = set()
                    for channel in channels - listening:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                        listening.add(channel)
                    self._listened(listening, reconnected=reconnected)
                    # What arrived, including what psycopg read during a statement above.
                    self._wake({(n.channel, n.payload) for n in conn.notifies(timeout=0)})
                    if not self._wait(conn.fileno(), _KEEPALIVE_SECONDS):
                        conn.execute("SELECT 1")  # quiet for long: is the connection alive?
                    delay = 1.0
                except psycopg.Error as error:
                    log.warning(
                        "wake-ups: listening connection failed (%s); waiters poll every "
                        "fallback interval, reconnecting in %.0f s",
                        error,
                        delay,
                    )
                    if conn is not None:
                        conn.close()
                    conn = None
                    self._wait(None, delay)
                    delay = min(delay * 2, _MAX_RECONNECT_DELAY_SECONDS)
        except Exception:
            log.exception("wake-ups: the listener stopped; waiters poll every fallback interval")
        finally:
            if conn is not None:
                conn.close()
            with self._lock:  # the next subscription starts a new listener
                if self._thread is threading.current_thread():
                    self._thread = None

    def _wait(self, fileno: int | None, timeout: float) -> bool:
        """Until the connection has data or subscriptions change; False on timeout."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._poke_out, selectors.EVENT_READ)
            if fileno is not None:
                selector.register(fileno, selectors.EVENT_READ)
            ready = selector.select(timeout)
        with contextlib.suppress(BlockingIOError):
            while self._poke_out.recv(4096):
                pass
        return bool(ready)


_listener = _Listener()
