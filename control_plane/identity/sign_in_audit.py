"""Sign-in facts into the audit log of every organization the person belongs to.

A failed sign-in with an unknown email belongs to no organization: django-axes still
counts it (and locks it out), but no tenant's chain records it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from control_plane.audit.services import record
from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal
from control_plane.identity import audit_actions
from control_plane.tenancy.models import Membership, Organization, User

log = logging.getLogger(__name__)


def _organizations(user: User) -> list[Organization]:
    ids = Membership.objects.unscoped().filter(user=user).values("organization_id")
    return list(Organization.objects.filter(pk__in=ids))


def record_for_user(*, user: User, action: str, request, after: dict | None = None) -> None:
    """One audit event per organization of ``user`` (who acted: the user, or anyone)."""
    actor = Principal.for_user(user)
    ip = client_ip(request) if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    with transaction.atomic():
        for organization in _organizations(user):
            record(
                actor=actor,
                action=action,
                target=("user", user.pk, user.email),
                organization=organization,
                after=after,
                ip=ip,
                user_agent=agent,
            )


def _user_named(credentials: dict) -> User | None:
    email = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    return User.objects.filter(email__iexact=email.strip()).first() if email else None


def on_sign_in(sender, request, user, **kwargs) -> None:
    record_for_user(user=user, action=audit_actions.SIGN_IN, request=request)


def on_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    user = _user_named(credentials)
    if user is None:
        log.info("sign-in failed for an unknown email")
        return
    record_for_user(user=user, action=audit_actions.SIGN_IN_FAILED, request=request)


def on_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    user = _user_named({"username": username})
    if user is None:
        log.warning("sign-in locked out for an unknown email from %s", ip_address)
        return
    record_for_user(user=user, action=audit_actions.LOCKED_OUT, request=request)
