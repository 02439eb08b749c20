"""The usage rollup: a daemon loop folds new ledger rows into ``DailyUsage`` by cursor.

Ingestion writes only ledger rows (new rows, no lock another batch waits on); the rollup
loop sums what the ledger gained since its cursor and upserts it into ``DailyUsage`` in the
same transaction that moves the cursor, so each ledger row is rolled up exactly once, across
crashes and restarts, and by one replica at a time (the cursor row is locked).

On PostgreSQL the cursor is a transaction id: every ledger row stores the id of the
transaction that wrote it (``xact_id``, a column default), and a pass takes the rows from
the cursor up to the oldest transaction still running (``pg_snapshot_xmin``). Every
transaction below that bound has ended, so no row can still appear behind the cursor (an id
sequence would not do: ids are taken in one order and committed in another). On SQLite
(``assay dev``) writers are serialized, so committed ids are a prefix and the cursor is the
last id rolled up.

Until a pass has run, the rows past the cursor are ``pending_usage``; readers add them, so
the usage page and the budget are exact at any moment.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from django.db import connection
from django.db.models.expressions import RawSQL
from django.db.transaction import Atomic, atomic

from billing.models import CreditLedgerEntry, DailyUsage, RollupCursor

ROLLUP_SECONDS = 1.0
CURSOR = "daily_usage"

UsageKey = tuple[int, int, str, date]  # deployment, code location, asset, day


def _position_column() -> str:
    return "xact_id" if connection.vendor == "postgresql" else "id"


def _upper_bound(ledger: str) -> int:
    """The cursor a pass may advance to: rows below it are final."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {ledger}")
        return int(cursor.fetchone()[0])


def roll_up_usage() -> int:
    """One pass (the daemon's ``usage_rollup`` loop); returns the credits rolled up."""
    ledger = CreditLedgerEntry._meta.db_table
    usage = DailyUsage._meta.db_table
    column = _position_column()
    keys = "organization_id, deployment_id, code_location_id, asset_key, day"
    with atomic():
        upper = _upper_bound(ledger)
        cursor_row, _ = RollupCursor.objects.get_or_create(name=CURSOR)
        cursor_row = RollupCursor.objects.select_for_update().get(pk=cursor_row.pk)
        lower = cursor_row.position
        if upper <= lower:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COALESCE(SUM(credits), 0) FROM {ledger} "
                f"WHERE {column} >= %s AND {column} < %s",
                [lower, upper],
            )
            credits = int(cursor.fetchone()[0])
            if credits:
                # ORDER BY: concurrent writers of DailyUsage (none but this loop today) would
                # take the row locks in one order.
                cursor.execute(
                    f"INSERT INTO {usage} ({keys}, credits) "
                    f"SELECT {keys}, SUM(credits) FROM {ledger} "
                    f"WHERE {column} >= %s AND {column} < %s "
                    f"GROUP BY {keys} ORDER BY {keys} "
                    f"ON CONFLICT ({keys}) DO UPDATE SET credits = {usage}.credits + "
                    "EXCLUDED.credits",
                    [lower, upper],
                )
        cursor_row.position = upper
        cursor_row.save(update_fields=["position"])
    return credits


def pending_usage(*, since: date | None = None) -> Counter[UsageKey]:
    """The current organization's credits not rolled up yet (``since``: days from then),
    per deployment, code location, asset and day. Read it in the same snapshot as the
    rollups (``consistent_reads``), or a pass between the two reads counts a row twice."""
    position = (
        RollupCursor.objects.filter(name=CURSOR).values_list("position", flat=True).first() or 0
    )
    rows = CreditLedgerEntry.objects.alias(
        position=RawSQL(_position_column(), [])  # a fixed column name, no input
    ).filter(position__gte=position)
    if since is not None:
        rows = rows.filter(day__gte=since)
    pending: Counter[UsageKey] = Counter()
    for deployment_id, location_id, asset_key, day, credits in rows.values_list(
        "deployment_id", "code_location_id", "asset_key", "day", "credits"
    ):
        pending[(deployment_id, location_id, asset_key, day)] += credits
    return pending


def consistent_reads() -> Atomic:
    """A transaction whose reads share one snapshot (REPEATABLE READ on PostgreSQL), for
    reading the rollups and ``pending_usage`` together. Inside an open transaction that has
    already read, the isolation level cannot change: the caller's snapshot rules then."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _RepeatableRead()
    return atomic()


class _RepeatableRead(Atomic):
    def __init__(self) -> None:
        super().__init__(using=None, savepoint=True, durable=False)

    def __enter__(self) -> None:
        super().__enter__()
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
