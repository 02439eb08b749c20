"""SCIM 2.0 (RFC 7643/7644) Users and Groups for one organization: Users are members,
Groups are teams. Written on DRF because django-scim2 assumes one global user table and
its own tenancy hooks; filters are parsed by scim2-filter-parser into Q objects."""

from __future__ import annotations

import re

from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from scim2_filter_parser.transpilers.django_q_object import get_query

from control_plane.core.context import TenantContext
from control_plane.core.errors import Conflict, InvalidInput, NotFound
from control_plane.sso import audit_actions
from control_plane.sso.models import SamlConfig, ScimGroup, ScimUser
from control_plane.sso.services import _audit
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.errors import ProtectedObject
from control_plane.tenancy.models import ApiToken, Membership, Team
from control_plane.tenancy.roles import Role

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class InvalidFilter(InvalidInput):
    scim_type = "invalidFilter"


USER_FILTER_ATTRS = {
    ("userName", None, None): "user_name",
    ("externalId", None, None): "external_id",
    ("displayName", None, None): "display_name",
    ("active", None, None): "active",
    ("name", "givenName", None): "given_name",
    ("name", "familyName", None): "family_name",
    ("emails", "value", None): "user__email",
    ("emails", None, None): "user__email",
}
GROUP_FILTER_ATTRS = {
    ("displayName", None, None): "team__name",
    ("externalId", None, None): "external_id",
}


def parse_filter(text: str, attr_map: dict) -> Q:
    """A SCIM filter (``userName eq "a@b.c"``, ``and``/``or``, ``sw``...) as a Q object."""
    if not text:
        return Q()
    try:
        return get_query(text, attr_map)
    except Exception as error:  # the parser raises its own and SLY's errors
        raise InvalidFilter(f"invalid filter {text!r}: {error}") from None


def _meta(kind: str, obj, location: str) -> dict:
    return {
        "resourceType": kind,
        "created": obj.created_at.isoformat(),
        "lastModified": obj.updated_at.isoformat(),
        "location": location,
    }


def user_resource(row: ScimUser, base: str) -> dict:
    display = row.display_name or " ".join(p for p in (row.given_name, row.family_name) if p)
    resource = {
        "schemas": [USER_SCHEMA],
        "id": str(row.pk),
        "userName": row.user_name,
        "name": {"givenName": row.given_name, "familyName": row.family_name},
        "displayName": display or row.user_name,
        "active": row.active,
        "emails": row.emails or [{"value": row.user.email, "primary": True}],
        "meta": _meta("User", row, f"{base}/Users/{row.pk}"),
    }
    if row.external_id:
        resource["externalId"] = row.external_id
    return resource


def group_resource(row: ScimGroup, base: str) -> dict:
    members = ScimUser.objects.filter(user__groups=row.team.group_id)
    resource = {
        "schemas": [GROUP_SCHEMA],
        "id": str(row.pk),
        "displayName": row.team.name,
        "members": [
            {"value": str(m.pk), "display": m.user_name, "$ref": f"{base}/Users/{m.pk}"}
            for m in members
        ],
        "meta": _meta("Group", row, f"{base}/Groups/{row.pk}"),
    }
    if row.external_id:
        resource["externalId"] = row.external_id
    return resource


def get_user(pk: str) -> ScimUser:
    row = ScimUser.objects.select_related("user").filter(pk=pk if pk.isdigit() else -1).first()
    if row is None:
        raise NotFound(f"no user {pk!r}")
    return row


def get_group(pk: str) -> ScimGroup:
    row = ScimGroup.objects.select_related("team__group").filter(pk=pk if pk.isdigit() else -1)
    if not row:
        raise NotFound(f"no group {pk!r}")
    return row[0]


def _user_fields(data: dict) -> dict:
    name = data.get("name") or {}
    user_name = str(data.get("userName") or "").strip()
    if not user_name:
        raise InvalidInput("userName is required")
    return {
        "user_name": user_name,
        "external_id": str(data.get("externalId") or ""),
        "given_name": str(name.get("givenName") or "")[:100],
        "family_name": str(name.get("familyName") or "")[:100],
        "display_name": str(data.get("displayName") or "")[:200],
        "emails": [e for e in data.get("emails") or [] if isinstance(e, dict)],
        "active": _as_bool(data.get("active", True)),
    }


def _email_of(data: dict, user_name: str) -> str:
    emails = data.get("emails") or []
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
    email = (primary or (emails[0] if emails and isinstance(emails[0], dict) else {})).get("value")
    email = str(email or user_name).strip().lower()
    if "@" not in email:
        raise InvalidInput("userName or emails must give an email address")
    return email


