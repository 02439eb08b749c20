"""``record``: the one way to write the audit log; ``verify_chain``: detect tampering;
``write_checkpoint``: sign a chain's head so that deleting the newest rows shows."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from control_plane.audit import registry
from control_plane.audit.chain import (
    GENESIS_HASH,
    checkpoint_signature,
    compute_hash,
    legacy_hash,
    signatures_match,
)
from control_plane.audit.errors import UndeclaredAuditAction
from control_plane.audit.models import AuditCheckpoint, AuditEvent
from control_plane.core.context import Principal, TenantContext
from control_plane.tenancy.models import Organization

log = logging.getLogger(__name__)


def _as_stored_number(text: str) -> int | float:
    """A JSON number as PostgreSQL's jsonb gives it back: fixed-point, never an exponent
    (``1e+20`` returns as ``100000000000000000000``) and no negative zero."""
    number = Decimal(text)
    if number.is_zero():
        number = abs(number)
    return json.loads(format(number, "f"))


def _json_safe(value: Any) -> Any:
    """Round-trip through JSON as the database will, so what is hashed now is exactly what
    ``verify_chain`` reads back later (on PostgreSQL and SQLite alike)."""
    if value is None:
        return None
    text = json.dumps(value, default=str, sort_keys=True, allow_nan=False)
    return json.loads(text, parse_float=_as_stored_number)


def _stored_ip(ip: str | None) -> str | None:
    """The address as the database stores it (IPv6 compressed, lower-case)."""
    return AuditEvent._meta.get_field("ip").to_python(ip) or None


def _describe_target(target: Any) -> tuple[str, str, str]:
    if isinstance(target, tuple):
        kind, ident, label = target
        return kind, str(ident), str(label)
    meta = target._meta
    kind = (
        meta.model_name
        if meta.app_label != "tenancy"
        else _TARGET_NAMES.get(meta.model_name, meta.model_name)
    )
    label = getattr(target, "slug", None) or getattr(target, "name", None) or str(target)
    return kind, str(target.pk), str(label)


_TARGET_NAMES = {
    "codelocation": "code_location",
    "rolegrant": "grant",
    "apitoken": "token",
    "membership": "member",
}


def record(
    *,
    actor: Principal,
    action: str,
    target: models.Model | tuple[str, Any, str],
    organization: Organization,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> AuditEvent:
    """Append one event to ``organization``'s chain, inside the caller's transaction."""
    if not registry.is_declared(action):
        raise UndeclaredAuditAction(f"audit action {action!r} is not declared in audit.registry")
    target_type, target_id, target_label = _describe_target(target)
    with transaction.atomic():
        # Lock the organization row so concurrent writers append one after another. NO KEY:
        # writers still queue behind each other, but inserts elsewhere that reference the
        # organization (their foreign-key checks take KEY SHARE) do not wait for us.
        Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).values(
            "pk"
        ).get()
        last = _head(organization)
        event = AuditEvent(
            organization=organization,
            seq=(last["seq"] + 1) if last else 1,
            actor_type=actor.kind,
            actor_id=str(actor.user.pk)
            if actor.user
            else (str(actor.token.pk) if actor.token else ""),
            actor_label=actor.label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label[:254],
            before=_json_safe(before),
            after=_json_safe(after),
            ip=_stored_ip(ip),
            user_agent=(user_agent or "")[:512],
            prev_hash=last["hash"] if last else GENESIS_HASH,
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
    return event


def record_for(
    ctx: TenantContext,
    action: str,
    target: models.Model | tuple[str, Any, str],
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """``record`` for a service acting in ``ctx``: its principal, organization and client."""
    return record(
        actor=ctx.principal,
        action=action,
        target=target,
        organization=ctx.organization,
        before=before,
        after=after,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )


@dataclass(frozen=True)
class ChainReport:
    organization: str
    checked: int
    first_break_seq: int | None
    reason: str
    checkpoints: int = 0  # signed checkpoints that matched the chain

    @property
    def ok(self) -> bool:
        return self.first_break_seq is None


def _signed(checkpoint: AuditCheckpoint) -> bool:
    expected = checkpoint_signature(
        organization_id=checkpoint.organization_id,
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        created_at=checkpoint.created_at,
        legacy=checkpoint.legacy,
    )
    return signatures_match(expected, checkpoint.signature)


def _head(organization: Organization) -> dict | None:
    """The newest row's ``seq`` and ``hash`` (None for an empty chain)."""
    return (
        AuditEvent.objects.unscoped()
        .filter(organization=organization)
        .order_by("-seq")
        .values("seq", "hash")
        .first()
    )


