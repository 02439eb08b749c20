"""The console frame: sign-in, sessions, tenancy through the API's code, nav, the switcher."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from control_plane.console import nav
from control_plane.core.context import tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.roles import Role

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase 42"


def signed_in(user) -> Client:
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    response = client.post("/sign-in/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def test_console_at_root_asks_to_sign_in_first(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/?next=/")


def test_sign_in_lands_on_the_prod_deployment(acme):
    client = signed_in(acme.admin)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/o/acme/d/prod/graph/"
    page = response.content.decode()
    assert "admin@acme.test" in page
    assert 'href="/o/acme/d/prod/"' in page  # the Overview nav entry


def test_wrong_password_is_refused_without_a_session(acme):
    acme.admin.set_password(PASSWORD)
    acme.admin.save()
    client = Client()
    response = client.post("/sign-in/", {"username": acme.admin.email, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    assert client.get("/o/acme/d/prod/").status_code == 302


def test_sign_in_form_needs_its_csrf_token(acme):
    acme.admin.set_password(PASSWORD)
    acme.admin.save()
    client = Client(enforce_csrf_checks=True)
    response = client.post("/sign-in/", {"username": acme.admin.email, "password": PASSWORD})
    assert response.status_code == 403


def test_sign_out_is_post_only_and_ends_the_session(acme):
    client = signed_in(acme.admin)
    assert client.get("/sign-out/").status_code == 405
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/o/acme/d/prod/").status_code == 302


def test_another_organization_answers_404_like_a_missing_one(acme, globex):
    client = signed_in(acme.admin)
    assert client.get("/o/globex/d/prod/").status_code == 404
    assert client.get("/o/nothing-here/d/prod/").status_code == 404
    assert client.get("/o/acme/d/missing/").status_code == 404


def test_a_member_with_no_role_is_refused_403(acme):
    membership = acme.member("norole@acme.test")
    client = signed_in(membership.user)
    assert client.get("/o/acme/d/prod/").status_code == 403


def test_switcher_shows_only_my_organizations_and_keeps_the_page(acme, globex):
    with tenant_context(globex.ctx()):
        membership = services.add_member(ctx=globex.ctx(), email=acme.admin.email)
        services.create_grant(ctx=globex.ctx(), role=Role.VIEWER, membership=membership)
    client = signed_in(acme.admin)
    page = client.get("/o/acme/d/prod/").content.decode()
    assert 'value="acme"' in page
    assert 'value="globex"' in page
    response = client.get("/switch/", {"org": "globex", "deployment": "prod", "page": "x"})
    assert response["Location"] == "/o/globex/d/prod/"
    outsider = make_outsider_org()
    assert client.get("/switch/", {"org": outsider, "deployment": "prod"}).status_code == 404


def make_outsider_org() -> str:
    from tests.control_plane.conftest import make_org

    return make_org().organization.slug


def test_nav_shows_only_entries_the_role_allows(acme):
    nav.register("Only admins", "console:deployment_admin_probe", action=_manage_deployment())
    try:
        viewer, _ = acme.member_with_role(Role.VIEWER)
        client = signed_in(viewer)
        page = client.get("/o/acme/d/prod/").content.decode()
        assert "Overview" in page
        assert "Only admins" not in page
    finally:
        nav._ENTRIES.pop("console:deployment_admin_probe")


def _manage_deployment():
    from control_plane.tenancy.roles import Action

    return Action.MANAGE_DEPLOYMENT


def test_every_page_has_a_content_security_policy_without_inline_script(client):
    response = client.get("/sign-in/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_cookies_are_secure_and_http_only_when_asked(acme):
    acme.admin.set_password(PASSWORD)
    acme.admin.save()
    client = Client()
    client.get("/sign-in/")
    response = client.post("/sign-in/", {"username": acme.admin.email, "password": PASSWORD})
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"


def test_repeated_failures_lock_out_with_a_clear_message_and_are_audited(acme, settings):
    from control_plane.audit.models import AuditEvent
    from control_plane.core.context import tenant_context as active

    acme.admin.set_password(PASSWORD)
    acme.admin.save()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/sign-in/", {"username": acme.admin.email, "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/sign-in/", {"username": acme.admin.email, "password": "wrong"})
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    # Even the right password is refused while locked.
    response = client.post("/sign-in/", {"username": acme.admin.email, "password": PASSWORD})
    assert response.status_code == 429
    with active(acme.ctx()):
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("identity.sign_in_failed") >= settings.AXES_FAILURE_LIMIT
    assert "identity.locked_out" in actions
    assert "identity.sign_in" not in actions


def test_a_failed_sign_in_with_an_unknown_email_is_counted_but_in_no_tenant_log(acme):
    from axes.models import AccessAttempt

    Client().post("/sign-in/", {"username": "nobody@nowhere.test", "password": "x"})
    assert AccessAttempt.objects.filter(username="nobody@nowhere.test").count() == 1
