"""Reads shared by the API and commands. All go through scoped managers."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from control_plane.alerts.errors import AlertPolicyNotFound
from control_plane.alerts.models import AlertDelivery, AlertPolicy, Incident
from control_plane.tenancy.models import Deployment


def policies_of(*, deployment: Deployment) -> QuerySet[AlertPolicy]:
    return AlertPolicy.objects.filter(deployment=deployment)


def get_policy(*, deployment: Deployment, policy_id: int) -> AlertPolicy:
    policy = (
        AlertPolicy.objects.filter(deployment=deployment, pk=policy_id)
        .select_related("deployment")
        .first()
    )
    if policy is None:
        raise AlertPolicyNotFound("alert policy not found")
    return policy


INCIDENT_STATUSES = ("open", "resolved")


def incidents_of(*, deployment: Deployment, status: str | None = None) -> QuerySet[Incident]:
    """Incidents newest first with their deliveries (two queries per page whatever the size);
    ``status`` is one of ``INCIDENT_STATUSES`` or ``None`` for all."""
    incidents = Incident.objects.filter(deployment=deployment).prefetch_related(
        Prefetch("deliveries", queryset=AlertDelivery.objects.order_by("id"))
    )
    if status == "open":
        incidents = incidents.filter(resolved_at__isnull=True)
    elif status == "resolved":
        incidents = incidents.filter(resolved_at__isnull=False)
    return incidents