def verify_chain(
    *, organization: Organization, batch_size: int = 2000, since_last_checkpoint: bool = False
) -> ChainReport:
    """Walk ``organization``'s chain in order and report the first row that does not verify:
    a changed row (its HMAC), a missing one (a gap in ``seq``), a relinked one (``prev_hash``),
    or a chain that ends before, or differs from, one of its signed checkpoints.

    ``since_last_checkpoint`` starts at the newest checkpoint's head instead of the genesis
    (what ``write_checkpoint`` needs: everything before it was verified when it was signed).
    """
    slug = organization.slug
    checkpoints = list(
        AuditCheckpoint.objects.unscoped()
        .filter(organization=organization)
        .order_by("seq", "created_at", "pk")
    )
    for checkpoint in checkpoints:
        if not _signed(checkpoint):
            return ChainReport(slug, 0, checkpoint.seq, "checkpoint signature invalid")
    legacy_until = max((c.seq for c in checkpoints if c.legacy), default=0)
    heads: dict[int, set[str]] = {}
    for checkpoint in checkpoints:
        heads.setdefault(checkpoint.seq, set()).add(checkpoint.head_hash)
    signed_at = Counter(checkpoint.seq for checkpoint in checkpoints)
    expected_prev, expected_seq = GENESIS_HASH, 1
    if since_last_checkpoint and checkpoints:
        expected_prev, expected_seq = checkpoints[-1].head_hash, checkpoints[-1].seq + 1
    checked = 0
    matched = 0
    events = (
        AuditEvent.objects.unscoped()
        .filter(organization=organization, seq__gte=expected_seq)
        .order_by("seq")
        .iterator(chunk_size=batch_size)
    )
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(slug, checked, expected_seq, "row missing", matched)
        if event.prev_hash != expected_prev:
            return ChainReport(slug, checked, event.seq, "previous hash mismatch", matched)
        digest = legacy_hash(event) if event.seq <= legacy_until else compute_hash(event)
        if not signatures_match(digest, event.hash):
            return ChainReport(slug, checked, event.seq, "row content changed", matched)
        recorded = heads.get(event.seq, set())
        if recorded - {event.hash}:
            return ChainReport(slug, checked, event.seq, "differs from a checkpoint", matched)
        matched += signed_at[event.seq]
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    signed_length = max(heads, default=0)
    if signed_length > last_seq:
        return ChainReport(
            slug,
            checked,
            last_seq + 1,
            f"truncated: a checkpoint records {signed_length} rows, the chain ends at {last_seq}",
            matched,
        )
    return ChainReport(slug, checked, None, "", matched)


def write_checkpoint(*, organization: Organization) -> AuditCheckpoint | None:
    """Sign ``organization``'s current head, after verifying the rows since the last
    checkpoint (a broken chain is never signed: that is logged and ``None`` returned)."""
    report = verify_chain(organization=organization, since_last_checkpoint=True)
    if not report.ok:
        log.warning(
            "audit chain of %s is broken at seq %s (%s): no checkpoint written",
            report.organization,
            report.first_break_seq,
            report.reason,
        )
        return None
    head = _head(organization)
    if head is None:
        return None
    checkpoint = AuditCheckpoint(
        organization=organization,
        seq=head["seq"],
        head_hash=head["hash"],
        created_at=timezone.now(),
    )
    checkpoint.signature = checkpoint_signature(
        organization_id=organization.pk,
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        created_at=checkpoint.created_at,
        legacy=False,
    )
    checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_heads() -> int:
    """Sign a checkpoint of every chain whose head moved since its last one (the daemon's
    ``audit`` loop). Returns how many were written."""
    heads = dict(
        AuditEvent.objects.unscoped()
        .values("organization")
        .annotate(head=Max("seq"))
        .values_list("organization", "head")
    )
    signed = dict(
        AuditCheckpoint.objects.unscoped()
        .values("organization")
        .annotate(head=Max("seq"))
        .values_list("organization", "head")
    )
    moved = [pk for pk, head in heads.items() if head > signed.get(pk, 0)]
    written = 0
    for organization in Organization.objects.filter(pk__in=moved).order_by("pk"):
        if write_checkpoint(organization=organization) is not None:
            written += 1
    return written
