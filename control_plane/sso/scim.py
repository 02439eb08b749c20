"""SCIM 2.0 (RFC 7643/7644) Users and Groups for one organization: Users are members,
Groups are teams. Written on DRF because django-scim2 assumes one global user table and
its own tenancy hooks; filters are parsed by scim2-filter-parser into Q objects."""

from __future__ import annotations

import re
from typing import Any

import pydantic
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from scim2_filter_parser.transpilers.django_q_object import Transpiler
from scim2_models import Context, Group, User

from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext
from control_plane.core.errors import Conflict, InvalidInput, NotFound
from control_plane.sso import audit_actions
from control_plane.sso.models import SamlConfig, ScimGroup, ScimUser
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


class NoTarget(InvalidInput):
    scim_type = "noTarget"


class InvalidPath(InvalidInput):
    scim_type = "invalidPath"


# The attributes we keep; others (enterprise extension, phoneNumbers...) are ignored, as
# RFC 7644 §3.3 allows a service provider to do with attributes it does not support.
USER_KEYS = {"schemas", "id", "externalId", "meta", "userName", "name", "displayName"}
USER_KEYS |= {"active", "emails"}
GROUP_KEYS = {"schemas", "id", "externalId", "meta", "displayName", "members"}


def validated(model: Any, data: dict, keys: set[str], context: Context) -> Any:
    """``data`` checked against scim2-models' RFC 7643 model (types, required attributes)."""
    kept = {key: value for key, value in data.items() if key in keys}
    try:
        return model.model_validate(kept, scim_ctx=context)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}" if where else first["msg"]) from None


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


class _StrictTranspiler(Transpiler):
    """The parser's transpiler drops attributes it cannot map, which would widen
    ``a and b`` to ``a``; here an unknown attribute refuses the whole filter."""

    def visit_AttrPath(self, node):
        found = super().visit_AttrPath(node)
        if found is None:
            path = node.attr_name + (f".{node.sub_attr.value}" if node.sub_attr else "")
            raise InvalidFilter(f"filtering on {path!r} is not supported")
        return found


def parse_filter(text: str, attr_map: dict) -> Q:
    """A SCIM filter (``userName eq "a@b.c"``, ``and``/``or``, ``sw``...) as a Q object."""
    if not text:
        return Q()
    try:
        query = _StrictTranspiler(attr_map).transpile(
            SCIMParser().parse(SCIMLexer().tokenize(text))
        )
    except InvalidFilter:
        raise
    except Exception as error:  # the parser raises its own and SLY's errors
        raise InvalidFilter(f"invalid filter {text!r}: {error}") from None
    if not isinstance(query, Q):
        raise InvalidFilter(f"invalid filter {text!r}")
    return query


def _meta(kind: str, obj, location: str) -> dict:
    return {
        "resourceType": kind,
        "created": obj.created_at.isoformat(),
        "lastModified": obj.updated_at.isoformat(),
        "location": location,
    }


def user_resource(row: ScimUser, base: str) -> dict:
    """Only what is assigned is returned (RFC 7643 §2.5: a removed attribute is absent)."""
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": str(row.pk)}
    resource["userName"] = row.user_name
    name = {"givenName": row.given_name, "familyName": row.family_name}
    if any(name.values()):
        resource["name"] = {key: value for key, value in name.items() if value}
    if row.display_name:
        resource["displayName"] = row.display_name
    if row.active is not None:
        resource["active"] = row.active
    if row.emails:
        resource["emails"] = row.emails
    if row.external_id:
        resource["externalId"] = row.external_id
    resource["meta"] = _meta("User", row, f"{base}/Users/{row.pk}")
    return resource


def is_active(row: ScimUser) -> bool:
    """Unassigned ``active`` (removed by a PATCH) counts as active; only ``false`` is not."""
    return row.active is not False