def _default_role() -> Role:
    config = SamlConfig.objects.first()
    return Role(config.default_role) if config else Role.VIEWER


def _join(ctx: TenantContext, email: str, name: str) -> Membership:
    membership = Membership.objects.filter(user__email__iexact=email).first()
    if membership is None:
        membership = tenancy.add_member(ctx=ctx, email=email, name=name)
        tenancy.create_grant(ctx=ctx, role=_default_role(), membership=membership)
    return membership


def _sign_out_everywhere(ctx: TenantContext, user) -> None:
    """Deprovisioning: the user's sessions end and their tokens here are revoked."""
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def _deactivate(ctx: TenantContext, row: ScimUser) -> None:
    membership = Membership.objects.filter(user=row.user).first()
    _sign_out_everywhere(ctx, row.user)
    if membership is not None:
        try:
            tenancy.remove_member(ctx=ctx, membership=membership)
        except ProtectedObject as error:
            raise Conflict(f"{error}; this user is the last Organization Admin") from None


def create_user(ctx: TenantContext, data: dict) -> ScimUser:
    fields = _user_fields(data)
    email = _email_of(data, fields["user_name"])
    with transaction.atomic():
        if ScimUser.objects.filter(user_name__iexact=fields["user_name"]).exists():
            raise Conflict(f"a user named {fields['user_name']!r} exists")
        name = " ".join(p for p in (fields["given_name"], fields["family_name"]) if p)
        membership = _join(ctx, email, name)
        if ScimUser.objects.filter(user=membership.user).exists():
            raise Conflict(f"{email} is already provisioned")
        row = ScimUser.objects.create(organization=ctx.organization, user=membership.user, **fields)
        if not row.active:
            _deactivate(ctx, row)
        _audit(ctx, audit_actions.SCIM_USER_CREATE, row, after={**fields, "email": email})
    return row


def _apply_user(ctx: TenantContext, row: ScimUser, fields: dict) -> ScimUser:
    before = {k: getattr(row, k) for k in fields}
    was_active = row.active
    if (
        fields.get("user_name")
        and ScimUser.objects.filter(user_name__iexact=fields["user_name"])
        .exclude(pk=row.pk)
        .exists()
    ):
        raise Conflict(f"a user named {fields['user_name']!r} exists")
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = timezone.now()
    row.save()
    if was_active and not row.active:
        _deactivate(ctx, row)
        _audit(ctx, audit_actions.SCIM_USER_DEACTIVATE, row, before={"active": True})
    elif row.active and not was_active:
        _join(ctx, row.user.email, row.user.name)
    _audit(ctx, audit_actions.SCIM_USER_UPDATE, row, before=before, after=fields)
    return row


def replace_user(ctx: TenantContext, row: ScimUser, data: dict) -> ScimUser:
    with transaction.atomic():
        return _apply_user(ctx, row, _user_fields(data))


_USER_PATHS = {
    "username": "user_name",
    "externalid": "external_id",
    "active": "active",
    "name.givenname": "given_name",
    "name.familyname": "family_name",
    "displayname": "display_name",
    "emails": "emails",
}


def _patch_ops(data: dict) -> list[dict]:
    ops = data.get("Operations")
    if PATCH_SCHEMA not in (data.get("schemas") or []) or not isinstance(ops, list) or not ops:
        raise InvalidInput("a PatchOp needs its schema and a list of Operations")
    for op in ops:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in (
            "add",
            "replace",
            "remove",
        ):
            raise InvalidInput(f"unsupported operation {op!r}")
    return ops


def _as_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def patch_user(ctx: TenantContext, row: ScimUser, data: dict) -> ScimUser:
    """Okta sends ``replace`` with ``{"active": false}``; Azure AD sends paths like
    ``name.givenName`` and ``"False"`` strings. Both are handled."""
    fields: dict = {}
    for op in _patch_ops(data):
        path = str(op.get("path") or "").lower()
        value = op.get("value")
        if not path and isinstance(value, dict):
            pairs = {}
            for key, item in value.items():
                if key.lower() == "name" and isinstance(item, dict):
                    pairs.update({f"name.{k.lower()}": v for k, v in item.items()})
                else:
                    pairs[key.lower()] = item
        else:
            pairs = {path: None if op["op"].lower() == "remove" else value}
        for key, item in pairs.items():
            if key not in _USER_PATHS:
                continue  # attributes we do not keep (RFC 7644 §3.5.2: ignore is allowed)
            target = _USER_PATHS[key]
            if target == "active":
                fields[target] = _as_bool(item)
            elif target == "emails":
                fields[target] = [e for e in item or [] if isinstance(e, dict)]
            else:
                fields[target] = str(item or "")
    with transaction.atomic():
        return _apply_user(ctx, row, fields)


