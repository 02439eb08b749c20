"""Every state change of the tenancy app, one module per concept. Each runs in one
transaction and writes its audit row.

Services take the request's ``TenantContext`` (``ctx``) and authorize the principal
themselves, so the REST API, management commands and later adapters share the rules.
Everything is re-exported here: ``from control_plane.tenancy import services`` and
``services.create_team(...)`` keep working.
"""

from __future__ import annotations

from control_plane.tenancy.services.api_tokens import (
    create_agent_token,
    create_user_token,
    record_rate_limited,
    record_rejected_token,
    revoke_token,
    token_with_prefix,
)
from control_plane.tenancy.services.code_locations import (
    CODE_LOCATION_FIELDS,
    create_code_location,
    delete_code_location,
    update_code_location,
)
from control_plane.tenancy.services.deployments import (
    DEPLOYMENT_FIELDS,
    create_deployment,
    delete_deployment,
    update_deployment,
)
from control_plane.tenancy.services.grants import (
    create_grant,
    delete_grant,
    ensure_an_org_admin_remains,
    update_grant,
)
from control_plane.tenancy.services.members import add_member, get_or_create_user, remove_member
from control_plane.tenancy.services.organizations import (
    ORGANIZATION_FIELDS,
    create_organization,
    update_organization,
)
from control_plane.tenancy.services.teams import (
    add_team_member,
    create_team,
    delete_team,
    remove_team_member,
    update_team,
)

__all__ = [
    "CODE_LOCATION_FIELDS",
    "DEPLOYMENT_FIELDS",
    "ORGANIZATION_FIELDS",
    "add_member",
    "add_team_member",
    "create_agent_token",
    "create_code_location",
    "create_deployment",
    "create_grant",
    "create_organization",
    "create_team",
    "create_user_token",
    "delete_code_location",
    "delete_deployment",
    "delete_grant",
    "delete_team",
    "ensure_an_org_admin_remains",
    "get_or_create_user",
    "record_rate_limited",
    "record_rejected_token",
    "remove_member",
    "remove_team_member",
    "revoke_token",
    "token_with_prefix",
    "update_code_location",
    "update_deployment",
    "update_grant",
    "update_organization",
    "update_team",
]
