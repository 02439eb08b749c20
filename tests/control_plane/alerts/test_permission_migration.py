"""Grants made before ``manage_alerts`` existed gain it through the tenancy migration."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from guardian.shortcuts import remove_perm

from control_plane.core.context import Principal, tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import User
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action, Role

migration = importlib.import_module(
    "control_plane.tenancy.migrations.0003_manage_alerts_permission"
)


@pytest.mark.django_db
def test_existing_editor_grants_gain_manage_alerts_and_launchers_do_not(acme):
    editor, _ = acme.member_with_role(Role.EDITOR)
    launcher, _ = acme.member_with_role(Role.LAUNCHER)
    with tenant_context(acme.ctx()):
        team = services.create_team(ctx=acme.ctx(), name="data")
        member = services.add_member(ctx=acme.ctx(), email="teamed@acme.test")
        services.add_team_member(ctx=acme.ctx(), team=team, membership=member)
        services.create_grant(ctx=acme.ctx(), role=Role.ADMIN, team=team)
    teamed = User.objects.get(pk=member.user_id)
    # As before the action existed: no guardian permission for it anywhere.
    remove_perm(Action.MANAGE_ALERTS.value, editor, acme.organization)
    remove_perm(Action.MANAGE_ALERTS.value, team.group, acme.organization)
    for user in (editor, teamed):
        assert not is_allowed(Principal.for_user(user), Action.MANAGE_ALERTS, acme.organization)

    migration.grant_manage_alerts_to_existing_grants(apps, None)

    for user in (editor, teamed):
        assert is_allowed(Principal.for_user(user), Action.MANAGE_ALERTS, acme.organization)
    assert not is_allowed(Principal.for_user(launcher), Action.MANAGE_ALERTS, acme.organization)
