"""Searching the audit log of the current organization."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from control_plane.audit.models import AuditEvent


def search(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events of the current organization, newest first. ``actor`` matches id or label;
    ``action`` matches exactly or, ending in ``.``, as a prefix (``token.``); ``target``
    matches the target's id or, case-insensitively, part of its label."""
    events = AuditEvent.objects.all()
    if actor:
        events = events.filter(actor_label__iexact=actor) | events.filter(actor_id=actor)
    if action:
        events = (
            events.filter(action__startswith=action)
            if action.endswith(".")
            else events.filter(action=action)
        )
    if target_type:
        events = events.filter(target_type=target_type)
    if target:
        events = events.filter(target_label__icontains=target) | events.filter(target_id=target)
    if since:
        events = events.filter(occurred_at__gte=since)
    if until:
        events = events.filter(occurred_at__lt=until)
    return events.order_by("-seq")
