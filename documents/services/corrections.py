"""Corrective VAT invoices (корректировочный счёт-фактура, Decree 1137): the price of a service already shipped
and invoiced changes after its VAT invoice or УПД was issued. The КСФ refers to that document; its line N changes
the original's line N (the signed change of the amount without VAT, the VAT and the total; quantity and price
after the change), so the printed form shows rows А (before), Б (after), В (increase) and Г (decrease). The money
moves in the same database transaction: billing credits the customer with a decrease (or charges an increase),
and revenue and VAT payable follow (billing.services.corrections).

Idempotent by the caller's key (document key `correction:<key>`, ledger key `correction:<key>`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.rounding import round_amount
from billing.services.corrections import shipment_correction_post
from billing.vat import VatRate, percent
from documents.errors import CorrectionInvalid, DocumentNotFound
from documents.models import Document, DocumentType
from documents.services.issuing import DraftDocument, DraftLine, documents_write

CORRECTABLE = (DocumentType.VAT_INVOICE, DocumentType.UPD)


def _vat_of(amount: Decimal, rate: str, currency: str) -> Decimal:
    try:
        pct = percent(VatRate(rate))
    except ValueError:
        pct = None
    if not pct:
        return Decimal(0)
    return round_amount(amount * pct / (100 + pct), currency)


def _product_of(line) -> str:
    charge = line.charge
    if charge is None:
        return ""
    return charge.subscription.plan.product.code if charge.subscription_id else ""


def corrective_vat_invoice_issue(
    *,
    document_id: int,
    amounts: dict[int, Decimal],
    reason: str,
    key: str,
    by: str,
    today: dt.date | None = None,
) -> Document:
    """Issue a КСФ to the VAT invoice or УПД `document_id`: `amounts` are the new totals (VAT included) of the lines
    that change, by position. A line cannot go below zero; a reason is required; a key already used returns its
    document."""
    existing = Document.objects.filter(key=f"correction:{key}").first()
    if existing is not None:
        return existing
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionInvalid(_("Give the reason of the correction."), field="reason")
    original = (
        Document.objects.select_related("seller")
        .prefetch_related("lines__charge__subscription__plan__product")
        .filter(pk=document_id)
        .first()
    )
    if original is None:
        raise DocumentNotFound(_("Document %(id)s not found.") % {"id": document_id})
    if original.doc_type not in CORRECTABLE or original.status not in (Document.Status.ISSUED, Document.Status.SENT):
        raise CorrectionInvalid(_("Only an issued VAT invoice or УПД is corrected by a corrective VAT invoice."))
    lines = {line.position: line for line in original.lines.all()}
    currency = original.currency
    draft_lines, changes = [], []
    for position, new_amount in sorted(amounts.items()):
        line = lines.get(position)
        if line is None:
            raise CorrectionInvalid(_("The document has no line %(n)s.") % {"n": position}, field="lines")
        new_amount = Decimal(new_amount)
        if new_amount < 0:
            raise CorrectionInvalid(_("Line %(n)s cannot go below zero.") % {"n": position}, field=f"line_{position}")
        if round_amount(new_amount, currency) != new_amount:
            raise CorrectionInvalid(
                _("Line %(n)s: an amount in whole kopecks.") % {"n": position}, field=f"line_{position}"
            )
        if new_amount == line.amount:
            continue
        new_vat = _vat_of(new_amount, line.vat_rate, currency)
        new_net = new_amount - new_vat
        change_net, change_vat = new_net - line.amount_net, new_vat - line.vat
        price = (new_net / line.quantity).quantize(Decimal("0.01")) if line.quantity else new_net
        draft_lines.append(
            DraftLine(
                name=line.name,
                amount_net=change_net,
                vat=change_vat,
                amount=change_net + change_vat,
                vat_rate=line.vat_rate,
                quantity=line.quantity,
                price=price,
                okei_code=line.okei_code,
                unit_name=line.unit_name,
                charge_id=line.charge_id,
                position=position,
            )
        )
        changes.append((_product_of(line), change_net, change_vat))
    if not draft_lines:
        raise CorrectionInvalid(_("No line changes: enter a new amount for at least one line."), field="lines")
    today = today or timezone.localdate()
    with transaction.atomic():
        [document] = documents_write(
            [
                DraftDocument(
                    doc_type=DocumentType.CORRECTIVE_VAT_INVOICE,
                    seller_id=original.seller_id,
                    customer_id=original.customer_id,
                    issue_date=today,
                    key=f"correction:{key}",
                    currency=currency,
                    language=original.language,
                    refers_to_id=original.pk,
                    period_start=original.period_start,
                    period_end=original.period_end,
                    lines=draft_lines,
                    correction_reason=reason,
                )
            ],
            issue=True,
            by=by,
        )
        shipment_correction_post(
            customer_id=original.customer_id,
            seller_id=original.seller_id,
            currency=currency,
            changes=changes,
            key=f"correction:{key}",
            effective_date=today,
            description=f"{document.number}: {reason}"[:500],
            created_by=by,
        )
    return document
