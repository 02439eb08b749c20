"""Constraints the database itself enforces."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Deployment, User


def test_database_refuses_two_users_whose_emails_differ_only_in_case(db):
    User.objects.create_user(email="Ann@example.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ann@EXAMPLE.test")


def test_database_refuses_a_second_prod_deployment(acme):
    with tenant_context(acme.ctx()), pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(organization=acme.organization, name="prod2", kind="prod")


def test_a_new_organization_has_exactly_one_deployment_prod_of_kind_prod(acme):
    with tenant_context(acme.ctx()):
        assert [(d.name, d.kind) for d in Deployment.objects.all()] == [("prod", "prod")]


def test_code_location_names_are_unique_per_deployment_not_per_organization(acme):
    from control_plane.tenancy import services
    from control_plane.tenancy.errors import DuplicateName
    from control_plane.tenancy.models import CodeLocation

    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = Deployment.objects.get(name="prod")
        branch = services.create_deployment(ctx=ctx, name="branch")
        services.create_code_location(ctx=ctx, deployment=prod, name="analytics")
        services.create_code_location(ctx=ctx, deployment=branch, name="analytics")
        with pytest.raises(DuplicateName):
            services.create_code_location(ctx=ctx, deployment=prod, name="analytics")
        with pytest.raises(IntegrityError), transaction.atomic():
            CodeLocation.objects.create(
                organization=acme.organization, deployment=prod, name="analytics"
            )
        assert CodeLocation.objects.filter(name="analytics").count() == 2


def test_deleting_a_deployment_leaves_no_guardian_permissions_behind(acme):
    from guardian.models import UserObjectPermission

    from control_plane.tenancy import services
    from control_plane.tenancy.roles import Role

    ctx = acme.ctx()
    with tenant_context(ctx):
        deployment = services.create_deployment(ctx=ctx, name="gone")
        location = services.create_code_location(ctx=ctx, deployment=deployment, name="loc")
    acme.member_with_role(Role.EDITOR, scope=deployment)
    acme.member_with_role(Role.VIEWER, scope=location)
    with tenant_context(ctx):
        services.delete_deployment(ctx=ctx, deployment=deployment)
    leftover = UserObjectPermission.objects.filter(
        object_pk__in=[str(deployment.pk), str(location.pk)]
    )
    assert not leftover.filter(content_type__model__in=["deployment", "codelocation"]).exists()


def test_last_organization_admin_cannot_be_removed_or_demoted(acme):
    from control_plane.tenancy.models import Membership, RoleGrant

    with tenant_context(acme.ctx()):
        own = Membership.objects.get(user=acme.admin)
        grant = RoleGrant.objects.get(user=acme.admin)
    client = acme.client()
    assert client.delete(f"/api/v1/orgs/acme/members/{own.pk}/").status_code == 409
    assert client.delete(f"/api/v1/orgs/acme/grants/{grant.pk}/").status_code == 409
    response = client.patch(f"/api/v1/orgs/acme/grants/{grant.pk}/", {"role": "admin"})
    assert response.status_code == 409
    second = acme.member()
    assert (
        client.post(
            "/api/v1/orgs/acme/grants/", {"role": "org_admin", "member_id": second.pk}
        ).status_code
        == 201
    )
    assert (
        client.patch(f"/api/v1/orgs/acme/grants/{grant.pk}/", {"role": "admin"}).status_code == 200
    )
