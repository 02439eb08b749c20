"""Create a user API token or an agent token and print it (shown once)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.management.errors import command_errors
from control_plane.tenancy import queries, services
from control_plane.tenancy.models import Organization, User
from control_plane.tenancy.roles import Role


class Command(BaseCommand):
    help = "Create a token in organization --org and print it; the secret is never shown again."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", required=True, help="a name to recognise the token by")
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--user", metavar="EMAIL", help="user token acting as this member")
        kind.add_argument(
            "--agent", action="store_true", help="agent token (use --deployment, repeatable)"
        )
        parser.add_argument(
            "--deployment",
            action="append",
            default=[],
            help="agent: a deployment it serves (repeatable, default prod); user: narrow to one",
        )
        parser.add_argument("--max-role", choices=[r.slug for r in Role], help="user: cap role")

    def handle(self, *args, org, name, user, agent, deployment, max_role, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization {org!r}")
        ctx = TenantContext(organization=organization, principal=Principal.system("create_token"))
        with command_errors(), tenant_context(ctx):
            if agent:
                deployments = [queries.get_deployment(name=d) for d in deployment or ["prod"]]
                _, secret = services.create_agent_token(ctx=ctx, name=name, deployments=deployments)
            else:
                if len(deployment) > 1:
                    raise CommandError("a user token can be narrowed to one deployment")
                owner = User.objects.filter(email__iexact=user).first()
                if owner is None:
                    raise CommandError(f"no user {user!r}")
                _, secret = services.create_user_token(
                    ctx=ctx,
                    name=name,
                    user=owner,
                    deployment=queries.get_deployment(name=deployment[0]) if deployment else None,
                    max_role=Role.from_slug(max_role) if max_role else None,
                )
        self.stdout.write(secret)
