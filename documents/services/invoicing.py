"""Invoices for payment (счёт на оплату) of postpaid customers, issued when the periods of their charges end.

The billing run and the subscription services post a postpaid customer's charges to the ledger as they go (the
balance goes below zero, nothing is suspended); `invoice_issue_postpaid` then asks for the money: one invoice per
customer and currency covering every charge whose period has ended and that is on no invoice yet, due after the
policy's payment terms. Only charges of periods that start on or after the customer's `postpaid_since` (the day it
became postpaid) are invoiced: a customer that was prepaid before paid its earlier charges from the balance
(documents.selectors.charges_to_invoice decides, in the same queries).

It works in chunks of customers (in id order), each chunk one transaction with a fixed number of statements
whatever its size: lock the year's invoice counter (so concurrent runs take turns and numbers stay gapless and
in customer order), read the chunk's uninvoiced charges, insert the invoices, their lines and their
`invoice.issued` events, bump the counter once. A charge goes on at most one invoice (the lines' unique link to
the charge decides, not a check before the insert), so a rerun, a retried task or a second worker issues
nothing twice; a crash rolls the chunk back, numbers included.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from moneyed import Money

from billing.models import BillingPolicy, Customer
from billing.services.outbox import event_emit_many
from config.locale import installation_language
from documents import events
from documents.errors import InvoiceDateInFuture
from documents.formatting import amount_text
from documents.models import DocumentType, Invoice, InvoiceLine
from documents.numbering import document_counter_lock, document_numbers_take
from documents.selectors import charges_to_invoice
from plans.models import Charge

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
CHUNK_ATTEMPTS = 3  # a chunk that lost a race to a concurrent run is read again (without what that run invoiced)


@dataclass
class InvoicingResult:
    as_of: dt.date
    due_date: dt.date
    invoice_ids: list[int] = field(default_factory=list)  # in number order
    customers: int = 0  # postpaid customers that had uninvoiced charges of ended periods
    left_for_later: int = 0  # (customer, currency) whose charges total zero or less: they wait for the next invoice
    chunks: int = 0


def invoice_issue_postpaid(*, as_of: dt.date, chunk_size: int = 500) -> InvoicingResult:
    """Issue the invoices of every postpaid customer for the charges whose period ended by `as_of` (the issue
    date). Idempotent: a second call for the same day issues nothing new."""
    invoice_date_check(as_of=as_of)
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError("chunk_size must be a positive whole number")
    result = InvoicingResult(as_of=as_of, due_date=as_of + dt.timedelta(days=BillingPolicy.current().postpaid_due_days))
    after = 0
    while customer_ids := _customers_to_invoice(as_of=as_of, after=after, limit=chunk_size):
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            try:
                issued, left = _issue_chunk(customer_ids=customer_ids, as_of=as_of, due_date=result.due_date)
                break
            except IntegrityError as exc:
                if not _is_charge_conflict(exc) or attempt == CHUNK_ATTEMPTS:
                    raise
                logger.warning(
                    "invoicing as of %s: customers %s..%s were invoiced by a concurrent run; reading "
                    "their charges again",
                    as_of,
                    customer_ids[0],
                    customer_ids[-1],
                )
        result.invoice_ids += issued
        result.left_for_later += left
        result.customers += len(customer_ids)
        result.chunks += 1
        after = customer_ids[-1]
    return result


def invoice_date_check(*, as_of: dt.date) -> None:
    """An issue date is a date (not a datetime) that has come (today in UTC at the latest)."""
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    today = timezone.now().date()  # UTC
    if as_of > today:
        raise InvoiceDateInFuture(
            _("Invoices cannot be issued on %(as_of)s: that day has not come yet (today is %(today)s, UTC).")
            % {"as_of": as_of, "today": today},
            field="as_of",
        )


def _customers_to_invoice(*, as_of: dt.date, after: int, limit: int) -> list[int]:
    """The next `limit` postpaid customers (by id, after `after`) with uninvoiced charges of ended periods."""
    pending = charges_to_invoice(as_of=as_of).filter(subscription__customer_id=OuterRef("pk"))
    return list(
        Customer.objects.filter(billing_model=Customer.BillingModel.POSTPAID, pk__gt=after)
        .filter(Exists(pending))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def _is_charge_conflict(exc: IntegrityError) -> bool:
    """Did the insert lose the race for a charge (its unique link to an invoice line)?"""
    name = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    return name == "documents_invoiceline_charge_id_key"  # the unique index of InvoiceLine.charge (one-to-one)


def _line_description(charge: Charge) -> str:
    plan_name = charge.subscription.plan.name
    with installation_language():
        text = _("%(kind)s: %(plan)s, subscription #%(id)s") % {
            "kind": Charge.Kind(charge.kind).label,
            "plan": plan_name,
            "id": charge.subscription_id,
        }
    return text[:500]


def _issue_chunk(*, customer_ids: list[int], as_of: dt.date, due_date: dt.date) -> tuple[list[int], int]:
    """One transaction: the invoices of these customers. Returns (invoice ids, groups left for later)."""
    with transaction.atomic(durable=True):
        # first: a concurrent run waits here, then reads the charges this one invoiced as invoiced
        counter = document_counter_lock(doc_type=DocumentType.INVOICE, year=as_of.year)
        charges = list(
            charges_to_invoice(as_of=as_of)
            .filter(subscription__customer_id__in=customer_ids)
            .select_related("subscription__plan")
            .only(
                "id",
                "kind",
                "period_start",
                "period_end",
                "amount",
                "amount_currency",
                "lines",
                "subscription__id",
                "subscription__customer_id",
                "subscription__plan__name",
            )
            .order_by("subscription__customer_id", "amount_currency", "period_start", "id")
        )
        customers = Customer.objects.only(
            "id", "name", "legal_name", "inn", "kpp", "legal_address", "billing_emails"
        ).in_bulk(sorted({c.subscription.customer_id for c in charges}))
        drafts: list[tuple[Customer, str, list[Charge], Decimal]] = []
        left = 0
        for (customer_id, currency), group in groupby(
            charges, key=lambda c: (c.subscription.customer_id, c.amount.currency.code)
        ):
            group = list(group)
            total = sum((c.amount.amount for c in group), ZERO)
            if total <= 0:
                left += 1  # credits outweigh the charges: nothing to ask for; they go on the next invoice
                continue
            drafts.append((customers[customer_id], currency, group, total))
        if not drafts:
            return [], left

        numbers = document_numbers_take(counter=counter, count=len(drafts))
        invoices = []
        for (_sequence, number), (customer, currency, group, total) in zip(numbers, drafts, strict=True):
            invoice = Invoice(
                number=number,
                customer=customer,
                currency=currency,
                issue_date=as_of,
                due_date=due_date,
                period_start=min(c.period_start for c in group),
                period_end=max(c.period_end for c in group),
                total=Money(total, currency),
                status=Invoice.Status.ISSUED,
                buyer_name=customer.legal_name or customer.name,
                buyer_inn=customer.inn,
                buyer_kpp=customer.kpp,
                buyer_address=customer.legal_address,
                buyer_emails=list(customer.billing_emails),
            )
            invoice.full_clean(exclude=["customer"], validate_unique=False, validate_constraints=False)
            invoices.append(invoice)
        Invoice.objects.bulk_create(invoices)

        lines = []
        for invoice, (_customer, _currency, group, _total) in zip(invoices, drafts, strict=True):
            for charge in group:
                line = InvoiceLine(
                    invoice=invoice,
                    charge=charge,
                    description=_line_description(charge),
                    period_start=charge.period_start,
                    period_end=charge.period_end,
                    amount=charge.amount,
                    details=charge.lines,
                )
                line.full_clean(exclude=["invoice", "charge"], validate_unique=False, validate_constraints=False)
                lines.append(line)
        InvoiceLine.objects.bulk_create(lines)  # a charge another run invoiced meanwhile: IntegrityError, all undone

        event_emit_many(
            type=events.INVOICE_ISSUED,
            items=[
                (
                    invoice.customer_id,
                    events.InvoiceIssued(
                        invoice_id=invoice.pk,
                        number=invoice.number,
                        customer_id=invoice.customer_id,
                        currency=invoice.currency,
                        total=amount_text(invoice.total.amount, invoice.currency),
                        issue_date=invoice.issue_date.isoformat(),
                        due_date=invoice.due_date.isoformat(),
                        period_start=invoice.period_start.isoformat(),
                        period_end=invoice.period_end.isoformat(),
                        charge_ids=tuple(c.pk for c in group),
                    ),
                )
                for invoice, (_customer, _currency, group, _total) in zip(invoices, drafts, strict=True)
            ],
        )
    return [invoice.pk for invoice in invoices], left
