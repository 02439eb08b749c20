"""Plans as data, the seed's example bills, and plan limits enforced where the action is."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import PlanLimitReached
from billing.models import Plan
from billing.plans import DEFAULT_CATALOGUE, compute_bill
from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.identity.models import Invitation
from control_plane.tenancy.models import CodeLocation, Membership, User
from tests.control_plane.conftest import make_org

pytestmark = pytest.mark.django_db


def test_the_migration_seeds_the_default_catalogue():
    seeded = list(
        Plan.objects.values(
            "tier",
            "name",
            "base_price",
            "credit_price",
            "user_limit",
            "code_location_limit",
            "position",
        )
    )
    assert seeded == list(DEFAULT_CATALOGUE)


@pytest.mark.parametrize(
    ("per_day", "total"), [(500, Decimal("625.00")), (2_000, Decimal("2200.00"))]
)
def test_the_seed_example_bills_on_starter_for_30_days(per_day, total):
    bill = compute_bill(Plan.objects.get(tier="starter"), per_day * 30)
    assert bill is not None
    assert (bill.base, bill.total) == (Decimal("100.00"), total)
    assert bill.usage == total - Decimal("100.00")


def test_solo_bills_four_cents_a_credit_and_custom_plans_have_no_list_bill():
    bill = compute_bill(Plan.objects.get(tier="solo"), 1_234)
    assert bill is not None and bill.total == Decimal("59.36")
    assert compute_bill(Plan.objects.get(tier="pro"), 1_000_000) is None


def test_a_fourth_user_on_starter_is_refused_naming_the_limit_and_plan():
    org = make_org("three", plan="starter")
    client = org.client()
    for n in (2, 3):
        answer = client.post("/api/v1/orgs/three/members/", {"email": f"u{n}@x.test"}, "json")
        assert answer.status_code == 201, answer.json()
    audited = AuditEvent.objects.unscoped().count()

    answer = client.post("/api/v1/orgs/three/members/", {"email": "u4@x.test"}, format="json")

    assert answer.status_code == 402
    assert answer.json()["detail"] == (
        "the Starter plan allows 3 users and this organization has 3 (pending invitations "
        "included); upgrade the plan to add another user"
    )
    with tenant_context(org.ctx()):  # nothing half-created
        assert sorted(Invitation.objects.values_list("email", flat=True)) == [
            "u2@x.test",
            "u3@x.test",
        ]
    assert not User.objects.filter(email="u4@x.test").exists()
    assert AuditEvent.objects.unscoped().count() == audited
    # Re-inviting someone already invited replaces their invitation: allowed.
    again = client.post("/api/v1/orgs/three/members/", {"email": "u3@x.test"}, format="json")
    assert again.status_code == 201


def test_adding_a_member_directly_beyond_the_limit_is_refused():
    """Accepting an invitation or SSO provisioning goes through ``add_member``."""
    org = make_org("direct", plan="starter")
    org.member("d2@x.test")
    org.member("d3@x.test")
    with pytest.raises(PlanLimitReached, match="Starter plan allows 3 users"):
        org.member("d4@x.test")
    with tenant_context(org.ctx()):
        assert Membership.objects.count() == 3


def test_an_existing_member_of_another_org_is_refused_too_and_unlimited_plans_allow_more():
    org = make_org("solo1", plan="solo")
    make_org("elsewhere")  # its admin exists as a user already
    answer = org.client().post(
        "/api/v1/orgs/solo1/members/", {"email": "admin@elsewhere.test"}, format="json"
    )
    assert answer.status_code == 402
    assert "Solo plan allows 1 user " in answer.json()["detail"]
    big = make_org("big", plan="pro")
    for n in range(5):
        big.member(f"p{n}@x.test")
    with tenant_context(big.ctx()):
        assert Membership.objects.count() == 6


def test_a_second_code_location_on_solo_is_refused_and_nothing_is_created():
    org = make_org("solo2", plan="solo")
    url = "/api/v1/orgs/solo2/deployments/prod/code-locations/"
    assert org.client().post(url, {"name": "first"}, format="json").status_code == 201

    answer = org.client().post(url, {"name": "second"}, format="json")

    assert answer.status_code == 402
    assert answer.json()["detail"] == (
        "the Solo plan allows 1 code location and this organization has 1; "
        "upgrade the plan to add another code location"
    )
    with tenant_context(org.ctx()):
        assert list(CodeLocation.objects.values_list("name", flat=True)) == ["first"]
