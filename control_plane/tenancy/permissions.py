"""``authorize``: the one place that decides whether a principal may do an action on an object.

Role grants are the source of truth (``RoleGrant``); each grant is mirrored into
django-guardian object permissions (one per allowed action) on its scope object, so
checks are guardian lookups over the object and its parents. Callers never talk to
guardian directly.
"""

from __future__ import annotations

import copy

from django.contrib.auth.models import Group
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from control_plane.core.context import Principal
from control_plane.tenancy.errors import NotAllowed
from control_plane.tenancy.models import CodeLocation, Deployment, Organization, RoleGrant, User
from control_plane.tenancy.roles import MINIMUM_ROLE, Action, Role, actions_for

ScopeObject = Organization | Deployment | CodeLocation


def _scope_chain(obj: ScopeObject) -> list[ScopeObject]:
    """The object and every parent whose grants cover it, broadest first (most grants are
    organization-wide, so checks usually stop at the first)."""
    if isinstance(obj, CodeLocation):
        return [obj.organization, obj.deployment, obj]
    if isinstance(obj, Deployment):
        return [obj.organization, obj]
    return [obj]


def _organization_of(obj: ScopeObject) -> int:
    return obj.pk if isinstance(obj, Organization) else obj.organization_id


def _role_holder(user: User) -> User:
    """``user`` as guardian should see it. Role grants are the only source of permissions,
    but guardian gives a Django superuser (``createsuperuser``) every permission on every
    object, so checks run on a copy without that flag."""
    if not user.is_superuser:
        return user
    plain = copy.copy(user)
    plain.is_superuser = False
    return plain


def _checker(principal: Principal) -> ObjectPermissionChecker:
    checker = principal._cache.get("checker")
    if checker is None:
        checker = ObjectPermissionChecker(_role_holder(principal.user))
        principal._cache["checker"] = checker
    return checker


def _token_allows(principal: Principal, action: Action, obj: ScopeObject) -> bool:
    token = principal.token
    if token is None:
        return True
    if token.organization_id != _organization_of(obj):
        return False
    if token.max_role is not None and Role(token.max_role) < MINIMUM_ROLE[action]:
        return False
    if token.deployment_id is not None:
        chain = _scope_chain(obj)
        return any(isinstance(o, Deployment) and o.pk == token.deployment_id for o in chain) or (
            isinstance(obj, Organization) and action is Action.VIEW
        )
    return True


def is_allowed(principal: Principal, action: Action | str, obj: ScopeObject) -> bool:
    """Whether ``principal`` may do ``action`` on ``obj`` (an org, deployment or code location)."""
    action = Action(action)
    if principal.is_system:
        return True
    if principal.kind != "user" or principal.user is None or not principal.user.is_active:
        return False  # agents act only through the agent protocol
    if not _token_allows(principal, action, obj):
        return False
    checker = _checker(principal)
    return any(checker.has_perm(action.value, scope) for scope in _scope_chain(obj))


def authorize(principal: Principal, action: Action | str, obj: ScopeObject) -> None:
    """Raise ``NotAllowed`` unless ``principal`` may do ``action`` on ``obj``."""
    if not is_allowed(principal, action, obj):
        raise NotAllowed(f"your role does not allow {Action(action).value} here")


def prefetch(principal: Principal, objects: list[ScopeObject]) -> None:
    """Load guardian permissions for many objects at once (constant queries for lists)."""
    if principal.kind == "user" and principal.user is not None and objects:
        _checker(principal).prefetch_perms(objects)


def within_token(principal: Principal, queryset):
    """Restrict deployments or code locations to the principal's token deployment, if any.

    A token narrowed to one deployment must not even list the others' names.
    """
    token = principal.token
    if token is None or token.deployment_id is None:
        return queryset
    field = "pk" if queryset.model is Deployment else "deployment_id"
    return queryset.filter(**{field: token.deployment_id})


def visible(principal: Principal, queryset, action: Action = Action.VIEW):
    """Filter ``queryset`` (deployments or code locations) to objects granted directly."""
    if principal.is_system:
        return queryset
    if principal.kind != "user" or principal.user is None:
        return queryset.none()
    granted = get_objects_for_user(
        _role_holder(principal.user), action.value, klass=queryset, accept_global_perms=False
    )
    return within_token(principal, granted)


def effective_role(principal: Principal, obj: ScopeObject) -> Role | None:
    """The highest role granted to the principal (directly or via teams) covering ``obj``."""
    if principal.is_system:
        return Role.ORG_ADMIN
    roles = [role for role in reversed(Role) if is_allowed_role(principal, role, obj)]
    return roles[0] if roles else None


def is_allowed_role(principal: Principal, role: Role, obj: ScopeObject) -> bool:
    return all(is_allowed(principal, action, obj) for action in actions_for(role))


def _scope_object(grant: RoleGrant) -> ScopeObject:
    return grant.code_location or grant.deployment or grant.organization


def sync_guardian_permissions(
    *, grantee: User | Group, scope: ScopeObject, role: Role | None
) -> None:
    """Make guardian's permissions of ``grantee`` on ``scope`` exactly those of ``role``."""
    wanted = actions_for(role) if role is not None else frozenset()
    for action in Action:
        if action in wanted:
            assign_perm(action.value, grantee, scope)
        else:
            remove_perm(action.value, grantee, scope)


def forget_object_permissions(objects: list[ScopeObject]) -> None:
    """Drop guardian rows about objects being deleted (its generic rows have no cascade)."""
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    for obj in objects:
        ctype = ContentType.objects.get_for_model(obj)
        for model in (UserObjectPermission, GroupObjectPermission):
            model.objects.filter(content_type=ctype, object_pk=str(obj.pk)).delete()


def grant_role_to_guardian(grant: RoleGrant) -> None:
    grantee = grant.user if grant.user_id else grant.team.group
    sync_guardian_permissions(grantee=grantee, scope=_scope_object(grant), role=Role(grant.role))


def revoke_role_from_guardian(grant: RoleGrant) -> None:
    grantee = grant.user if grant.user_id else grant.team.group
    sync_guardian_permissions(grantee=grantee, scope=_scope_object(grant), role=None)
