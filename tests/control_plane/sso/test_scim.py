"""SCIM 2.0 through Django's test client: Users and Groups, filters, pagination, PATCH as
Okta and Azure AD send it, deactivation, token scoping and error bodies."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from control_plane.audit.models import AuditEvent
from control_plane.core.context import Principal, tenant_context
from control_plane.sso import services
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.models import ApiToken, Membership, Team, User
from control_plane.tenancy.permissions import effective_role
from control_plane.tenancy.roles import Role
from tests.control_plane.sso.conftest import admin_ctx

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class Scim:
    """A SCIM client of one organization over Django's test client."""

    def __init__(self, org, secret: str) -> None:
        self.org = org
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def url(self, path: str) -> str:
        return f"/scim/v2/{self.org.slug}/{path}"

    def get(self, path: str, **params):
        return self.client.get(self.url(path), params)

    def send(self, method: str, path: str, body) -> object:
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(self.client, method)(
            self.url(path), data, content_type="application/scim+json"
        )


def token_for(org) -> str:
    ctx = admin_ctx(org)
    with tenant_context(ctx):
        _, secret = services.create_scim_token(ctx=ctx, name="okta")
    return secret


@pytest.fixture
def scim(orgs) -> Scim:
    return Scim(orgs[0], token_for(orgs[0]))


def new_user(scim: Scim, user_name="ada@acme.example.com", **extra) -> dict:
    body = {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "primary": True, "type": "work"}],
        "active": True,
        **extra,
    }
    answer = scim.send("post", "Users", body)
    assert answer.status_code == 201, answer.content
    return answer.json()


def events(org, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.unscoped().filter(organization=org, action=action))


def assert_error(answer, status: int, scim_type: str | None = None) -> dict:
    assert answer.status_code == status, answer.content
    body = answer.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type:
        assert body["scimType"] == scim_type
    return body


