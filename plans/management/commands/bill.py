"""`manage.py bill`: run the billing run now, in this process, with a progress bar.

Exit status: 0 when the run completed (with or without failures of single subscriptions, which are listed),
1 when another run is in progress (nothing started), when a worker stopped on an error (the run is `failed`) or when
the run was closed as interrupted under it (no heartbeat within the lease); 2 for a bad argument."""

import sys
import time

from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from plans.errors import BillingRunInProgress
from plans.models import BillingRun, Subscription
from plans.services.billing_run import billing_run_execute

SHOWN_FAILURES = 20


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

        try:
            run: BillingRun = billing_run_execute(as_of=instant, triggered_by="manage.py bill", progress=progress)
        except BillingRunInProgress as exc:
            self.stderr.write(f"Not started: {exc.message}")
            sys.exit(1)
        except Exception as exc:  # the run is recorded as failed with the error; say so without a traceback
            run = BillingRun.objects.filter(triggered_by="manage.py bill").first()
            self.stdout.write("")
            self.stderr.write(f"Run #{run.pk if run else '?'} stopped ({run.status if run else '-'}): {exc}")
            sys.exit(1)
        self.stdout.write("")
        summary = (
            f"Run #{run.pk}: {run.processed} processed, {run.charged} charges posted, {run.canceled} canceled, "
            f"{run.suspended} suspended, {run.failed} failed, {run.left} left for the next run "
            f"in {time.monotonic() - started:.1f}s ({run.get_status_display().lower()})"
        )
        self.stdout.write(self.style.SUCCESS(summary) if run.status == "completed" else self.style.WARNING(summary))
        for failure in run.failures[:SHOWN_FAILURES]:
            self.stderr.write(f"  subscription {failure['subscription_id']}: {failure['reason']}")
        if len(run.failures) > SHOWN_FAILURES:
            self.stderr.write(f"  … and {len(run.failures) - SHOWN_FAILURES} more (see the run in the admin)")
        if run.status in (BillingRun.Status.FAILED, BillingRun.Status.INTERRUPTED):
            sys.exit(1)
