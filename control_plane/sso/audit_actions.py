"""Audit actions of the SSO app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

SAML_CONFIG_UPDATE = declare("sso.config_update", "the organization's SAML settings changed")
SAML_SIGN_IN = declare("sso.sign_in", "a user signed in through the identity provider")
SAML_SIGN_IN_REFUSED = declare("sso.sign_in_refused", "a SAML response was refused")
SAML_USER_PROVISION = declare("sso.user_provision", "a user was created by SAML just in time")
SCIM_TOKEN_CREATE = declare("scim.token_create", "a SCIM provisioning token was created")
SCIM_TOKEN_REVOKE = declare("scim.token_revoke", "a SCIM provisioning token was revoked")
SCIM_USER_CREATE = declare("scim.user_create", "SCIM provisioned a user")
SCIM_USER_UPDATE = declare("scim.user_update", "SCIM changed a user")
SCIM_USER_DEACTIVATE = declare("scim.user_deactivate", "SCIM deactivated a user")
SCIM_USER_DELETE = declare("scim.user_delete", "SCIM deleted a user")
SCIM_GROUP_CREATE = declare("scim.group_create", "SCIM created a group (team)")
SCIM_GROUP_UPDATE = declare("scim.group_update", "SCIM changed a group (team)")
SCIM_GROUP_DELETE = declare("scim.group_delete", "SCIM deleted a group (team)")
TEAM_DEFAULT_ROLE = declare(
    "team.default_role_set", "a team's default role on prod or branch deployments changed"
)