def group_resource(row: ScimGroup, base: str) -> dict:
    members = ScimUser.objects.filter(user__groups=row.team.group_id)
    resource = {
        "schemas": [GROUP_SCHEMA],
        "id": str(row.pk),
        "displayName": row.team.name,
        "members": [{"value": str(m.pk), "$ref": f"{base}/Users/{m.pk}"} for m in members],
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


def _user_fields(data: dict, context: Context) -> dict:
    validated(User, data, USER_KEYS, context)
    name = data.get("name") or {}
    user_name = str(data.get("userName") or "").strip()
    if not user_name:
        raise InvalidInput("userName is required")
    return {
        "user_name": user_name,
        "external_id": str(data.get("externalId") or ""),
        "given_name": str(name.get("givenName") or ""),
        "family_name": str(name.get("familyName") or ""),
        "display_name": str(data.get("displayName") or ""),
        "emails": [e for e in data.get("emails") or [] if isinstance(e, dict)],
        "active": None if data.get("active") is None else _as_bool(data["active"]),
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
    fields = _user_fields(data, Context.RESOURCE_CREATION_REQUEST)
    _check_lengths(fields)
    if fields["active"] is None:
        fields["active"] = True  # a new user is active unless the IdP says otherwise
    email = _email_of(data, fields["user_name"])
    with transaction.atomic():
        if ScimUser.objects.filter(user_name__iexact=fields["user_name"]).exists():
            raise Conflict(f"a user named {fields['user_name']!r} exists")
        name = " ".join(p for p in (fields["given_name"], fields["family_name"]) if p)
        membership = _join(ctx, email, name)
        if ScimUser.objects.filter(user=membership.user).exists():
            raise Conflict(f"{email} is already provisioned")
        row = ScimUser.objects.create(organization=ctx.organization, user=membership.user, **fields)
        if not is_active(row):
            _deactivate(ctx, row)
        record_for(ctx, audit_actions.SCIM_USER_CREATE, row, after={**fields, "email": email})
    return row


MAX_LENGTHS = {
    "user_name": 254,
    "external_id": 256,
    "given_name": 100,
    "family_name": 100,
    "display_name": 200,
}


def _check_lengths(fields: dict) -> None:
    for key, limit in MAX_LENGTHS.items():
        if len(fields.get(key) or "") > limit:
            raise InvalidInput(f"{key} is longer than {limit} characters")


def _apply_user(ctx: TenantContext, row: ScimUser, fields: dict) -> ScimUser:
    _check_lengths(fields)
    before = {k: getattr(row, k) for k in fields}
    was_active = is_active(row)
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
    if was_active and not is_active(row):
        _deactivate(ctx, row)
        record_for(ctx, audit_actions.SCIM_USER_DEACTIVATE, row, before={"active": True})
    elif is_active(row) and not was_active:
        _join(ctx, row.user.email, row.user.name)
    record_for(ctx, audit_actions.SCIM_USER_UPDATE, row, before=before, after=fields)
    return row


def replace_user(ctx: TenantContext, row: ScimUser, data: dict) -> ScimUser:
    with transaction.atomic():
        return _apply_user(ctx, row, _user_fields(data, Context.RESOURCE_REPLACEMENT_REQUEST))


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
    """A SCIM boolean; Azure AD sends ``"True"``/``"False"`` strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"{value!r} is not a boolean")


def _as_text(key: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value


_EMAIL_PATH = re.compile(r'^emails\[type eq "([^"]+)"\]\.value$', re.I)


def _pairs(op: dict) -> dict[str, Any]:
    """The (lower-cased path, value) pairs one operation sets; ``None`` removes."""
    kind, path, value = op["op"].lower(), str(op.get("path") or ""), op.get("value")
    if kind == "remove":
        if not path:
            raise NoTarget("a remove operation needs a path")
        return {path.lower(): None}
    if path:
        return {path.lower(): value}
    if not isinstance(value, dict):
        raise InvalidInput("an operation without a path needs an object value")
    pairs: dict[str, Any] = {}
    for key, item in value.items():
        if key.lower() == "name" and isinstance(item, dict):
            pairs.update({f"name.{k.lower()}": v for k, v in item.items()})
        else:
            pairs[key.lower()] = item
    return pairs


def _with_email(emails: list[dict], kind: str, value) -> list[dict]:
    """Azure AD's ``emails[type eq "work"].value``: set (or drop) the email of that type."""
    rest = [e for e in emails if str(e.get("type", "")).lower() != kind.lower()]
    if value is None:
        return rest
    primary = not rest or not any(e.get("primary") for e in rest)
    return [*rest, {"value": _as_text("emails.value", value), "type": kind, "primary": primary}]


def patch_user(ctx: TenantContext, row: ScimUser, data: dict) -> ScimUser:
    """Okta sends ``replace`` with ``{"active": false}``; Azure AD sends paths like
    ``name.givenName``, ``emails[type eq "work"].value`` and ``"False"`` strings."""
    fields: dict = {}
    for op in _patch_ops(data):
        for key, item in _pairs(op).items():
            email = _EMAIL_PATH.match(key)
            if email:
                current = fields.get("emails", row.emails or [])
                fields["emails"] = _with_email(current, email.group(1), item)
                continue
            if key.startswith("urn:ietf:params:scim:schemas:core:2.0:user:"):
                key = key.rsplit(":", 1)[1]
            if key == "name":  # the whole complex attribute
                if item is not None and not isinstance(item, dict):
                    raise InvalidInput("name must be an object")
                parts = {k.lower(): v for k, v in (item or {}).items()}
                fields["given_name"] = _as_text("name.givenName", parts.get("givenname"))
                fields["family_name"] = _as_text("name.familyName", parts.get("familyname"))
                continue
            if key not in _USER_PATHS:
                continue  # attributes we do not keep (RFC 7644 §3.3 lets us ignore them)
            target = _USER_PATHS[key]
            if target == "active":
                fields[target] = None if item is None else _as_bool(item)
            elif target == "emails":
                validated(User, {"emails": item or []}, {"emails"}, Context.RESOURCE_PATCH_REQUEST)
                fields[target] = list(item or [])
            elif target == "user_name":
                if not item:
                    raise InvalidInput("userName cannot be removed")
                fields[target] = _as_text(key, item).strip()
            else:
                fields[target] = _as_text(key, item)
    with transaction.atomic():
        return _apply_user(ctx, row, fields)


def delete_user(ctx: TenantContext, row: ScimUser) -> None:
    with transaction.atomic():
        if is_active(row):
            _deactivate(ctx, row)
        record_for(ctx, audit_actions.SCIM_USER_DELETE, row, before={"user_name": row.user_name})
        row.delete()


# Groups --------------------------------------------------------------------------------


def _group_name(value) -> str:
    name = _as_text("displayName", value).strip()
    if not name:
        raise InvalidInput("displayName is required")
    if len(name) > 100:
        raise InvalidInput("displayName is longer than 100 characters")
    return name


def _member_ids(values) -> list[str]:
    """User ids of ``[{"value": id}]`` or ``[{"$ref": ".../Users/id"}]``; teams do not nest."""
    ids = []
    for member in values or []:
        if not isinstance(member, dict):
            raise InvalidInput("a member is an object with a value")
        ref = str(member.get("$ref") or "")
        if str(member.get("type") or "").lower() == "group" or "/Groups/" in ref:
            raise InvalidInput("a group cannot be a member of a group (teams do not nest)")
        value = member.get("value") or ref.rstrip("/").rsplit("/", 1)[-1]
        if not value:
            raise InvalidInput("a member needs a value (the user's id)")
        ids.append(str(value))
    return ids


def _set_members(ctx: TenantContext, group: ScimGroup, add: list[str], remove: list[str]):
    team = group.team
    for pk in add:
        found = ScimUser.objects.select_related("user").filter(pk=pk if pk.isdigit() else -1)
        if not found:
            raise InvalidInput(f"no user {pk!r} to add to the group")
        user = found[0].user
        membership = Membership.objects.filter(user=user).first()
        if membership and not team.group.user_set.filter(pk=user.pk).exists():
            tenancy.add_team_member(ctx=ctx, team=team, membership=membership)
    for pk in remove:
        row = ScimUser.objects.filter(pk=pk if pk.isdigit() else -1).first()
        if row is None:
            continue  # already gone: removing it is a no-op
        membership = Membership.objects.filter(user=row.user).first()
        if membership and team.group.user_set.filter(pk=row.user_id).exists():
            tenancy.remove_team_member(ctx=ctx, team=team, membership=membership)


def create_group(ctx: TenantContext, data: dict) -> ScimGroup:
    validated(Group, data, GROUP_KEYS, Context.RESOURCE_CREATION_REQUEST)
    name = _group_name(data.get("displayName"))
    with transaction.atomic():
        team = Team.objects.filter(name=name).first()
        if team is not None and ScimGroup.objects.filter(team=team).exists():
            raise Conflict(f"a group named {name!r} exists")
        team = team or tenancy.create_team(ctx=ctx, name=name)
        group = ScimGroup.objects.create(
            organization=ctx.organization, team=team, external_id=str(data.get("externalId") or "")
        )
        _set_members(ctx, group, _member_ids(data.get("members")), [])
        record_for(ctx, audit_actions.SCIM_GROUP_CREATE, team, after={"name": name})
    return group


def replace_group(ctx: TenantContext, group: ScimGroup, data: dict) -> ScimGroup:
    validated(Group, data, GROUP_KEYS, Context.RESOURCE_REPLACEMENT_REQUEST)
    name = _group_name(data.get("displayName"))
    with transaction.atomic():
        if name != group.team.name:
            tenancy.update_team(ctx=ctx, team=group.team, name=name)
        wanted = set(_member_ids(data.get("members")))
        current = {str(m.pk) for m in ScimUser.objects.filter(user__groups=group.team.group_id)}
        _set_members(ctx, group, sorted(wanted - current), sorted(current - wanted))
        group.external_id = str(data.get("externalId") or group.external_id)
        group.updated_at = timezone.now()
        group.save()
        record_for(ctx, audit_actions.SCIM_GROUP_UPDATE, group.team, after={"name": name})
    return group


_MEMBER_PATH = re.compile(r'^members\[value eq "([^"]+)"\]$', re.I)


def _group_members(group: ScimGroup) -> set[str]:
    return {str(m.pk) for m in ScimUser.objects.filter(user__groups=group.team.group_id)}


def _rename(ctx: TenantContext, group: ScimGroup, name) -> None:
    name = _group_name(name)
    if name != group.team.name:
        tenancy.update_team(ctx=ctx, team=group.team, name=name)


def patch_group(ctx: TenantContext, group: ScimGroup, data: dict) -> ScimGroup:
    """Okta and Azure AD add and remove members by id (``members[value eq "7"]`` or a
    list of values) and rename with ``displayName``; other attributes are ignored."""
    with transaction.atomic():
        before = {"name": group.team.name, "members": sorted(_group_members(group))}
        for op in _patch_ops(data):
            kind, path, value = op["op"].lower(), str(op.get("path") or ""), op.get("value")
            one = _MEMBER_PATH.match(path)
            if path.lower() == "members" or one:
                if value is not None and not isinstance(value, list):
                    raise InvalidInput('members takes a list of {"value": id}')
                ids = [one.group(1)] if one else _member_ids(value)
                current = _group_members(group)
                if kind == "remove":
                    _set_members(ctx, group, [], sorted(current if not one and not value else ids))
                elif kind == "add":
                    _set_members(ctx, group, ids, [])
                else:
                    _set_members(ctx, group, sorted(set(ids) - current), sorted(current - set(ids)))
            elif not path:
                if kind == "remove":
                    raise NoTarget("a remove operation needs a path")
                if not isinstance(value, dict):
                    raise InvalidInput("an operation without a path needs an object value")
                if "displayName" in value:
                    _rename(ctx, group, value["displayName"])
                if "externalId" in value:
                    group.external_id = _as_text("externalId", value["externalId"])
                if "members" in value:
                    members = value["members"]
                    wanted = set(_member_ids(members if isinstance(members, list) else []))
                    current = _group_members(group)
                    _set_members(ctx, group, sorted(wanted - current), sorted(current - wanted))
            elif path.lower() == "displayname":
                if kind == "remove":
                    raise InvalidInput("displayName is required")
                _rename(ctx, group, value)
            elif path.lower() == "externalid":
                group.external_id = "" if kind == "remove" else _as_text("externalId", value)
        group.updated_at = timezone.now()
        group.save()
        after = {"name": group.team.name, "members": sorted(_group_members(group))}
        record_for(ctx, audit_actions.SCIM_GROUP_UPDATE, group.team, before=before, after=after)
    return group


def delete_group(ctx: TenantContext, group: ScimGroup) -> None:
    with transaction.atomic():
        record_for(
            ctx, audit_actions.SCIM_GROUP_DELETE, group.team, before={"name": group.team.name}
        )
        tenancy.delete_team(ctx=ctx, team=group.team)
