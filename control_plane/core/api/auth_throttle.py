"""A limit on failed API authentications, per client address and per token prefix.

Counted in Django's cache (``ASSAY_AUTH_THROTTLE_CACHE``, default ``default``; use a
shared cache such as the database or Redis when the API runs in several processes).
Once an address or a prefix has failed ``API_AUTH_FAILURE_LIMIT`` times within
``API_AUTH_FAILURE_WINDOW_SECONDS``, every request with it answers 429 until the window
ends, the right token too, so guessing stops paying. The prefix limit guards one token
against guesses spread over many addresses; only prefixes of real tokens count, so random
guesses cannot fill the cache.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import caches
from rest_framework.exceptions import Throttled


def _limit() -> int:
    return int(getattr(settings, "API_AUTH_FAILURE_LIMIT", 20))


def _window() -> int:
    return int(getattr(settings, "API_AUTH_FAILURE_WINDOW_SECONDS", 300))


def _cache():
    return caches[getattr(settings, "ASSAY_AUTH_THROTTLE_CACHE", "default")]


def token_prefix(token: str) -> str | None:
    """The prefix id a presented token claims (``assay_u_<prefix>_...``), if any."""
    parts = token.split("_", 3)
    return parts[2][:64] if len(parts) == 4 and parts[2] else None


def _key(kind: str, value: str) -> str:
    return f"assay:authfail:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _keys(ip: str | None, prefix: str | None) -> list[str]:
    return ([_key("ip", ip)] if ip else []) + ([_key("prefix", prefix)] if prefix else [])


def check(*, ip: str | None, prefix: str | None) -> None:
    """Raise DRF's ``Throttled`` (a 429) while the address or the prefix is over the limit."""
    counts = _cache().get_many(_keys(ip, prefix))
    if any(count >= _limit() for count in counts.values()):
        raise Throttled(
            wait=_window(), detail="Too many failed authentication attempts; try again later."
        )


def record_failure(*, ip: str | None, prefix: str | None) -> bool:
    """Count one failure; True when it made the address or the prefix reach the limit."""
    cache, reached = _cache(), False
    for key in _keys(ip, prefix):
        cache.add(key, 0, timeout=_window())
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=_window())
            count = 1
        reached = reached or count == _limit()
    return reached
