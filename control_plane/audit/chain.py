"""The audit chain's hashes: an HMAC keyed per organization, and signed checkpoints.

Each organization's key is derived from the installation's ``AUDIT_CHAIN_KEY``, so a row
hashed for one organization does not verify in another's chain, and nobody without the key
(someone with only database access) can recompute a chain after rewriting it. The public,
unkeyed SHA-256 of the first release is kept only to verify rows written before the key
(up to an organization's signed legacy checkpoint).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from control_plane.audit.models import AuditEvent

GENESIS_HASH = "0" * 64


def organization_key(organization_id: int) -> bytes:
    """The key of one organization's chain (never stored, never logged)."""
    return hmac.new(
        settings.AUDIT_CHAIN_KEY.encode(),
        f"assay-audit-chain:organization:{organization_id}".encode(),
        hashlib.sha256,
    ).digest()


def _canonical(event: AuditEvent) -> bytes:
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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    """The row's HMAC under its organization's key: content, organization and previous hash."""
    return hmac.new(
        organization_key(event.organization_id), _canonical(event), hashlib.sha256
    ).hexdigest()


def legacy_hash(event: AuditEvent) -> str:
    """The unkeyed SHA-256 rows had before the chain was keyed (anyone can recompute it)."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def checkpoint_signature(
    *, organization_id: int, seq: int, head_hash: str, created_at: datetime, legacy: bool
) -> str:
    """The signature of a checkpoint: "this chain had ``seq`` rows ending in ``head_hash``"."""
    message = "|".join(
        [
            "checkpoint",
            str(organization_id),
            str(seq),
            head_hash,
            created_at.isoformat(timespec="microseconds"),
            "legacy" if legacy else "keyed",
        ]
    )
    return hmac.new(organization_key(organization_id), message.encode(), hashlib.sha256).hexdigest()


def signatures_match(left: str, right: str) -> bool:
    return hmac.compare_digest(left, right)
