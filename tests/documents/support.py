"""Helpers of the documents tests: postpaid customers, the pinned instants of a billing month, row counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from billing.models import Customer, Event
from billing.services.customers import customer_create
from documents.models import DocumentCounter, Invoice, InvoiceLine

D = Decimal
MSK = dt.timezone(dt.timedelta(hours=3))  # Europe/Moscow: UTC+3 all year since 2014


def msk(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    """An instant on a Moscow calendar day (noon by default)."""
    return dt.datetime(year, month, day, hour, tzinfo=MSK)


def midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=MSK)


JAN15 = msk(2026, 1, 15)  # subscriptions start here: first monthly period [Jan 15, Feb 15)


def postpaid_customer(name: str = "Acme", **fields) -> Customer:
    """A postpaid RUB customer in Moscow. Made by customer_create; no service sets the billing model yet (the
    admin shows it read-only and the API has no field for it), so the model is switched with one UPDATE."""
    customer = customer_create(name=name, currency="RUB", credit_limit=Decimal(0), timezone="Europe/Moscow",
                               **fields)
    Customer.objects.filter(pk=customer.pk).update(billing_model=Customer.BillingModel.POSTPAID)
    customer.refresh_from_db()
    return customer


def invoice_rows() -> dict[str, object]:
    """Everything invoicing writes."""
    return {
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "events": Event.objects.filter(type="invoice.issued").count(),
        "counters": list(DocumentCounter.objects.order_by("doc_type", "year")
                         .values_list("doc_type", "year", "last_number")),
    }


def invoice_lines(invoice: Invoice) -> list[tuple[str, str, dt.date, dt.date, Decimal]]:
    """(charge kind, description, period start, period end, amount) of an invoice's lines in order."""
    return [(line.charge.kind, line.description, line.period_start, line.period_end, line.amount.amount)
            for line in invoice.lines.select_related("charge").order_by("id")]
