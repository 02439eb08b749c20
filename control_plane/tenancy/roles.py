"""Roles and the permission matrix: which role may do which action. One table, in code.

``docs/permissions.md`` is rendered from this table (a test checks they agree).
"""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    """Roles from least to most; a higher role can do everything a lower one can."""

    VIEWER = 10
    LAUNCHER = 20
    EDITOR = 30
    ADMIN = 40
    ORG_ADMIN = 50

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return "Organization Admin" if self is Role.ORG_ADMIN else self.name.title()

    @classmethod
    def from_slug(cls, slug: str) -> Role:
        try:
            return cls[slug.upper()]
        except KeyError:
            raise ValueError(f"unknown role {slug!r}") from None


class Action(enum.StrEnum):
    VIEW = "view"
    LAUNCH_RUN = "launch_run"
    TERMINATE_RUN = "terminate_run"
    LAUNCH_BACKFILL = "launch_backfill"
    EDIT_SCHEDULE = "edit_schedule"
    EDIT_SENSOR = "edit_sensor"
    EDIT_AUTOMATION = "edit_automation"
    MANAGE_ALERTS = "manage_alerts"
    MANAGE_CODE_LOCATION = "manage_code_location"
    MANAGE_DEPLOYMENT = "manage_deployment"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_GRANTS = "manage_grants"
    VIEW_AUDIT = "view_audit"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_TEAMS = "manage_teams"
    MANAGE_SSO = "manage_sso"
    MANAGE_BILLING = "manage_billing"


ACTION_DESCRIPTIONS: dict[Action, str] = {
    Action.VIEW: "read assets, runs, code locations, members, teams and grants",
    Action.LAUNCH_RUN: "launch materializations (runs)",
    Action.TERMINATE_RUN: "terminate runs",
    Action.LAUNCH_BACKFILL: "launch, cancel and resume backfills",
    Action.EDIT_SCHEDULE: "turn schedules on and off, change them",
    Action.EDIT_SENSOR: "turn sensors on and off, reset cursors",
    Action.EDIT_AUTOMATION: "change declarative automation settings",
    Action.MANAGE_ALERTS: "create, change and delete alert policies",
    Action.MANAGE_CODE_LOCATION: "add, change and remove code locations",
    Action.MANAGE_DEPLOYMENT: "create, change and delete deployments and their settings",
    Action.MANAGE_TOKENS: "create and revoke agent tokens, see and revoke anyone's tokens",
    Action.MANAGE_GRANTS: "grant and revoke roles (up to Admin)",
    Action.VIEW_AUDIT: "read and export the audit log",
    Action.MANAGE_MEMBERS: "add and remove organization members",
    Action.MANAGE_TEAMS: "create teams and change their members",
    Action.MANAGE_SSO: "configure SAML SSO and SCIM",
    Action.MANAGE_BILLING: "change the plan and billing details",
}

# The lowest role allowed each action; every higher role is allowed too.
MINIMUM_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.LAUNCH_RUN: Role.LAUNCHER,
    Action.TERMINATE_RUN: Role.LAUNCHER,
    Action.LAUNCH_BACKFILL: Role.LAUNCHER,
    Action.EDIT_SCHEDULE: Role.EDITOR,
    Action.EDIT_SENSOR: Role.EDITOR,
    Action.EDIT_AUTOMATION: Role.EDITOR,
    Action.MANAGE_ALERTS: Role.EDITOR,
    Action.MANAGE_CODE_LOCATION: Role.EDITOR,
    Action.MANAGE_DEPLOYMENT: Role.ADMIN,
    Action.MANAGE_TOKENS: Role.ADMIN,
    Action.MANAGE_GRANTS: Role.ADMIN,
    Action.VIEW_AUDIT: Role.ADMIN,
    Action.MANAGE_MEMBERS: Role.ORG_ADMIN,
    Action.MANAGE_TEAMS: Role.ORG_ADMIN,
    Action.MANAGE_SSO: Role.ORG_ADMIN,
    Action.MANAGE_BILLING: Role.ORG_ADMIN,
}

# Scopes a role may be granted at; Organization Admin only makes sense organization-wide.
GRANTABLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: ("organization", "deployment", "code_location"),
    Role.LAUNCHER: ("organization", "deployment", "code_location"),
    Role.EDITOR: ("organization", "deployment", "code_location"),
    Role.ADMIN: ("organization", "deployment", "code_location"),
    Role.ORG_ADMIN: ("organization",),
}


def actions_for(role: Role) -> frozenset[Action]:
    """Every action ``role`` may perform."""
    return frozenset(action for action, minimum in MINIMUM_ROLE.items() if role >= minimum)


def render_matrix_markdown() -> str:
    """The matrix as the Markdown table in docs/permissions.md."""
    roles = list(Role)
    lines = [
        "| action | what it allows | " + " | ".join(r.label for r in roles) + " |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for action in Action:
        marks = " | ".join("yes" if role >= MINIMUM_ROLE[action] else "—" for role in roles)
        lines.append(f"| `{action.value}` | {ACTION_DESCRIPTIONS[action]} | {marks} |")
    return "\n".join(lines) + "\n"