def delete_user(ctx: TenantContext, row: ScimUser) -> None:
    with transaction.atomic():
        if row.active:
            _deactivate(ctx, row)
        _audit(ctx, audit_actions.SCIM_USER_DELETE, row, before={"user_name": row.user_name})
        row.delete()


# Groups --------------------------------------------------------------------------------


def _member_ids(values) -> list[str]:
    return [str(v.get("value")) for v in values or [] if isinstance(v, dict)]


def _set_members(ctx: TenantContext, group: ScimGroup, add: list[str], remove: list[str]):
    team = group.team
    for pk in add:
        user = get_user(pk).user
        membership = Membership.objects.filter(user=user).first()
        if membership and not team.group.user_set.filter(pk=user.pk).exists():
            tenancy.add_team_member(ctx=ctx, team=team, membership=membership)
    for pk in remove:
        row = ScimUser.objects.filter(pk=pk if pk.isdigit() else -1).first()
        membership = row and Membership.objects.filter(user=row.user).first()
        if membership and team.group.user_set.filter(pk=row.user_id).exists():
            tenancy.remove_team_member(ctx=ctx, team=team, membership=membership)


def create_group(ctx: TenantContext, data: dict) -> ScimGroup:
    name = str(data.get("displayName") or "").strip()
    if not name:
        raise InvalidInput("displayName is required")
    with transaction.atomic():
        team = Team.objects.filter(name=name).first()
        if team is not None and ScimGroup.objects.filter(team=team).exists():
            raise Conflict(f"a group named {name!r} exists")
        team = team or tenancy.create_team(ctx=ctx, name=name)
        group = ScimGroup.objects.create(
            organization=ctx.organization, team=team, external_id=str(data.get("externalId") or "")
        )
        _set_members(ctx, group, _member_ids(data.get("members")), [])
        _audit(ctx, audit_actions.SCIM_GROUP_CREATE, team, after={"name": name})
    return group


def replace_group(ctx: TenantContext, group: ScimGroup, data: dict) -> ScimGroup:
    name = str(data.get("displayName") or "").strip()
    if not name:
        raise InvalidInput("displayName is required")
    with transaction.atomic():
        if name != group.team.name:
            tenancy.update_team(ctx=ctx, team=group.team, name=name)
        wanted = set(_member_ids(data.get("members")))
        current = {str(m.pk) for m in ScimUser.objects.filter(user__groups=group.team.group_id)}
        _set_members(ctx, group, sorted(wanted - current), sorted(current - wanted))
        group.external_id = str(data.get("externalId") or group.external_id)
        group.updated_at = timezone.now()
        group.save()
        _audit(ctx, audit_actions.SCIM_GROUP_UPDATE, group.team, after={"name": name})
    return group


_MEMBER_PATH = re.compile(r'^members\[value eq "([^"]+)"\]$', re.I)


def patch_group(ctx: TenantContext, group: ScimGroup, data: dict) -> ScimGroup:
    with transaction.atomic():
        for op in _patch_ops(data):
            kind, path, value = op["op"].lower(), str(op.get("path") or ""), op.get("value")
            one = _MEMBER_PATH.match(path)
            if path.lower() == "members" or one:
                ids = [one.group(1)] if one else _member_ids(value)
                if kind == "remove":
                    _set_members(ctx, group, [], ids)
                elif kind == "add":
                    _set_members(ctx, group, ids, [])
                else:
                    current = {
                        str(m.pk) for m in ScimUser.objects.filter(user__groups=group.team.group_id)
                    }
                    _set_members(ctx, group, sorted(set(ids) - current), sorted(current - set(ids)))
            elif path.lower() == "displayname" or (not path and isinstance(value, dict)):
                name = value if path else value.get("displayName")
                if name and str(name) != group.team.name:
                    tenancy.update_team(ctx=ctx, team=group.team, name=str(name))
                if not path and value.get("externalId"):
                    group.external_id = str(value["externalId"])
            elif path.lower() == "externalid":
                group.external_id = "" if kind == "remove" else str(value or "")
        group.updated_at = timezone.now()
        group.save()
        _audit(ctx, audit_actions.SCIM_GROUP_UPDATE, group.team, after={"name": group.team.name})
    return group


def delete_group(ctx: TenantContext, group: ScimGroup) -> None:
    with transaction.atomic():
        _audit(ctx, audit_actions.SCIM_GROUP_DELETE, group.team, before={"name": group.team.name})
        tenancy.delete_team(ctx=ctx, team=group.team)
