"""Agent sessions: one row per agent stream, so the dequeuer knows who serves what."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import ApiToken, Organization


class AgentSession(models.Model):
    """One ``AgentService.Connect`` stream of one agent (``agent_id`` survives restarts)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_id = models.CharField(max_length=64)
    agent_version = models.CharField(max_length=40, blank=True)
    deployment_ids = models.JSONField(default=list)  # deployments served (ids)
    code_locations = models.JSONField(default=list)  # location names served, config order
    connected = models.BooleanField(default=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_heartbeat_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    running_run_ids = models.JSONField(default=list)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "connected"]),
            models.Index(fields=["connected", "last_heartbeat_at"]),
            # The monitor's pass: every agent heard of in the last day, in any organization.
            models.Index(fields=["last_heartbeat_at"]),
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id} session {self.id}"

    def serves(self, *, deployment_id: int, location_name: str) -> bool:
        return deployment_id in self.deployment_ids and location_name in self.code_locations


class TickRequest(models.Model):
    """A sensor or schedule function the control plane asked an agent to evaluate
    (``EvaluateTick``) and, once the agent answers, its answer (``TickResult``).

    Not durable on the agent's side: a request whose answer never comes is timed out by
    the daemon, which fails that tick and asks again on the next one.
    """

    class Kind(models.TextChoices):
        SENSOR = "sensor", "Sensor"
        SCHEDULE = "schedule", "Schedule"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey("tenancy.Deployment", on_delete=models.CASCADE, related_name="+")
    location_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200)
    evaluation_time = models.DateTimeField()
    last_evaluation_time = models.DateTimeField(null=True, blank=True)
    # None: the sensor has no cursor yet; "" is a cursor the sensor set.
    cursor = models.TextField(null=True, blank=True)  # noqa: DJ001
    timeout_seconds = models.PositiveIntegerField(default=60)
    agent_session = models.ForeignKey(
        AgentSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)  # the TickResult, as a dict

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(
                fields=["agent_session"],
                condition=models.Q(sent_at__isnull=True),
                name="tick_request_unsent_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} tick {self.id}"


class ReloadRequest(models.Model):
    """A person asked for a code location to be reloaded; the stream of ``agent_session``
    sends ``ReloadLocation`` and the agent answers with a fresh snapshot."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    agent_session = models.ForeignKey(AgentSession, on_delete=models.CASCADE, related_name="+")
    deployment_name = models.CharField(max_length=63)
    location_name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(
                fields=["agent_session"],
                condition=models.Q(sent_at__isnull=True),
                name="reload_request_unsent_idx",
            )
        ]

    def __str__(self) -> str:
        return f"reload {self.location_name} via {self.agent_session_id}"
