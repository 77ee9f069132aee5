"""Reads of the documents app. Every API read takes the caller's scope explicitly (`customer_scope`: the one
customer a restricted API key may see, or None for an unrestricted key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Max, Min, Prefetch, QuerySet, Sum
from django.utils.translation import gettext as _

from billing.models import Customer
from config.api.filters import filter_queryset
from documents.errors import DocumentNotFound, InvoiceNotFound
from documents.models import Document, Invoice, InvoiceLine
from plans.models import Charge

# --- what is left to invoice --------------------------------------------------------------------


def charges_to_invoice(*, as_of: dt.date) -> QuerySet[Charge]:
    """Charges of postpaid customers on no invoice yet whose period has ended by `as_of` (periods are half-open,
    so a period ending on `as_of` has ended) and started on or after the day the customer became postpaid
    (`postpaid_since`): the charges of a prepaid era were paid from the balance. Zero charges (a plan without a
    setup fee records one) are never invoiced: nothing is owed for them."""
    return Charge.objects.filter(
        subscription__customer__billing_model=Customer.BillingModel.POSTPAID,
        period_end__lte=as_of,
        period_start__gte=F("subscription__customer__postpaid_since"),
        invoice_line__isnull=True,
    ).exclude(amount=Decimal(0))


@dataclass(frozen=True)
class PendingInvoice:
    customer_id: int
    customer_name: str
    currency: str
    charges: int
    total: Decimal
    period_start: dt.date
    period_end: dt.date  # exclusive


def invoices_pending_postpaid(*, as_of: dt.date) -> list[PendingInvoice]:
    """The invoices `invoice_issue_postpaid(as_of=…)` would issue now, one per customer and currency whose
    charges total more than zero, in the order it would number them (one aggregate query)."""
    rows = (
        charges_to_invoice(as_of=as_of)
        .values("subscription__customer_id", "subscription__customer__name", "amount_currency")
        .annotate(n=Count("id"), sum=Sum("amount"), start=Min("period_start"), end=Max("period_end"))
        .filter(sum__gt=0)
        .order_by("subscription__customer_id", "amount_currency")
    )
    return [
        PendingInvoice(
            customer_id=r["subscription__customer_id"],
            customer_name=r["subscription__customer__name"],
            currency=r["amount_currency"],
            charges=r["n"],
            total=r["sum"],
            period_start=r["start"],
            period_end=r["end"],
        )
        for r in rows
    ]


# --- invoices -----------------------------------------------------------------------------------


def invoice_list(*, customer_scope: int | None, filters: dict | None = None) -> QuerySet[Invoice]:
    """Invoices newest first, or only those of `customer_scope` when the caller is restricted to one customer."""
    from documents.filters import InvoiceFilter

    qs = Invoice.objects.order_by("-id")
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    if filters is not None:
        qs = filter_queryset(InvoiceFilter, filters, qs)
    return qs


def invoice_get(*, invoice_id, customer_scope: int | None) -> Invoice:
    """One invoice with its lines (each with its charge's subscription id); another customer's → InvoiceNotFound."""
    lines = (
        InvoiceLine.objects.select_related("charge")
        .only(
            "id",
            "invoice_id",
            "charge_id",
            "description",
            "period_start",
            "period_end",
            "amount",
            "amount_currency",
            "details",
            "charge__subscription_id",
        )
        .order_by("id")
    )
    try:
        return (
            invoice_list(customer_scope=customer_scope)
            .prefetch_related(Prefetch("lines", queryset=lines, to_attr="line_list"))
            .get(pk=int(invoice_id))
        )
    except (Invoice.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise InvoiceNotFound(_("Invoice %(invoice_id)s not found.") % {"invoice_id": invoice_id}) from exc


# --- documents ----------------------------------------------------------------------------------


def document_list(*, customer_scope: int | None, filters: dict | None = None) -> QuerySet[Document]:
    """Documents newest first (drafts included), or only those of `customer_scope` for a restricted caller."""
    from documents.filters import DocumentFilter

    qs = Document.objects.order_by("-id")
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    if filters is not None:
        qs = filter_queryset(DocumentFilter, filters, qs)
    return qs


def document_get(*, document_id, customer_scope: int | None) -> Document:
    """One document with its lines; another customer's → DocumentNotFound (404)."""
    try:
        return document_list(customer_scope=customer_scope).prefetch_related("lines").get(pk=int(document_id))
    except (Document.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise DocumentNotFound(_("Document %(id)s not found.") % {"id": document_id}) from exc
