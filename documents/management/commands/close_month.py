"""`manage.py close_month`: issue a month's acts and VAT invoices / УПД now, in this process."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from documents.services.closing import ClosingInProgress, close_month, previous_month


class Command(BaseCommand):
    help = (
        "Issue the closing documents (acts and VAT invoices, or УПД) of --month (default: the previous month) for "
        "every customer charged in it; safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", help="The month to close, YYYY-MM (default: the previous month, UTC).")
        parser.add_argument("--chunk-size", type=int, default=None, help="Customers per chunk (default 500).")

    def handle(self, *args, month=None, chunk_size=None, **options):
        try:
            first = dt.date.fromisoformat(f"{month}-01") if month else previous_month(timezone.now().date())
        except ValueError as exc:
            raise CommandError(f"--month must be YYYY-MM, not {month!r}.") from exc
        if first >= timezone.now().date().replace(day=1):
            raise CommandError(f"{first:%Y-%m} has not ended yet: only a past month can be closed.")
        try:
            run = close_month(month=first, chunk_size=chunk_size)
        except ClosingInProgress as exc:
            raise CommandError(f"{exc}; wait for it or let its lease run out.") from exc
        self.stdout.write(
            f"Closing {first:%Y-%m} #{run.pk}: {run.status}, {run.customers_done} customer(s), "
            f"{run.documents_issued} document(s), {len(run.failures)} failure(s)."
        )
        for failure in run.failures:
            self.stdout.write(f"  customer #{failure['customer_id']}: {failure['error']}")
