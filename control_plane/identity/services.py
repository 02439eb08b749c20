"""Sign-in links and invitations: create, send, use. Each change is audited.

An invitation answers the same whether or not the email is known on the platform: no user
is read or created until the invitee accepts, and nothing another organization gave that
person (a name) is shown to the inviter.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.core import hooks
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import InvalidInput
from control_plane.identity import audit_actions
from control_plane.identity.errors import AlreadyMember, LinkNotUsable
from control_plane.identity.links import hash_of, new_secret
from control_plane.identity.models import Invitation, SignInLink
from control_plane.identity.sign_in_audit import record_for_user
from control_plane.tenancy.models import Membership, User
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action
from control_plane.tenancy.services import get_or_create_user

log = logging.getLogger(__name__)

SIGN_IN_LINK_MINUTES = 15
INVITATION_DAYS = 7


def _url(name: str, secret: str) -> str:
    return settings.BASE_URL + reverse(name, kwargs={"secret": secret})


# Sign-in links (operators and `assay dev`) ---------------------------------------------


def create_sign_in_link(*, user: User, minutes: int = SIGN_IN_LINK_MINUTES) -> str:
    """A URL that signs ``user`` in once, within ``minutes``."""
    secret, digest = new_secret()
    SignInLink.objects.create(
        user=user, secret_hash=digest, expires_at=timezone.now() + timedelta(minutes=minutes)
    )
    return _url("identity:sign_in_link", secret)


def use_sign_in_link(*, secret: str, request) -> User:
    """The link's user, once: the link is spent in the same transaction."""
    with transaction.atomic():
        link = (
            SignInLink.objects.select_for_update()
            .select_related("user")
            .filter(secret_hash=hash_of(secret), used_at__isnull=True)
            .first()
        )
        if link is None or link.expires_at <= timezone.now() or not link.user.is_active:
            raise LinkNotUsable("this sign-in link is not valid: it was used or has expired")
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        record_for_user(user=link.user, action=audit_actions.SIGN_IN_LINK, request=request)
    return link.user


# Invitations -----------------------------------------------------------------------------


def invite_member(*, ctx: TenantContext, email: str, name: str = "") -> Invitation:
    """Invite ``email`` to the organization: a one-time link by mail, accepted by its holder.

    A pending invitation of the same email is replaced (its link stops working).
    """
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    email = User.objects.normalize_email(email.strip())
    if not email or "@" not in email:
        raise InvalidInput(
            "Enter a valid email address.", fields={"email": ["Enter a valid email address."]}
        )
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member")
    secret, digest = new_secret()
    with transaction.atomic():
        hooks.check_limit(ctx, "invitation", email)
        Invitation.objects.filter(email__iexact=email, status=Invitation.Status.PENDING).update(
            status=Invitation.Status.REVOKED
        )
        invitation = Invitation.objects.create(
            organization=ctx.organization,
            email=email,
            name=name,
            invited_by=ctx.principal.label,
            secret_hash=digest,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        )
        record_for(
            ctx, audit_actions.INVITE, ("invitation", invitation.pk, email), after={"email": email}
        )
        url = _url("identity:invitation", secret)
        organization_name = ctx.organization.name
        inviter = ctx.principal.label
        transaction.on_commit(lambda: _send_invitation(email, url, organization_name, inviter))
    return invitation


def _send_invitation(email: str, url: str, organization: str, inviter: str) -> None:
    try:
        send_mail(
            subject=f"You are invited to {organization} on Assay",
            message=(
                f"{inviter} invited you to join {organization} on Assay.\n\n"
                f"Accept the invitation (the link works once, for {INVITATION_DAYS} days):\n"
                f"{url}\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    except OSError:
        log.exception("identity: the invitation mail to a new member could not be sent")


def invitation_for(*, secret: str) -> Invitation:
    """The pending invitation a link names (cross-tenant by nature: the link is the key)."""
    invitation = (
        Invitation.objects.unscoped()
        .select_related("organization")
        .filter(secret_hash=hash_of(secret))
        .first()
    )
    if invitation is None or not invitation.is_usable():
        raise LinkNotUsable("this invitation is not valid: it was used, revoked or has expired")
    return invitation


def accept_invitation(*, secret: str, user: User | None, password: str = "", request=None) -> User:
    """Make the invitee a member. ``user``: who is signed in (must hold the invited email);
    None: a new person, who sets ``password`` (Django's validators apply)."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    invitation = invitation_for(secret=secret)
    if user is not None and user.email.lower() != invitation.email.lower():
        raise InvalidInput(
            f"this invitation is for {invitation.email}; sign out and open the link again"
        )
    ctx = TenantContext(
        organization=invitation.organization,
        principal=Principal.for_user(user)
        if user
        else Principal(kind="user", label=invitation.email),
        ip=None,
    )
    with transaction.atomic(), tenant_context(ctx):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_usable():
            raise LinkNotUsable("this invitation is not valid: it was used, revoked or has expired")
        if user is None:
            existing = User.objects.filter(email__iexact=invitation.email).first()
            if existing is not None and existing.has_usable_password():
                raise InvalidInput("you already have an Assay account: sign in, then open the link")
            user = existing or get_or_create_user(email=invitation.email, name=invitation.name)
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise InvalidInput(
                    " ".join(error.messages), fields={"password": error.messages}
                ) from None
            user.set_password(password)
            user.save(update_fields=["password"])
        ctx.principal = Principal.for_user(user)
        membership, _ = Membership.objects.get_or_create(
            organization=invitation.organization, user=user
        )
        locked.status = Invitation.Status.ACCEPTED
        locked.accepted_at = timezone.now()
        locked.membership = membership
        locked.save(update_fields=["status", "accepted_at", "membership"])
        record_for(
            ctx,
            audit_actions.INVITE_ACCEPT,
            ("member", membership.pk, user.email),
            after={"email": user.email},
        )
    return user


def revoke_invitation(*, ctx: TenantContext, invitation: Invitation) -> Invitation:
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    with transaction.atomic():
        invitation.status = Invitation.Status.REVOKED
        invitation.save(update_fields=["status"])
        record_for(
            ctx,
            audit_actions.INVITE_REVOKE,
            ("invitation", invitation.pk, invitation.email),
            before={"email": invitation.email},
        )
    return invitation
