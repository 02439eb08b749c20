"""The console's Single sign-on page: an Organization Admin edits the SAML settings (by
hand or from the IdP's real metadata), reads the SP's URLs, and creates, lists and revokes
SCIM tokens (a new one shown once, and working until revoked); every change is audited,
bad input is a 400 that changes nothing, and anyone else is refused (403)."""

from __future__ import annotations

import pytest
from django.test import Client
from saml2.metadata import entity_descriptor

from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.sso import saml, services
from control_plane.sso.models import SamlConfig, ScimToken
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.sso.idp import IDP_SSO_URL, TestIdP

pytestmark = pytest.mark.django_db

PAGE = "/o/acme/settings/sso/"


@pytest.fixture
def idp(acme):
    return TestIdP([saml.sp_metadata(acme.organization)])


def _config(acme) -> SamlConfig | None:
    with tenant_context(acme.ctx()):
        return SamlConfig.objects.filter().first()


def _actions(acme) -> list[str]:
    with tenant_context(acme.ctx()):
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def _form(idp, **changes) -> dict:
    form = {
        "enabled": "on",
        "idp_entity_id": idp.entity_id,
        "idp_sso_url": IDP_SSO_URL,
        "idp_x509_cert": idp.certificate,
        "default_role": "editor",
        "map_email": "mail",
        "map_groups": "memberOf",
        "sso_required": "on",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _scim_status(secret: str) -> int:
    return (
        Client()
        .get("/scim/v2/acme/Users", headers={"Authorization": f"Bearer {secret}"})
        .status_code
    )


def test_the_page_shows_the_urls_to_paste_into_the_idp(acme):
    page = signed_in(acme.admin).get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    org = acme.organization
    for url in (saml.sp_entity_id(org), saml.acs_url(org), saml.login_url(org)):
        assert url in text
    assert "/scim/v2/acme/" in text
    assert 'href="/o/acme/settings/sso/"' in text  # in the admin's navigation


def test_an_admin_saves_the_settings_and_the_change_is_audited(acme, idp):
    client = signed_in(acme.admin)
    answer = client.post(PAGE, _form(idp))
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    config = _config(acme)
    assert config.enabled and config.sso_required
    assert config.idp_entity_id == idp.entity_id and config.idp_sso_url == IDP_SSO_URL
    assert "BEGIN CERTIFICATE" in config.idp_x509_cert
    assert Role(config.default_role) == Role.EDITOR
    assert config.mapping() == {
        "email": "mail",
        "first_name": "firstName",
        "last_name": "lastName",
        "groups": "memberOf",
    }
    assert _actions(acme)[-1] == "sso.config_update"
    text = client.get(PAGE).content.decode()
    assert 'value="mail"' in text and "checked" in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"idp_x509_cert": "-----BEGIN CERTIFICATE-----\nnot a cert\n"}, "not an X.509"),
        ({"idp_sso_url": "javascript:alert(1)"}, "must be an http(s) URL"),
        ({"idp_entity_id": ""}, "enabling SSO needs the IdP entity id"),
        ({"default_role": "org_admin"}, "cannot be made Organization Admins"),
        ({"default_role": "overlord"}, "unknown role"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_changes_nothing(acme, idp, changes, message):
    client = signed_in(acme.admin)
    before = _actions(acme)
    answer = client.post(PAGE, _form(idp, **changes))
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert _config(acme) is None
    assert _actions(acme) == before


def test_the_idps_real_metadata_fills_entity_id_sso_url_and_certificate(acme, idp):
    metadata = str(entity_descriptor(idp.server.config))
    client = signed_in(acme.admin)
    answer = client.post(PAGE + "metadata/", {"metadata": metadata})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    config = _config(acme)
    assert config.idp_entity_id == idp.entity_id and config.idp_sso_url == IDP_SSO_URL
    pem_body = "".join(idp.certificate.strip().splitlines()[1:-1])
    assert config.idp_x509_cert.replace("\n", "") == pem_body
    assert not config.enabled  # importing fills the fields; enabling stays a choice
    bad = client.post(PAGE + "metadata/", {"metadata": "<EntityDescriptor>"})
    assert bad.status_code == 400 and "could not be read" in bad.content.decode()


def test_a_scim_token_is_shown_once_works_and_is_revoked(acme):
    client = signed_in(acme.admin)
    created = client.post(PAGE + "scim-tokens/", {"name": "okta"})
    assert created.status_code == 200
    text = created.content.decode()
    secret = text.split('id="scim-secret">')[1].split("<")[0].strip()
    assert secret.startswith("assay_s_")
    assert _scim_status(secret) == 200
    listed = client.get(PAGE).content.decode()
    assert 'data-scim-token="okta"' in listed and secret not in listed
    with tenant_context(acme.ctx()):
        token = ScimToken.objects.get(name="okta")
    assert client.post(f"{PAGE}scim-tokens/{token.pk}/revoke/").status_code == 302
    assert _scim_status(secret) == 401
    assert "revoked" in client.get(PAGE).content.decode()
    actions = _actions(acme)
    assert "scim.token_create" in actions and "scim.token_revoke" in actions
    assert client.post(f"{PAGE}scim-tokens/999999/revoke/").status_code == 404


def test_another_organizations_token_cannot_be_revoked_from_here(acme, globex):
    with tenant_context(globex.ctx()):
        token, _ = services.create_scim_token(ctx=globex.ctx(), name="theirs")
    answer = signed_in(acme.admin).post(f"{PAGE}scim-tokens/{token.pk}/revoke/")
    assert answer.status_code == 404
    with tenant_context(globex.ctx()):
        assert ScimToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
def test_anyone_but_an_org_admin_is_refused(acme, idp, role):
    with tenant_context(acme.ctx()):
        token, _ = services.create_scim_token(ctx=acme.ctx(), name="okta")
    user, _ = acme.member_with_role(role)
    client = signed_in(user)
    before = _actions(acme)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, _form(idp)).status_code == 403
    metadata = str(entity_descriptor(idp.server.config))
    assert client.post(PAGE + "metadata/", {"metadata": metadata}).status_code == 403
    assert client.post(PAGE + "scim-tokens/", {"name": "mine"}).status_code == 403
    assert client.post(f"{PAGE}scim-tokens/{token.pk}/revoke/").status_code == 403
    assert _config(acme) is None
    with tenant_context(acme.ctx()):
        assert list(ScimToken.objects.values_list("name", "revoked_at")) == [("okta", None)]
    assert _actions(acme) == before
    assert 'href="/o/acme/settings/sso/"' not in client.get("/o/acme/").content.decode()
