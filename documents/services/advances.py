"""Advance VAT invoices (счёт-фактура на аванс): a payment a VAT-paying seller receives that shipments have not
closed within 5 days is taxed at the calculated rate (22/122 in 2026) — an advance VAT invoice with line 5 naming
the payment, and the VAT on it posted to the ledger (billing.services.vat_advances) — and that VAT is reversed once
the customer's shipments (charges recognized since the payment) cover the advance.

What a payment leaves unclosed after 5 days: the part of it the customer still holds as balance then (the balance
is what was paid and not yet charged), at most the payment itself. Daily, idempotent: one advance invoice per
payment (key advance:<transaction>), one reversal per invoice (its ledger key).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import Customer, Entry, Transaction
from billing.rounding import round_amount
from billing.services.vat_advances import vat_advance_post
from billing.vat import VatRate, calculated_rate, percent
from documents.models import Document, DocumentType
from documents.services.issuing import DraftDocument, DraftLine, documents_write, sellers_for_documents
from documents.services.payment_invoices import customer_seller
from plans.models import Charge

ADVANCE_DAYS = 5


def _balance_on(customer: Customer, day: dt.date) -> Decimal:
    """The customer's funds (positive: held) at the end of `day`, from the entries (credit-normal: minus the sum)."""
    total = Entry.objects.filter(
        account__customer=customer,
        account__kind="customer",
        transaction__effective_date__lte=day,
    ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return -total


def advance_invoices_issue(*, today: dt.date | None = None) -> list[Document]:
    """Advance VAT invoices for the payments received 5 days before `today` that shipments did not close."""
    today = today or timezone.localdate()
    received = today - dt.timedelta(days=ADVANCE_DAYS)
    payments = Transaction.objects.filter(
        kind=Transaction.Kind.PAYMENT, effective_date=received, customer__isnull=False
    ).select_related("customer", "customer__seller")
    issued = []
    done = set(Document.objects.filter(key__in=[f"advance:{p.pk}" for p in payments]).values_list("key", flat=True))
    for payment in payments:
        if f"advance:{payment.pk}" in done:
            continue
        customer = payment.customer
        paid = round_amount(
            -sum((e.amount.amount for e in payment.entries.filter(account__customer=customer)), Decimal(0)),
            customer.currency,
        )  # the credit to the customer: the money received
        if paid <= 0:
            continue
        seller = customer_seller(customer)
        seller = sellers_for_documents([seller.pk])[seller.pk]
        rate = seller.vat_rate_on(payment.effective_date)
        pct = percent(rate)
        if rate is VatRate.NONE or not pct:
            continue  # no VAT, no advance VAT invoice
        open_part = min(paid, max(_balance_on(customer, today), Decimal(0)))
        if open_part <= 0:
            continue  # closed by shipments within the 5 days
        currency = customer.currency
        vat = round_amount(open_part * pct / (100 + pct), currency)
        key = f"advance:{payment.pk}"
        with transaction.atomic():
            [doc] = documents_write(
                [
                    DraftDocument(
                        doc_type=DocumentType.ADVANCE_VAT_INVOICE,
                        seller_id=seller.pk,
                        customer_id=customer.pk,
                        issue_date=today,
                        key=key,
                        currency=currency,
                        language=customer.document_language,
                        payment_refs=[
                            {"number": str(payment.pk), "date": payment.effective_date.isoformat(), "amount": str(paid)}
                        ],
                        lines=[
                            DraftLine(
                                name="Предварительная оплата за услуги"
                                + (f" по договору № {customer.contract_number}" if customer.contract_number else ""),
                                amount_net=open_part - vat,
                                vat=vat,
                                amount=open_part,
                                vat_rate=calculated_rate(rate),
                            )
                        ],
                    )
                ],
                issue=True,
                by="advance VAT",
            )
            vat_advance_post(
                seller_id=seller.pk,
                customer_id=customer.pk,
                currency=currency,
                vat=doc.total_vat,
                key=f"vat:{key}",
                effective_date=today,
                description=f"VAT on the advance of invoice {doc.number}",
            )
        issued.append(doc)
    return issued


def advance_vat_reverse(*, today: dt.date | None = None) -> list[Document]:
    """Reverse the VAT of advance invoices whose advance shipments have closed: the charges recognized since the
    payment cover the advance's amount. Returns the advance invoices reversed now."""
    today = today or timezone.localdate()
    reversed_now = []
    advances = Document.objects.filter(
        doc_type=DocumentType.ADVANCE_VAT_INVOICE, status__in=[Document.Status.ISSUED, Document.Status.SENT]
    )
    done = set(
        Transaction.objects.filter(idempotency_key__in=[f"vat-back:{d.key}" for d in advances]).values_list(
            "idempotency_key", flat=True
        )
    )
    for doc in advances:
        if f"vat-back:{doc.key}" in done:
            continue
        since = dt.date.fromisoformat(doc.payment_refs[0]["date"]) if doc.payment_refs else doc.issue_date
        # refunds of the advance took back their part of its VAT already (documents.services.refund_documents)
        refunded = Document.objects.filter(refers_to=doc, doc_type=DocumentType.CREDIT_NOTE).aggregate(
            total=Sum("total"), vat=Sum("total_vat")
        )
        left_total = doc.total + (refunded["total"] or Decimal(0))
        left_vat = doc.total_vat + (refunded["vat"] or Decimal(0))
        if left_vat <= 0:
            continue
        shipped = Charge.objects.filter(
            subscription__customer_id=doc.customer_id, recognized_on__gte=since, recognized_on__lte=today
        ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
        if shipped < left_total:
            continue
        vat_advance_post(
            seller_id=doc.seller_id,
            customer_id=doc.customer_id,
            currency=doc.currency,
            vat=left_vat,
            key=f"vat-back:{doc.key}",
            effective_date=today,
            reverse=True,
            description=f"VAT on the advance of invoice {doc.number} deducted: shipped",
        )
        reversed_now.append(doc)
    return reversed_now
