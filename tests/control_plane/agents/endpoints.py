"""The agents app's objects for the endpoint walks (tests/control_plane/api/endpoints.py)."""

from __future__ import annotations

from typing import Any

from control_plane.agents.models import AgentSession


def build(victim) -> dict[str, Any]:
    """A live agent session serving the victim's location, so it can be reloaded."""
    AgentSession.objects.create(
        organization=victim.ctx.organization,
        agent_id=f"{victim.ctx.organization.slug}-agent",
        deployment_ids=[victim.deployment.pk],
        code_locations=[victim.location.name],
    )
    return {}


MUTATIONS = {("code-location-reload", "post"): (None, "code_location.reload")}
