"""SAML sign-in against a real pysaml2 IdP, and each attack the issue names refused."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from control_plane.audit.models import AuditEvent
from control_plane.core.context import Principal, tenant_context
from control_plane.sso import saml
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.models import Membership, User
from control_plane.tenancy.permissions import effective_role
from control_plane.tenancy.roles import Role
from tests.control_plane.sso.conftest import admin_ctx, configure

pytestmark = pytest.mark.django_db


def post(client: Client, org, response: str):
    return client.post(f"/sso/{org.slug}/acs/", {"SAMLResponse": response})


def signed(idp, org, email="ada@acme.test", **kwargs) -> str:
    return idp.response(
        sp_entity_id=saml.sp_entity_id(org), acs_url=saml.acs_url(org), email=email, **kwargs
    )


def refusals(org) -> list[str]:
    return [
        e.after["reason"]
        for e in AuditEvent.objects.unscoped().filter(
            organization=org, action="sso.sign_in_refused"
        )
    ]


def test_idp_initiated_sign_in_provisions_the_user_with_the_team_role(orgs, idp):
    acme, _ = orgs
    configure(acme, idp, default_role=Role.VIEWER)
    ctx = admin_ctx(acme)
    with tenant_context(ctx):
        team = tenancy.create_team(ctx=ctx, name="data-eng")
        tenancy.create_grant(ctx=ctx, role=Role.EDITOR, team=team)
    client = Client()
    answer = post(
        client,
        acme,
        signed(
            idp,
            acme,
            attributes={
                "email": ["ada@acme.test"],
                "firstName": ["Ada"],
                "lastName": ["Lovelace"],
                "groups": ["data-eng", "unknown"],
            },
        ),
    )
    assert answer.status_code == 302, answer.content.decode()[-900:]
    assert answer["Location"] == "/o/acme/"
    user = User.objects.get(email="ada@acme.test")
    assert user.name == "Ada Lovelace"
    assert client.session["_auth_user_id"] == str(user.pk)
    with tenant_context(ctx):
        assert Membership.objects.filter(user=user).exists()
        assert effective_role(Principal.for_user(user), acme) == Role.EDITOR
    actions = set(
        AuditEvent.objects.unscoped().filter(organization=acme).values_list("action", flat=True)
    )
    assert {"sso.user_provision", "sso.sign_in", "team.member_add"} <= actions


def test_sp_initiated_login_round_trip(orgs, idp):
    acme, _ = orgs
    configure(acme, idp)
    client = Client()
    start = client.get(f"/sso/{acme.slug}/login/?next=/o/acme/d/prod/")
    assert start.status_code == 302 and start["Location"].startswith("https://idp.test/sso")
    request = idp.parse_request(parse_qs(urlparse(start["Location"]).query)["SAMLRequest"][0])
    response = signed(idp, acme, in_response_to=request.id)
    answer = post(client, acme, response)
    assert answer.status_code == 302 and answer["Location"] == "/o/acme/d/prod/"
    # The request is answered once: the same id again is refused (and so is the replay).
    again = post(Client(), acme, signed(idp, acme, in_response_to=request.id))
    assert again.status_code == 403
    assert b"did not make" in again.content


def test_the_sign_in_pages_sso_form_moves_on_to_the_login_without_a_redirect(orgs, idp):
    # A redirect would put the IdP at the end of the form's redirect chain, which the
    # sign-in page's CSP form-action 'self' makes browsers block.
    acme, _ = orgs
    configure(acme, idp)
    page = Client().get("/sso/", {"org": " acme "})
    assert page.status_code == 200
    assert b'<meta http-equiv="refresh" content="0; url=/sso/acme/login/">' in page.content
    assert b'href="/sso/acme/login/"' in page.content
    assert Client().get("/sso/", {"org": "nope"}).status_code == 404


def test_the_page_asked_for_before_sign_in_survives_the_sso_detour(orgs, idp):
    acme, _ = orgs
    configure(acme, idp)
    sign_in = Client().get("/sign-in/", {"next": "/o/acme/d/prod/"})
    assert re.search(
        rb'class="sso-entry">.*name="next" value="/o/acme/d/prod/"', sign_in.content, re.S
    )
    page = Client().get("/sso/", {"org": "acme", "next": "/o/acme/d/prod/"})
    assert b'url=/sso/acme/login/?next=%2Fo%2Facme%2Fd%2Fprod%2F"' in page.content
    for elsewhere in ("https://evil.test/", "//evil.test/"):
        page = Client().get("/sso/", {"org": "acme", "next": elsewhere})
        assert b'url=/sso/acme/login/"' in page.content, elsewhere


def test_replayed_assertion_is_refused(orgs, idp):
    acme, _ = orgs
    configure(acme, idp)
    response = signed(idp, acme)
    assert post(Client(), acme, response).status_code == 302
    replay = post(Client(), acme, response)
    assert replay.status_code == 403 and b"already used" in replay.content
    assert any("replay" in r for r in refusals(acme))


def _tamper(response: str, old: bytes, new: bytes) -> str:
    xml = base64.b64decode(response)
    assert old in xml
    return base64.b64encode(xml.replace(old, new)).decode()


@pytest.mark.parametrize(
    "attack",
    [
        "unsigned",
        "tampered_attribute",
        "wrong_audience",
        "wrong_destination",
        "other_org",
        "other_idp",
        "expired",
        "not_yet_valid",
        "signature_wrapping",
    ],
)
def test_attacks_are_refused_and_audited(orgs, idp, attack):
    acme, globex = orgs
    configure(acme, idp)
    configure(globex, idp)
    if attack == "unsigned":
        response = signed(idp, acme, sign_assertion=False)
    elif attack == "tampered_attribute":
        response = _tamper(signed(idp, acme), b"ada@acme.test", b"eve@acme.test")
    elif attack == "wrong_audience":
        response = idp.response(
            sp_entity_id=saml.sp_entity_id(globex), acs_url=saml.acs_url(acme), email="a@x.test"
        )
    elif attack == "wrong_destination":
        response = idp.response(
            sp_entity_id=saml.sp_entity_id(acme),
            acs_url="https://evil.test/acs/",
            email="ada@acme.test",
        )
    elif attack == "other_org":
        response = signed(idp, globex)  # valid for globex, posted to acme
    elif attack == "other_idp":
        from tests.control_plane.sso.idp import TestIdP

        response = signed(TestIdP([saml.sp_metadata(acme)]), acme)
    elif attack in ("expired", "not_yet_valid"):
        xml = base64.b64decode(signed(idp, acme)).decode()
        field = "NotOnOrAfter" if attack == "expired" else "NotBefore"
        stamp = "2001-01-01T00:00:00Z" if attack == "expired" else "2099-01-01T00:00:00Z"
        xml = re.sub(rf'{field}="[^"]+"', f'{field}="{stamp}"', xml)
        assert field in xml
        response = base64.b64encode(xml.encode()).decode()
    else:  # signature wrapping: a forged, unsigned assertion before the signed one
        xml = base64.b64decode(signed(idp, acme)).decode()
        prefix = re.search(r"<(\w+):Assertion[ >]", xml).group(1)
        start = xml.index(f"<{prefix}:Assertion")
        end = xml.index(f"</{prefix}:Assertion>") + len(f"</{prefix}:Assertion>")
        forged = re.sub(
            r"<(\w+:)?Signature[ >].*?</(\w+:)?Signature>", "", xml[start:end], flags=re.S
        )
        forged = forged.replace("ada@acme.test", "eve@acme.test").replace('ID="', 'ID="x', 1)
        response = base64.b64encode((xml[:start] + forged + xml[start:]).encode()).decode()
    client = Client()
    answer = post(client, acme, response)
    assert answer.status_code == 403, answer.content
    assert b"Single sign-on refused" in answer.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email__in=["eve@acme.test", "ada@acme.test"]).exists()
    assert len(refusals(acme)) == 1


def test_host_header_does_not_change_what_the_sp_checks(orgs, idp, settings):
    acme, _ = orgs
    configure(acme, idp)
    settings.ALLOWED_HOSTS = ["*"]
    response = idp.response(
        sp_entity_id="http://evil.test/sso/acme/metadata/",
        acs_url="http://evil.test/sso/acme/acs/",
        email="ada@acme.test",
    )
    answer = Client(HTTP_HOST="evil.test").post("/sso/acme/acs/", {"SAMLResponse": response})
    assert answer.status_code == 403


def test_metadata_names_the_acs_from_base_url(orgs, settings):
    acme, _ = orgs
    body = Client().get("/sso/acme/metadata/").content.decode()
    assert saml.acs_url(acme) in body and saml.sp_entity_id(acme) in body
    assert saml.acs_url(acme).startswith(settings.BASE_URL)
