"""`manage.py invoice_postpaid`: issue the invoices of postpaid customers now, in this process."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.errors import ApplicationError
from documents.formatting import amount_text
from documents.selectors import invoices_pending_postpaid
from documents.services.invoicing import invoice_date_check, invoice_issue_postpaid


class Command(BaseCommand):
    help = (
        "Invoice every postpaid customer for the charges whose period has ended by --as-of (default: today, "
        "UTC); safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="The issue date, YYYY-MM-DD (default: today in UTC).")
        parser.add_argument("--dry-run", action="store_true", help="Only list the invoices that would be issued.")

    def handle(self, *args, as_of=None, dry_run=False, **options):
        try:
            day = dt.date.fromisoformat(as_of) if as_of else timezone.now().date()
        except ValueError as exc:
            raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}.") from exc
        try:
            invoice_date_check(as_of=day)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if dry_run:
            pending = invoices_pending_postpaid(as_of=day)
            for p in pending:
                last_day = p.period_end - dt.timedelta(days=1)
                self.stdout.write(
                    f"{p.customer_name} (#{p.customer_id}): {amount_text(p.total, p.currency)} "
                    f"{p.currency} for {p.charges} charge(s), {p.period_start} – {last_day}"
                )
            self.stdout.write(f"{len(pending)} invoice(s) would be issued as of {day} (dry run: nothing written).")
            return
        result = invoice_issue_postpaid(as_of=day)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.invoice_ids)} invoice(s) issued as of {day}, due {result.due_date}; "
                f"{result.customers} customer(s) with charges to invoice, {result.left_for_later} left for later "
                f"(credits outweigh the charges)."
            )
        )
