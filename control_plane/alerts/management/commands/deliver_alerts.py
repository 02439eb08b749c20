"""``python -m control_plane deliver_alerts [--once]``: send queued alert notices."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from control_plane.alerts.delivery import deliver_due


class Command(BaseCommand):
    help = "Send pending alert emails and webhooks, retrying failures with backoff."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between passes (default 5)"
        )
        parser.add_argument("--limit", type=int, default=100, help="deliveries per pass")

    def handle(self, *args, once: bool, interval: float, limit: int, **options):
        while True:
            # Drain: keep going while full batches come back, then wait.
            while True:
                report = deliver_due(limit=limit)
                if report.attempted:
                    self.stdout.write(
                        f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}"
                    )
                if report.attempted < limit:
                    break
            if once:
                return
            time.sleep(interval)
