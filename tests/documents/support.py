"""Helpers of the documents tests: postpaid customers, the pinned instants of a billing month, row counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from billing.models import Customer, Event
from billing.services.customers import customer_create, customer_update
from documents.models import DocumentCounter, Invoice, InvoiceLine

D = Decimal
MSK = dt.timezone(dt.timedelta(hours=3))  # Europe/Moscow: UTC+3 all year since 2014


def msk(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    """An instant on a Moscow calendar day (noon by default)."""
    return dt.datetime(year, month, day, hour, tzinfo=MSK)


def midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=MSK)


JAN15 = msk(2026, 1, 15)  # subscriptions start here: first monthly period [Jan 15, Feb 15)


POSTPAID_SINCE = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)  # before every period these tests bill


def postpaid_customer(name: str = "Acme", *, since: dt.datetime = POSTPAID_SINCE, **fields) -> Customer:
    """A RUB customer in Moscow, created prepaid by customer_create and switched to postpaid by customer_update, both
    with the clock at `since`: it is postpaid from that day (UTC) on, so the charges of periods that start on or after
    it are invoiced."""
    with time_machine.travel(since, tick=False):
        customer = customer_create(
            name=name, currency="RUB", credit_limit=Decimal(0), timezone="Europe/Moscow", **fields
        )
        customer = customer_update(customer_id=customer.pk, billing_model=Customer.BillingModel.POSTPAID)
    assert customer.postpaid_since == since.astimezone(dt.UTC).date()
    return customer


def invoice_rows() -> dict[str, object]:
    """Everything invoicing writes."""
    return {
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "events": Event.objects.filter(type="invoice.issued").count(),
        "counters": list(
            DocumentCounter.objects.order_by("doc_type", "year").values_list("doc_type", "year", "last_number")
        ),
    }


def invoice_lines(invoice: Invoice) -> list[tuple[str, str, dt.date, dt.date, Decimal]]:
    """(charge kind, description, period start, period end, amount) of an invoice's lines in order."""
    return [
        (line.charge.kind, line.description, line.period_start, line.period_end, line.amount.amount)
        for line in invoice.lines.select_related("charge").order_by("id")
    ]