def test_create_get_and_list_users_with_filter_and_pagination(scim):
    made = new_user(scim, externalId="00u1")
    assert made["userName"] == "ada@acme.example.com"
    assert made["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert made["meta"]["location"].endswith(f"/scim/v2/acme/Users/{made['id']}")
    user = User.objects.get(email="ada@acme.example.com")
    assert Membership.objects.unscoped().filter(organization=scim.org, user=user).exists()
    assert scim.get(f"Users/{made['id']}").json()["externalId"] == "00u1"
    for n in range(4):
        new_user(scim, f"user{n}@acme.example.com")

    found = scim.get("Users", filter='userName eq "ADA@acme.example.com"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == made["id"]
    assert scim.get("Users", filter='externalId eq "00u1"').json()["totalResults"] == 1
    assert scim.get("Users", filter='userName sw "user"').json()["totalResults"] == 4
    page = scim.get("Users", startIndex=2, count=2).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [r["userName"] for r in page["Resources"]] == [
        "user0@acme.example.com",
        "user1@acme.example.com",
    ]
    assert scim.get("Users", count=0).json()["Resources"] == []
    assert len(events(scim.org, "scim.user_create")) == 5


def test_new_users_get_the_sso_default_role(scim):
    ctx = admin_ctx(scim.org)
    with tenant_context(ctx):
        services.update_config(ctx=ctx, default_role=Role.LAUNCHER)
    new_user(scim)
    user = User.objects.get(email="ada@acme.example.com")
    with tenant_context(ctx):
        assert effective_role(Principal.for_user(user), scim.org) == Role.LAUNCHER


def test_errors_are_scim_error_bodies(scim):
    new_user(scim)
    assert_error(
        scim.send("post", "Users", {"schemas": [USER], "userName": "ada@acme.example.com"}),
        409,
        "uniqueness",
    )
    assert_error(scim.send("post", "Users", {"schemas": [USER]}), 400, "invalidValue")
    assert_error(scim.send("post", "Users", "{not json"), 400, "invalidSyntax")
    assert_error(scim.send("post", "Users", "[1, 2]"), 400)
    assert_error(
        scim.send("post", "Users", {"userName": "x@acme.example.com", "active": "maybe"}), 400
    )
    assert_error(scim.send("post", "Users", {"userName": "x@acme.example.com", "name": "Ada"}), 400)
    assert_error(scim.get("Users", filter="userName eq"), 400, "invalidFilter")
    assert_error(scim.get("Users", filter='nickName eq "x"'), 400, "invalidFilter")
    assert_error(scim.get("Users", startIndex="one"), 400)
    assert_error(scim.get("Users/99999"), 404)
    assert_error(scim.get("Users/not-a-number"), 404)
    assert_error(scim.get("Groups/99999"), 404)
    assert_error(scim.send("patch", "Users/99999", {"schemas": [PATCH], "Operations": []}), 404)
    made = new_user(scim, "bob@acme.example.com")
    assert_error(scim.send("patch", f"Users/{made['id']}", {"Operations": []}), 400)
    assert_error(
        scim.send(
            "patch", f"Users/{made['id']}", {"schemas": [PATCH], "Operations": [{"op": "move"}]}
        ),
        400,
    )
    assert_error(scim.send("put", f"Users/{made['id']}", {"schemas": [USER]}), 400)
    long_name = {"schemas": [USER], "userName": "x" * 300 + "@acme.example.com"}
    assert_error(scim.send("post", "Users", long_name), 400)
    assert_error(scim.send("post", "Groups", {"schemas": [GROUP], "displayName": "g" * 101}), 400)
    assert_error(scim.send("post", "Groups", {"schemas": [GROUP], "displayName": 7}), 400)
    assert_error(scim.send("post", ".search", {}), 501)
    assert_error(scim.client.get("/scim/v2/acme/Nothing"), 404)
    assert_error(scim.client.put(scim.url("Users")), 405)


def test_a_scim_token_is_scoped_to_its_organization_and_to_scim(orgs, scim):
    acme, globex = orgs
    made = new_user(scim)
    other = Scim(globex, token_for(globex))
    assert other.get("Users").json()["totalResults"] == 0
    assert_error(other.get(f"Users/{made['id']}"), 404)
    assert_error(other.send("delete", f"Users/{made['id']}", ""), 404)
    # acme's token on globex's URL finds nothing either
    assert_error(Scim(globex, scim.client.defaults["HTTP_AUTHORIZATION"][7:]).get("Users"), 404)
    # no token, a wrong one, a revoked one: 401 with a SCIM body
    assert_error(Client().get(scim.url("Users")), 401)
    assert_error(Scim(acme, "assay_s_abc_def").get("Users"), 401)
    ctx = admin_ctx(acme)
    with tenant_context(ctx):
        token = services.ScimToken.objects.get()
        services.revoke_scim_token(ctx=ctx, token=token)
    assert_error(scim.get("Users"), 401)
    # the REST API does not take a SCIM token
    secret = token_for(acme)
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/orgs/acme/members/")
    assert answer.status_code == 401
    stored = services.ScimToken.objects.unscoped().filter(organization=acme)
    assert all(secret not in t.secret_hash and len(t.secret_hash) == 64 for t in stored)


def test_put_and_patch_users_as_okta_and_azure_send_them(scim):
    made = new_user(scim)
    url = f"Users/{made['id']}"
    replaced = scim.send(
        "put",
        url,
        {"schemas": [USER], "userName": "ada@acme.example.com", "name": {"givenName": "Augusta"}},
    ).json()
    assert replaced["name"] == {"givenName": "Augusta"}  # what is not sent is unassigned
    # Azure AD: paths, and booleans as strings
    azure = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Add", "path": "displayName", "value": "Ada King"},
        ],
    }
    patched = scim.send("patch", url, azure).json()
    assert patched["name"]["familyName"] == "King" and patched["displayName"] == "Ada King"
    # Okta: a value object without a path
    okta = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "value": {"name": {"givenName": "Ada"}}}],
    }
    assert scim.send("patch", url, okta).json()["name"]["givenName"] == "Ada"
    remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "displayName"}]}
    assert "displayName" not in scim.send("patch", url, remove).json()
    updates = events(scim.org, "scim.user_update")
    assert len(updates) == 4
    assert updates[1].before["family_name"] == "" and updates[1].after["family_name"] == "King"


def test_deactivation_signs_out_revokes_tokens_and_keeps_the_history(scim):
    made = new_user(scim)
    user = User.objects.get(email="ada@acme.example.com")
    user.set_password("correct horse battery")
    user.save()
    browser = Client()
    browser.force_login(user)
    session_key = browser.session.session_key
    ctx = admin_ctx(scim.org)
    with tenant_context(ctx):
        grant_ctx = type(ctx)(organization=scim.org, principal=Principal.for_user(user))
        _, secret = tenancy.create_user_token(ctx=grant_ctx, name="laptop")
    token = ApiToken.objects.unscoped().get(user=user)
    assert (
        Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/orgs/acme/").status_code == 200
    )

    answer = scim.send(
        "patch",
        f"Users/{made['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": "False"}}]},
    )
    assert answer.status_code == 200 and answer.json()["active"] is False
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session_key).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert (
        Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/orgs/acme/").status_code == 401
    )
    assert not Membership.objects.unscoped().filter(organization=scim.org, user=user).exists()
    assert User.objects.filter(pk=user.pk).exists()  # the person and their history stay
    assert events(scim.org, "scim.user_deactivate")
    assert (
        AuditEvent.objects.unscoped().filter(organization=scim.org, actor_id=str(user.pk)).exists()
    )
    # still readable by the IdP, and filterable as inactive
    assert scim.get(f"Users/{made['id']}").json()["active"] is False
    assert scim.get("Users", filter="active eq false").json()["totalResults"] == 1
    # reactivation makes them a member again
    answer = scim.send(
        "patch",
        f"Users/{made['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]},
    )
    assert answer.json()["active"] is True
    assert Membership.objects.unscoped().filter(organization=scim.org, user=user).exists()


