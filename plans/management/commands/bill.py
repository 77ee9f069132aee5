"""`manage.py bill`: run the billing run now, in this process, with a progress bar."""

import sys
import time

from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from plans.models import BillingRun, Subscription
from plans.services.billing_run import billing_run_execute


class Command(BaseCommand):
    help = "Bill every subscription due now (or at --as-of) in chunks; safe to interrupt and run again."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="ISO datetime with time zone (default: now)")
        parser.add_argument("--dry-run", action="store_true", help="Only count what is due.")

    def handle(self, *args, as_of=None, dry_run=False, **options):
        from django.utils import timezone

        instant = parse_datetime(as_of) if as_of else timezone.now()
        if instant is None or instant.tzinfo is None:
            self.stderr.write("--as-of must be an ISO datetime with a time zone, e.g. 2026-12-01T00:00:00+03:00")
            sys.exit(2)
        due = Subscription.objects.filter(status__in=("active", "trialing"), next_billing_at__lte=instant).count()
        self.stdout.write(f"{due} subscriptions due as of {instant.isoformat()}")
        if dry_run or not due:
            return
        started = time.monotonic()
        done = 0

        def progress(result):
            nonlocal done
            done += result.claimed
            width = 40
            filled = min(width, int(width * done / max(due, 1)))
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{due} ({rate:,.0f}/s)", ending="")
            self.stdout.flush()

        run: BillingRun = billing_run_execute(as_of=instant, triggered_by="manage.py bill", progress=progress)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Run #{run.pk}: {run.processed} processed, {run.charged} charges posted, {run.canceled} canceled, "
                f"{run.suspended} suspended, {run.failed} failed in {time.monotonic() - started:.1f}s"
            )
        )
        for failure in run.failures[:20]:
            self.stderr.write(f"  subscription {failure['subscription_id']}: {failure['reason']}")
