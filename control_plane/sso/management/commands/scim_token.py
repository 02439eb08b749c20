"""Create a SCIM provisioning token for an organization and print it once (docs/sso.md).

The token acts as the organization's provisioning system, not as a person, so it is made
by an operator here (audited as made by the system) rather than minted from a session.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.sso import services
from control_plane.tenancy.models import Organization


class Command(BaseCommand):
    help = "Create a SCIM token for --org and print it (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--name", default="SCIM", help="a label, e.g. okta")

    def handle(self, *args, org, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization {org!r}")
        ctx = TenantContext(organization=organization, principal=Principal.system("operator"))
        with tenant_context(ctx):
            _, secret = services.create_scim_token(ctx=ctx, name=name)
        self.stdout.write(secret)
