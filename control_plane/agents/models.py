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
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id} session {self.id}"

    def serves(self, *, deployment_id: int, location_name: str) -> bool:
        return deployment_id in self.deployment_ids and location_name in self.code_locations
