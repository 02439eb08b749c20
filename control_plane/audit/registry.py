"""Every audit action, declared once with a stable dotted name. Recording another fails."""

from __future__ import annotations

ACTIONS: dict[str, str] = {}


def declare(name: str, description: str) -> str:
    """Declare an audit action (apps call this at import time for their own actions)."""
    if name.count(".") < 1 or name != name.lower():
        raise ValueError(f"audit action {name!r} must be a lower-case dotted name")
    if ACTIONS.get(name, description) != description:
        raise ValueError(f"audit action {name!r} is already declared differently")
    ACTIONS[name] = description
    return name


def is_declared(name: str) -> bool:
    return name in ACTIONS


for _name, _description in [
    ("organization.create", "an organization was created"),
    ("organization.update", "an organization's settings changed"),
    ("deployment.create", "a deployment was created"),
    ("deployment.update", "a deployment's settings changed"),
    ("deployment.delete", "a deployment was deleted"),
    ("code_location.create", "a code location was added"),
    ("code_location.update", "a code location was changed"),
    ("code_location.delete", "a code location was removed"),
    ("member.add", "a user became a member of the organization"),
    ("member.remove", "a member was removed from the organization"),
    ("team.create", "a team was created"),
    ("team.update", "a team was renamed"),
    ("team.delete", "a team was deleted"),
    ("team.member_add", "a member joined a team"),
    ("team.member_remove", "a member left a team"),
    ("grant.create", "a role was granted"),
    ("grant.update", "a granted role changed"),
    ("grant.delete", "a role grant was revoked"),
    ("token.create", "an API or agent token was created"),
    ("token.revoke", "a token was revoked"),
    ("token.rejected", "a revoked or expired token was presented"),
    ("token.rate_limited", "failed authentications reached the limit (address or token)"),
]:
    declare(_name, _description)
