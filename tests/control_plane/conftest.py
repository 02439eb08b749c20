"""Factories that build real organizations, members, grants and tokens in the database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import Membership, Organization, User
from control_plane.tenancy.roles import Role

_counter = itertools.count(1)


@dataclass
class OrgWorld:
    organization: Organization
    admin: User
    admin_token: str

    def ctx(self, principal: Principal | None = None) -> TenantContext:
        return TenantContext(
            organization=self.organization, principal=principal or Principal.for_user(self.admin)
        )

    def client(self, token: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or self.admin_token}")
        return client

    def member(self, email: str | None = None) -> Membership:
        with tenant_context(self.ctx()):
            return services.add_member(ctx=self.ctx(), email=email or f"m{next(_counter)}@x.test")

    def member_with_role(self, role: Role | None, *, scope=None, email: str | None = None):
        """A new member granted ``role`` at ``scope`` (default: organization), and a token."""
        membership = self.member(email)
        with tenant_context(self.ctx()):
            if role is not None:
                kwargs = {}
                if scope is not None and scope._meta.model_name == "deployment":
                    kwargs["deployment"] = scope
                elif scope is not None and scope._meta.model_name == "codelocation":
                    kwargs["code_location"] = scope
                services.create_grant(ctx=self.ctx(), role=role, membership=membership, **kwargs)
            operator = self.ctx(Principal.system("test"))  # a token for someone else
            _, token = services.create_user_token(ctx=operator, name="test", user=membership.user)
        return User.objects.get(pk=membership.user_id), token


def make_org(slug: str | None = None, *, plan: str = "enterprise") -> OrgWorld:
    # Unlimited by default, so tests of other things are not bound by plan limits (those
    # are tested in tests/billing with the plans that have them).
    slug = slug or f"org{next(_counter)}"
    organization = services.create_organization(
        actor=Principal.system("test"),
        slug=slug,
        name=slug.title(),
        admin_email=f"admin@{slug}.test",
        plan=plan,
    )
    admin = User.objects.get(email=f"admin@{slug}.test")
    world = OrgWorld(organization, admin, "")
    with tenant_context(world.ctx()):
        _, world.admin_token = services.create_user_token(ctx=world.ctx(), name="admin", user=admin)
    return world


@pytest.fixture
def org_factory(db):
    return make_org


@pytest.fixture
def acme(db) -> OrgWorld:
    return make_org("acme")


@pytest.fixture
def globex(db) -> OrgWorld:
    return make_org("globex")
