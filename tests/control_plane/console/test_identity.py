"""Invitations, one-time sign-in links and passwords, through the pages and the API."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Membership, User
from tests.control_plane.conftest import make_org
from tests.control_plane.console.test_frame import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _link(message) -> str:
    return re.search(r"http://\S+", message.body).group(0).removeprefix("http://127.0.0.1:3000")


def _invite(world, email: str):
    return world.client().post(
        f"/api/v1/orgs/{world.organization.slug}/members/", {"email": email}, format="json"
    )


def test_inviting_answers_the_same_for_known_and_unknown_emails(acme):
    other = make_org("initech")
    with tenant_context(other.ctx()):
        from control_plane.tenancy import services

        services.add_member(ctx=other.ctx(), email="known@x.test", name="Secret Name At Initech")
    known = _invite(acme, "known@x.test").json()
    unknown = _invite(acme, "unknown@x.test").json()
    assert set(known) == set(unknown)
    assert known["name"] == unknown["name"] == ""
    assert known["status"] == unknown["status"] == "pending"
    assert not User.objects.filter(email="unknown@x.test").exists()  # nobody made until accepted
    with tenant_context(acme.ctx()):
        assert not Membership.objects.filter(user__email="known@x.test").exists()
        assert AuditEvent.objects.filter(action="member.invite").count() == 2


def test_an_invitee_accepts_once_with_a_new_password_and_lands_in_the_org(acme):
    mail.outbox.clear()
    assert _invite(acme, "new@x.test").status_code == 201
    (message,) = mail.outbox
    path = _link(message)
    client = Client()
    page = client.get(path).content.decode()
    assert "Join Acme" in page
    weak = client.post(path, {"password": "123"})
    assert weak.status_code == 400
    response = client.post(path, {"password": PASSWORD})
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        assert Membership.objects.filter(user__email="new@x.test").exists()
        assert AuditEvent.objects.filter(action="member.invite_accept").count() == 1
    assert Client().get(path).status_code == 404  # one time only


def test_a_signed_in_user_of_another_email_cannot_take_an_invitation(acme, globex):
    mail.outbox.clear()
    _invite(acme, "someone@x.test")
    path = _link(mail.outbox[0])
    globex.admin.set_password(PASSWORD)
    globex.admin.save()
    client = Client()
    client.post("/sign-in/", {"username": globex.admin.email, "password": PASSWORD})
    response = client.post(path)
    assert response.status_code == 400
    assert "this invitation is for someone@x.test" in response.content.decode()


def test_sign_in_link_works_once(acme, capsys):
    call_command("sign_in_link", "--email", acme.admin.email)
    url = capsys.readouterr().out.strip()
    path = url.removeprefix("http://127.0.0.1:3000")
    client = Client()
    assert "one-time link" in client.get(path).content.decode()  # GET spends nothing
    assert client.post(path)["Location"] == "/"
    assert client.get("/o/acme/d/prod/graph/").status_code == 200
    assert Client().post(path).status_code == 404


def test_password_reset_mails_a_link_and_the_new_password_signs_in(acme):
    acme.admin.set_password(PASSWORD)
    acme.admin.save()
    mail.outbox.clear()
    client = Client()
    client.post("/password-reset/", {"email": acme.admin.email})
    client.post("/password-reset/", {"email": "nobody@x.test"})  # same page, no mail
    (message,) = mail.outbox
    path = _link(message)
    response = client.get(path, follow=True)
    form_path = response.redirect_chain[-1][0]
    new = "another long passphrase 7"
    response = client.post(form_path, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    fresh = Client()
    assert (
        fresh.post("/sign-in/", {"username": acme.admin.email, "password": new}).status_code == 302
    )
