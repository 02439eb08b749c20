"""Secrets of one-time links: random, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> tuple[str, str]:
    """``(secret for the URL, hash to store)``."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_of(secret)


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
