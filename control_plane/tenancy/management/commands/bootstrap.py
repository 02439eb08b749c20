"""Create an organization with its prod deployment and first Org Admin, and print a token."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.management.errors import command_errors
from control_plane.tenancy import services
from control_plane.tenancy.models import Membership, Organization, User
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action


class Command(BaseCommand):
    help = (
        "Create organization SLUG (with its prod deployment) and EMAIL as its Organization "
        "Admin, then print a new user API token. Re-running for the same org and admin only "
        "prints a new token."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug, e.g. acme")
        parser.add_argument("--email", required=True, help="email of the first Org Admin")
        parser.add_argument("--name", help="organization display name (default: the slug)")
        parser.add_argument("--token-name", default="bootstrap", help="name of the printed token")
        parser.add_argument(
            "--plan", default="starter", help="billing plan of a new organization (docs/billing.md)"
        )

    def handle(self, *args, org, email, name, token_name, plan, **options):
        actor = Principal.system("bootstrap command")
        with command_errors(), transaction.atomic():
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                organization = services.create_organization(
                    actor=actor, slug=org, name=name or org, admin_email=email, plan=plan
                )
                self.stderr.write(f"created organization {org!r} with {email} as Org Admin")
            user = User.objects.filter(email__iexact=email).first()
            is_admin = (
                user is not None
                and Membership.objects.unscoped()
                .filter(organization=organization, user=user)
                .exists()
                and is_allowed(Principal.for_user(user), Action.MANAGE_MEMBERS, organization)
            )
            if not is_admin:
                raise CommandError(
                    f"organization {org!r} already exists and {email} is not its Org Admin"
                )
            ctx = TenantContext(organization=organization, principal=actor)
            with tenant_context(ctx):
                _, secret = services.create_user_token(ctx=ctx, name=token_name, user=user)
        self.stdout.write(secret)
