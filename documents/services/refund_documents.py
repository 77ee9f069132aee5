"""The documents of a refund: a credit note (кредит-нота) for every refund of a customer we issue documents to,
referring to the payment's advance VAT invoice when there is one; the VAT of that advance is taken back for the
refunded part (the seller deducts VAT on an advance it returns), so the later shipment check reverses only the rest.

Idempotent per refund (document key `refund:<id>`, ledger key `vat-refund:<id>`); run from the outbox on
`refund.succeeded` (documents.subscribers).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import Refund
from billing.rounding import round_amount
from billing.services.vat_advances import vat_advance_post
from billing.vat import VatRate, percent
from config.errors import ApplicationError
from documents.models import Document, DocumentType
from documents.services.issuing import DraftDocument, DraftLine, documents_write, sellers_for_documents
from documents.services.payment_invoices import customer_seller


def _issues_documents(customer) -> bool:
    """A customer we issue documents to: a legal entity or entrepreneur, or one that has documents already."""
    return customer.kind != "individual" or Document.objects.filter(customer=customer).exists()


def refund_credit_note_issue(*, refund_id: int, today: dt.date | None = None) -> Document | None:
    refund = Refund.objects.select_related("payment__customer", "payment__transaction").get(pk=refund_id)
    if refund.status != Refund.Status.SUCCEEDED:
        return None
    payment = refund.payment
    customer = payment.customer
    if not _issues_documents(customer):
        return None
    try:
        seller = customer_seller(customer)
    except ApplicationError:
        return None  # no seller at all: an installation without documents
    seller = sellers_for_documents([seller.pk])[seller.pk]
    today = today or timezone.localdate()
    amount = refund.amount.amount
    currency = refund.amount.currency.code
    advance = (
        Document.objects.filter(
            key=f"advance:{payment.transaction_id}",
            doc_type=DocumentType.ADVANCE_VAT_INVOICE,
            status__in=[Document.Status.ISSUED, Document.Status.SENT],
        ).first()
        if payment.transaction_id
        else None
    )
    vat = Decimal(0)
    vat_rate = "none"
    if advance is not None:
        rate = seller.vat_rate_on(advance.issue_date)
        pct = percent(rate)
        if rate is not VatRate.NONE and pct:
            taken_back = Document.objects.filter(refers_to=advance, doc_type=DocumentType.CREDIT_NOTE).aggregate(
                total=Sum("total_vat")
            )["total"] or Decimal(0)  # negative: credit notes' lines are
            left = Decimal(0) if advance_vat_reversed(advance) else advance.total_vat + taken_back
            vat = min(round_amount(amount * pct / (100 + pct), currency), max(left, Decimal(0)))
            vat_rate = advance.lines.first().vat_rate if vat else vat_rate
    else:
        rate = seller.vat_rate_on(today)
        pct = percent(rate)
        if rate is not VatRate.NONE and pct:
            vat_rate = f"{pct}/{100 + pct}"
            vat = round_amount(amount * pct / (100 + pct), currency)
    name = f"Возврат предварительной оплаты (платёж № {payment.pk} от {payment.created_at:%d.%m.%Y})"
    with transaction.atomic():
        [doc] = documents_write(
            [
                DraftDocument(
                    doc_type=DocumentType.CREDIT_NOTE,
                    seller_id=seller.pk,
                    customer_id=customer.pk,
                    issue_date=today,
                    key=f"refund:{refund.pk}",
                    currency=currency,
                    language=customer.document_language,
                    refers_to_id=advance.pk if advance else None,
                    payment_refs=[
                        {
                            "number": str(payment.pk),
                            "date": payment.created_at.date().isoformat(),
                            "amount": str(amount),
                        }
                    ],
                    lines=[
                        DraftLine(name=name, amount_net=-(amount - vat), vat=-vat, amount=-amount, vat_rate=vat_rate)
                    ],
                )
            ],
            issue=True,
            by="refund",
        )
        if advance is not None and vat:
            vat_advance_post(
                seller_id=seller.pk,
                customer_id=customer.pk,
                currency=currency,
                vat=vat,
                key=f"vat-refund:{refund.pk}",
                effective_date=today,
                reverse=True,
                description=f"VAT on the advance of invoice {advance.number} deducted: refund {refund.pk}",
            )
    return doc


def advance_vat_reversed(advance: Document) -> bool:
    from billing.models import Transaction

    return Transaction.objects.filter(idempotency_key=f"vat-back:{advance.key}").exists()
