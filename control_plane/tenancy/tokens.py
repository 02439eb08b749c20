"""Token format, hashing and verification.

A token reads ``assay_u_<prefix id>_<secret>`` (``assay_a_`` for agents). The prefix id is
public and finds the row; the whole token is stored only as a SHA-256 hash. Tokens are
random 256-bit secrets, not passwords, so a fast hash compared in constant time is right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from control_plane.tenancy.errors import InvalidToken
from control_plane.tenancy.models import ApiToken

KIND_PREFIXES = {ApiToken.Kind.USER: "assay_u_", ApiToken.Kind.AGENT: "assay_a_"}
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate(kind: str) -> tuple[str, str]:
    """A fresh ``(prefix_id, token)``; the token is shown once and never stored."""
    prefix_id = secrets.token_hex(6)
    return prefix_id, f"{KIND_PREFIXES[kind]}{prefix_id}_{secrets.token_urlsafe(32)}"


def looks_like_token(value: str) -> bool:
    return value.startswith(tuple(KIND_PREFIXES.values()))


def verify(token: str) -> ApiToken:
    """The live token row for ``token``; raises ``InvalidToken`` (with the row when known)."""
    kind = next((k for k, p in KIND_PREFIXES.items() if token.startswith(p)), None)
    parts = token.split("_", 3)
    if kind is None or len(parts) != 4 or not parts[2] or not parts[3]:
        raise InvalidToken("malformed token")
    row = (
        ApiToken.objects.unscoped()  # authentication precedes any tenant context
        .select_related("organization", "user")
        .filter(prefix_id=parts[2], kind=kind)
        .first()
    )
    if row is None or not hmac.compare_digest(row.secret_hash, hash_token(token)):
        raise InvalidToken("unknown token")
    if row.is_revoked:
        raise InvalidToken("token has been revoked", token=row)
    now = timezone.now()
    if row.is_expired(now):
        raise InvalidToken("token has expired", token=row)
    if row.kind == ApiToken.Kind.USER and (row.user is None or not row.user.is_active):
        raise InvalidToken("token owner is inactive", token=row)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        with transaction.atomic():
            ApiToken.objects.unscoped().filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
