"""Wake-ups over PostgreSQL LISTEN/NOTIFY: delivered on commit to the subscribers of that
channel and key only, and the listening connection exists only while someone waits."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from control_plane.core import wakeups

pytestmark = pytest.mark.django_db(transaction=True)  # NOTIFY is delivered on commit

CHANNEL = wakeups.AGENT_SESSION
WAIT = 10.0  # seconds; a wake-up normally takes milliseconds


class Waiter:
    """A subscription whose wake-ups can be waited for."""

    def __init__(self, key: str) -> None:
        self.woken = threading.Event()
        self.subscription = wakeups.subscribe(CHANNEL, key, self.woken.set)
        assert self.subscription is not None
        # The first call back says the process now listens for it.
        assert self.woken.wait(WAIT), "the listener never started listening"
        self.woken.clear()

    def close(self) -> None:
        self.subscription.close()


@pytest.fixture
def waiter():
    subscribed = Waiter("session-1")
    yield subscribed
    subscribed.close()


def listening_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            [f'LISTEN "{CHANNEL}"%'],
        )
        return cursor.fetchone()[0]


def test_a_notification_wakes_its_subscriber_when_the_transaction_commits(waiter):
    with transaction.atomic():
        wakeups.wake_session("session-1")
        assert not waiter.woken.wait(0.3)  # not before the commit
    assert waiter.woken.wait(WAIT)


def test_a_rolled_back_transaction_wakes_nobody(waiter):
    with pytest.raises(RuntimeError), transaction.atomic():
        wakeups.wake_session("session-1")
        raise RuntimeError("the work was not made after all")
    other = Waiter("another-session")
    try:
        wakeups.wake_session("another-session")  # committed later, delivered later ...
        assert other.woken.wait(WAIT)
        assert not waiter.woken.is_set()  # ... and the rolled back one never came
    finally:
        other.close()


def test_a_notification_wakes_only_the_subscribers_of_its_key(waiter):
    other = Waiter("session-2")
    try:
        wakeups.wake_session("session-2")
        assert other.woken.wait(WAIT)
        assert not waiter.woken.wait(0.3)
    finally:
        other.close()


def test_the_listening_connection_is_closed_when_the_last_subscriber_leaves():
    first, second = Waiter("a"), Waiter("b")
    assert listening_backends() == 1  # one connection per process, however many wait
    first.close()
    assert listening_backends() == 1
    second.close()
    for _ in range(100):
        if listening_backends() == 0:
            break
        threading.Event().wait(0.05)
    assert listening_backends() == 0
