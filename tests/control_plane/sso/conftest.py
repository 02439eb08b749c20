from __future__ import annotations

import pytest

from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.sso import saml, services
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.roles import Role
from tests.control_plane.sso.idp import TestIdP


def make_org(slug: str):
    org = tenancy.create_organization(
        actor=Principal.system(),
        slug=slug,
        name=slug.title(),
        admin_email=f"admin@{slug}.test",
        plan="enterprise",  # unlimited: SCIM tests create more users than Starter allows
    )
    return org


def admin_ctx(org) -> TenantContext:
    from control_plane.tenancy.models import User

    return TenantContext(
        organization=org,
        principal=Principal.for_user(User.objects.get(email=f"admin@{org.slug}.test")),
    )


def configure(org, idp: TestIdP, **extra):
    ctx = admin_ctx(org)
    with tenant_context(ctx):
        return services.update_config(
            ctx=ctx,
            enabled=True,
            idp_entity_id=idp.entity_id,
            idp_sso_url="https://idp.test/sso",
            idp_x509_cert=idp.certificate,
            default_role=extra.pop("default_role", Role.VIEWER),
            **extra,
        )


@pytest.fixture
def orgs(db):
    return make_org("acme"), make_org("globex")


@pytest.fixture
def idp(orgs):
    return TestIdP([saml.sp_metadata(org) for org in orgs])
