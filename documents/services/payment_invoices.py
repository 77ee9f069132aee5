"""Invoices for payment (счёт на оплату) for an amount: a top-up the customer asks for (admin, API), or the money a
coming renewal needs that the balance cannot cover (customers who pay by bank transfer: `renewal_invoices_issue`).

One line «Оплата услуг по договору …» at the amount asked, VAT included at the seller's rate on the issue date
(billing.vat.split, once); due after the policy's payment terms; the payment purpose carries the invoice's number,
so a bank transfer can be matched to it («Оплата по счёту № … от …, в т.ч. НДС 22% …»). Idempotent by key.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from billing import selectors as billing_selectors
from billing.models import BillingPolicy, Customer, Seller
from billing.rounding import is_rounded
from billing.vat import label, split
from config.errors import ApplicationError
from documents.errors import SellerRequisitesMissing
from documents.models import Document, DocumentType
from documents.services.issuing import DraftDocument, DraftLine, documents_write


class InvalidInvoiceAmount(ApplicationError):
    code = "invalid_amount"


def customer_seller(customer: Customer) -> Seller:
    """The seller that serves a customer for documents not tied to a product (billing's rule); refused when the
    installation has none."""
    seller = billing_selectors.customer_seller(customer=customer)
    if seller is None:
        raise SellerRequisitesMissing(
            _("Customer %(customer)s has no seller and there is no default seller.") % {"customer": customer.pk},
            field="customer",
        )
    return seller


def _purpose(number: str, day: dt.date, vat: Decimal, rate: str, language: str) -> str:
    if language == "en":
        vat_text = f"incl. VAT {label(rate, language='en')} {vat}" if vat else "VAT exempt"
        return f"Payment for invoice No. {number} of {day:%d.%m.%Y}, {vat_text}"
    vat_text = f"в т.ч. НДС {label(rate)} {str(vat).replace('.', ',')}" if vat else "НДС не облагается"
    return f"Оплата по счёту № {number} от {day:%d.%m.%Y}, {vat_text}"


def payment_invoice_issue(
    *,
    customer_id: int,
    amount: Decimal,
    key: str,
    by: str = "",
    issue_date: dt.date | None = None,
    description: str | None = None,
    customer_scope: int | None = None,
) -> Document:
    """Issue an invoice for payment of `amount` (VAT included) to a customer; the same key returns the same invoice."""
    from billing.errors import CustomerNotFound

    qs = Customer.objects.select_related("seller")
    if customer_scope is not None:
        qs = qs.filter(pk=customer_scope)
    customer = qs.filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(_("Customer %(customer_id)s not found.") % {"customer_id": customer_id})
    amount = Decimal(amount)
    if amount <= 0 or not is_rounded(amount, customer.currency):
        raise InvalidInvoiceAmount(
            _("The amount must be positive, in whole %(currency)s minor units.") % {"currency": customer.currency},
            field="amount",
        )
    existing = Document.objects.filter(key=key).first()
    if existing is not None:
        return existing
    seller = customer_seller(customer)
    day = issue_date or timezone.localdate()
    rate = seller.vat_rate_on(day)
    parts = split(amount, rate, included=True, currency=customer.currency)
    language = customer.document_language
    if description is None:
        if language == "en":
            description = "Payment for services" + (
                f" under contract No. {customer.contract_number}" if customer.contract_number else ""
            )
        else:
            description = "Оплата услуг" + (
                f" по договору № {customer.contract_number}" if customer.contract_number else ""
            )
    draft = DraftDocument(
        doc_type=DocumentType.PAYMENT_INVOICE,
        seller_id=seller.pk,
        customer_id=customer.pk,
        issue_date=day,
        key=key,
        currency=customer.currency,
        due_date=day + dt.timedelta(days=BillingPolicy.current().postpaid_due_days),
        language=language,
        lines=[
            DraftLine(
                name=description,
                amount_net=parts.net,
                vat=parts.vat,
                amount=parts.gross,
                vat_rate=rate.value,
                okei_code="",
                unit_name="",
            )
        ],
    )
    draft.payment_purpose = _purpose("{number}", day, parts.vat, rate.value, language)[:210]
    [document] = documents_write([draft], issue=True, by=by)
    return document


def renewal_invoices_issue(*, today: dt.date | None = None) -> list[Document]:
    """Invoices for future debits: for every prepaid customer who pays by bank transfer, an invoice for payment of
    what its renewals due within the policy's `invoice_days_before_renewal` need beyond its balance plus credit
    limit, so the money arrives before the charge. One invoice per (customer, first renewal date) — the key —
    however often this runs; a customer whose funds cover its coming renewals gets none. (Daily, in beat.)"""
    from billing.services.funds import customer_funds_available
    from plans.services.estimates import upcoming_charges_estimate

    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=BillingPolicy.current().invoice_days_before_renewal)
    issued = []
    customers = Customer.objects.filter(
        pays_by_bank_transfer=True, status=Customer.Status.ACTIVE, billing_model=Customer.BillingModel.PREPAID
    ).order_by("pk")
    for customer in customers:
        at = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
        due = [
            e
            for e in upcoming_charges_estimate(customer_id=customer.pk, at=at)
            if e.failure is None and e.charge_at.date() <= horizon and e.total > 0
        ]
        if not due:
            continue
        needed = sum((e.total for e in due), Decimal(0)) - customer_funds_available(customer=customer)
        if needed <= 0:
            continue
        first = min(e.charge_at for e in due).date()
        issued.append(
            payment_invoice_issue(
                customer_id=customer.pk,
                amount=needed,
                key=f"renewal:{customer.pk}:{first.isoformat()}",
                by="renewal invoices",
                issue_date=today,
            )
        )
    return issued
