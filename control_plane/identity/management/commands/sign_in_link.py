"""Print a one-time console sign-in link for a user (``assay dev`` prints one at start)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.identity.services import SIGN_IN_LINK_MINUTES, create_sign_in_link
from control_plane.tenancy.models import User


class Command(BaseCommand):
    help = "Print a URL that signs the user with --email in to the console, once."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--minutes", type=int, default=SIGN_IN_LINK_MINUTES)

    def handle(self, *args, email, minutes, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None or not user.is_active:
            raise CommandError(f"no active user with email {email!r}")
        self.stdout.write(create_sign_in_link(user=user, minutes=minutes))
