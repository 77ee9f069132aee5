"""Bank statements name invoices for payment in their purpose: billing's import asks this resolver which of the
numbers it found are our invoices, whose, for how much, and how much of each is paid already (billing imports no
app above it, so documents registers the resolver when it loads)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Upper

from billing.models import Payment
from billing.services.statements import InvoiceRef, statement_invoice_resolver_register
from documents.models import Document, DocumentType, Invoice


@statement_invoice_resolver_register
def invoices_for_payment_find(numbers: set[str]) -> dict[str, InvoiceRef]:
    upper = {n.upper() for n in numbers}
    found: dict[str, tuple[int, Decimal, str]] = {}
    for number, customer_id, total, currency in (
        Document.objects.annotate(n=Upper("number"))
        .filter(
            n__in=upper,
            doc_type=DocumentType.PAYMENT_INVOICE,
            status__in=[Document.Status.ISSUED, Document.Status.SENT],
        )
        .values_list("n", "customer_id", "total", "currency")
    ):
        found[number] = (customer_id, total, currency)
    for number, customer_id, total, currency in (
        Invoice.objects.annotate(n=Upper("number"))
        .filter(n__in=upper - set(found))
        .exclude(status=Invoice.Status.VOID)
        .values_list("n", "customer_id", "total", "total_currency")
    ):
        found[number] = (customer_id, total, currency)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for number, amount in (
        Payment.objects.annotate(n=Upper("invoice_number"))
        .filter(n__in=set(found), status=Payment.Status.SUCCEEDED)
        .values("n")
        .annotate(total=Sum("amount"))
        .values_list("n", "total")
    ):
        paid[number] = amount or Decimal(0)
    return {
        number: InvoiceRef(number, customer_id, total, currency, paid[number])
        for number, (customer_id, total, currency) in found.items()
    }
