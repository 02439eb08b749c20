"""``record``: the one way to write the audit log; ``verify_chain``: detect tampering."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from control_plane.audit import registry
from control_plane.audit.errors import UndeclaredAuditAction
from control_plane.audit.models import AuditEvent
from control_plane.core.context import Principal, TenantContext
from control_plane.tenancy.models import Organization

GENESIS_HASH = "0" * 64


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


def compute_hash(event: AuditEvent) -> str:
    payload = {
        "organization": event.organization_id,
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "target": [event.target_type, event.target_id, event.target_label],
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


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
        last = (
            AuditEvent.objects.unscoped()
            .filter(organization=organization)
            .order_by("-seq")
            .values("seq", "hash")
            .first()
        )
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


@dataclass(frozen=True)
class ChainReport:
    organization: str
    checked: int
    first_break_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_break_seq is None


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


def verify_chain(*, organization: Organization, batch_size: int = 2000) -> ChainReport:
    """Walk ``organization``'s chain in order and report the first row that does not verify."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    events = (
        AuditEvent.objects.unscoped()
        .filter(organization=organization)
        .order_by("seq")
        .iterator(chunk_size=batch_size)
    )
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(organization.slug, checked, expected_seq, "row missing")
        if event.prev_hash != expected_prev:
            return ChainReport(organization.slug, checked, event.seq, "previous hash mismatch")
        if compute_hash(event) != event.hash:
            return ChainReport(organization.slug, checked, event.seq, "row content changed")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    return ChainReport(organization.slug, checked, None, "")
