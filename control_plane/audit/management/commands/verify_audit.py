"""Walk an organization's audit chain (HMACs and signed checkpoints); report the first break."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.audit.services import verify_chain, write_checkpoint
from control_plane.tenancy.models import Organization


class Command(BaseCommand):
    help = (
        "Verify the audit log's keyed chain and signed checkpoints of --org (or --all "
        "organizations). Exit 1 on a break. --checkpoint signs each verified head."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--org", help="organization slug")
        target.add_argument("--all", action="store_true", help="every organization")
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="after a chain verifies, sign a checkpoint of its head",
        )

    def handle(self, *args, org, all, checkpoint, **options):
        if all:
            organizations = list(Organization.objects.order_by("slug"))
        else:
            organizations = list(Organization.objects.filter(slug=org))
            if not organizations:
                raise CommandError(f"no organization {org!r}")
        broken = False
        for organization in organizations:
            report = verify_chain(organization=organization)
            if report.ok:
                self.stdout.write(
                    f"{report.organization}: OK, {report.checked} events verified, "
                    f"{report.checkpoints} checkpoints matched"
                )
                if checkpoint and (signed := write_checkpoint(organization=organization)):
                    self.stdout.write(
                        f"{report.organization}: checkpoint signed at seq {signed.seq} "
                        f"(head {signed.head_hash})"
                    )
            else:
                broken = True
                self.stdout.write(
                    f"{report.organization}: BROKEN at seq {report.first_break_seq} "
                    f"({report.reason}); {report.checked} events verified before it"
                )
        if broken:
            raise CommandError("audit chain verification failed", returncode=1)
