"""Thin Celery tasks of the documents app. Delivery is at least once; the services are idempotent."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from documents.rendering import document_pdf_store, documents_for_rendering
from documents.services.invoicing import invoice_issue_postpaid


@shared_task(name="documents.tasks.invoice_postpaid", ignore_result=True)
def invoice_postpaid(as_of: str | None = None) -> int:
    """Beat, daily: invoice postpaid customers for the periods ended by `as_of` (YYYY-MM-DD; default: today in
    UTC). Returns how many invoices were issued; a rerun issues nothing new."""
    day = dt.date.fromisoformat(as_of) if as_of else timezone.now().date()
    return len(invoice_issue_postpaid(as_of=day).invoice_ids)


@shared_task(name="documents.tasks.monthly_closing", ignore_result=True)
def monthly_closing(today: str | None = None) -> int | None:
    """Beat, daily: on the billing policy's closing day, close the previous month (acts and VAT invoices / УПД).
    Idempotent: a month already closed issues nothing new. Returns the closing run's id, None on other days."""
    from billing.models import BillingPolicy
    from documents.services.closing import ClosingInProgress, close_month, previous_month

    day = dt.date.fromisoformat(today) if today else timezone.now().date()
    if day.day != BillingPolicy.current().closing_day:
        return None
    try:
        return close_month(month=previous_month(day)).pk
    except ClosingInProgress:
        return None


@shared_task(name="documents.tasks.documents_render", ignore_result=True)
def documents_render(ids: list[int]) -> int:
    """Render and store the PDFs of a chunk of documents (one task per chunk, never per document); documents
    whose PDF is current are skipped (the content-hash cache), so a redelivered task does no work twice. Returns
    how many were rendered. Enqueue with `transaction.on_commit` after issuing."""
    return len(document_pdf_store(documents_for_rendering(ids)))


@shared_task(name="documents.tasks.renewal_invoices", ignore_result=True)
def renewal_invoices() -> int:
    """Beat, daily: invoices for payment before renewals that customers paying by bank transfer cannot cover."""
    from documents.services.payment_invoices import renewal_invoices_issue

    return len(renewal_invoices_issue())


@shared_task(name="documents.tasks.advance_vat", ignore_result=True)
def advance_vat() -> int:
    """Beat, daily: advance VAT invoices for payments shipments did not close within 5 days, and the reversal of
    the VAT of advances shipments have closed since."""
    from documents.services.advances import advance_invoices_issue, advance_vat_reverse

    return len(advance_invoices_issue()) + len(advance_vat_reverse())


@shared_task(name="documents.tasks.closing_work", ignore_result=True)
def closing_work(run_id: int) -> str:
    """Work a started closing (the admin's "start closing") to its end; a redelivery after the end does nothing.
    Returns the run's status."""
    from documents.services.closing import closing_run_work

    return closing_run_work(run_id=run_id).status
