"""Webhook URLs carry tokens (Slack's in the path, others in the query): never show them whole."""

from __future__ import annotations

from urllib.parse import urlsplit


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ?k=1`` -> ``https://hooks.slack.com/***``.

    Only the scheme, host and port stay: any path segment or query may be the secret.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    hidden = "/***" if parts.path.strip("/") or parts.query or parts.username else "/"
    return f"{parts.scheme}://{host}{port}{hidden}"
