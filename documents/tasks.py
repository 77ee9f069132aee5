"""Thin Celery tasks of the documents app. Delivery is at least once; the services are idempotent."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from documents.services.invoicing import invoice_issue_postpaid


@shared_task(name="documents.tasks.invoice_postpaid", ignore_result=True)
def invoice_postpaid(as_of: str | None = None) -> int:
    """Beat, daily: invoice postpaid customers for the periods ended by `as_of` (YYYY-MM-DD; default: today in
    UTC). Returns how many invoices were issued; a rerun issues nothing new."""
    day = dt.date.fromisoformat(as_of) if as_of else timezone.now().date()
    return len(invoice_issue_postpaid(as_of=day).invoice_ids)