def test_the_last_organization_admin_cannot_be_deactivated(scim):
    admin = new_user(scim, "admin@acme.test", emails=[])
    answer = scim.send(
        "patch",
        f"Users/{admin['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    assert_error(answer, 409)
    assert scim.get(f"Users/{admin['id']}").json()["active"] is True  # nothing half-written
    assert not events(scim.org, "scim.user_deactivate")


def test_delete_user_removes_the_member(scim):
    made = new_user(scim)
    assert scim.send("delete", f"Users/{made['id']}", "").status_code == 204
    assert_error(scim.get(f"Users/{made['id']}"), 404)
    assert not Membership.objects.unscoped().filter(user__email="ada@acme.example.com").exists()
    assert events(scim.org, "scim.user_delete")


def test_groups_are_teams_and_their_members_inherit_team_grants(scim):
    ada, bob = new_user(scim), new_user(scim, "bob@acme.example.com")
    made = scim.send(
        "post",
        "Groups",
        {"schemas": [GROUP], "displayName": "data-eng", "members": [{"value": ada["id"]}]},
    )
    assert made.status_code == 201, made.content
    group = made.json()
    team = Team.objects.unscoped().get(organization=scim.org, name="data-eng")
    ctx = admin_ctx(scim.org)
    with tenant_context(ctx):
        tenancy.create_grant(ctx=ctx, role=Role.EDITOR, team=team)
        ada_user = User.objects.get(email="ada@acme.example.com")
        assert effective_role(Principal.for_user(ada_user), scim.org) == Role.EDITOR
    assert [m["value"] for m in group["members"]] == [ada["id"]]
    assert scim.get("Groups", filter='displayName eq "data-eng"').json()["totalResults"] == 1

    url = f"Groups/{group['id']}"
    add = {
        "schemas": [PATCH],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": bob["id"]}]}],
    }
    assert len(scim.send("patch", url, add).json()["members"]) == 2
    remove = {
        "schemas": [PATCH],
        "Operations": [{"op": "remove", "path": f'members[value eq "{ada["id"]}"]'}],
    }
    assert [m["value"] for m in scim.send("patch", url, remove).json()["members"]] == [bob["id"]]
    rename = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "analytics"}}],
    }
    assert scim.send("patch", url, rename).json()["displayName"] == "analytics"
    put = scim.send(
        "put",
        url,
        {"schemas": [GROUP], "displayName": "analytics", "members": [{"value": ada["id"]}]},
    )
    assert [m["value"] for m in put.json()["members"]] == [ada["id"]]
    assert_error(
        scim.send(
            "patch",
            url,
            {
                "schemas": [PATCH],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "424242"}]}],
            },
        ),
        400,
    )
    assert_error(
        scim.send("post", "Groups", {"schemas": [GROUP], "displayName": "analytics"}),
        409,
        "uniqueness",
    )
    assert scim.send("delete", url, "").status_code == 204
    assert not Team.objects.unscoped().filter(organization=scim.org, name="analytics").exists()
    assert [len(events(scim.org, f"scim.group_{a}")) for a in ("create", "update", "delete")] == [
        1,
        4,
        1,
    ]


def test_discovery_endpoints_tell_the_truth(scim):
    config = scim.get("ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    assert not config["bulk"]["supported"] and not config["sort"]["supported"]
    types = scim.get("ResourceTypes").json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    user_schema = scim.get(f"Schemas/{USER}").json()
    assert {a["name"] for a in user_schema["attributes"]} >= {
        "userName",
        "name",
        "emails",
        "active",
    }
    assert_error(scim.get("Schemas/urn:nothing"), 404)


def test_the_scim_token_command_prints_a_working_token(orgs):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("scim_token", org="acme", name="okta", stdout=out)
    secret = out.getvalue().strip()
    assert secret.startswith("assay_s_")
    assert Scim(orgs[0], secret).get("Users").status_code == 200
    assert events(orgs[0], "scim.token_create")
