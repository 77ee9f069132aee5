"""Posting charges: priced lines become a Charge row (the guard: one per key, one per subscription-period-kind),
one ledger transaction through billing's posting API, and a `charge.posted` event.

The single-subscription services post one charge at a time (`charge_post`); the billing run posts a chunk at once
with the same legs (`charge_legs`), the same stored lines (`line_json`) and the same event payload
(`charge_posted_payload`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from moneyed import Money

from billing.models import Customer, Transaction
from billing.services.accounts import AccountResolver
from billing.services.funds import prepaid_funds_require
from billing.services.ledger import Leg, ledger_post
from billing.services.outbox import event_emit
from billing.services.past_due import customer_past_due_clear, customers_mark_past_due
from config.locale import installation_language
from plans import events
from plans.errors import CurrencyMismatch
from plans.models import Charge
from plans.pricing.charges import ChargeLine, LineKind, total
from plans.pricing.periods import Period
from plans.services.snapshots import SubscriptionSnapshot
from plans.services.vat import apply_vat, lines_vat


def line_json(line: ChargeLine, *, product_of: Callable[[str], str] | None = None) -> dict:
    """A charge line as stored in Charge.lines (strings for amounts: exact, no float). A taxed line also keeps its
    product, net, VAT and rate: the documents app builds acts and VAT invoices from them."""
    stored = {
        "kind": line.kind.value,
        "description": line.description,
        "amount": str(line.amount),
        "currency": line.currency,
        "quantity": str(line.quantity),
        "ref": line.ref,
    }
    if line.vat_rate:
        stored["product"] = product_of(line.applies_to or line.ref) if product_of is not None else ""
        stored["net"] = str(line.net)
        stored["vat"] = str(line.vat)
        stored["vat_rate"] = line.vat_rate
    return stored


def charge_posted_payload(
    *,
    charge_id: int | None,
    subscription_id: int,
    kind: str,
    amount: Decimal | str,
    currency: str,
    period: Period,
    transaction_id: int | None,
) -> dict:
    """The payload of `charge.posted`, whoever posts the charge."""
    return {
        "charge_id": charge_id,
        "subscription_id": subscription_id,
        "kind": kind,
        "amount": str(amount),
        "currency": currency,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "transaction_id": transaction_id,
    }


def check_line_currencies(lines: Iterable[ChargeLine], *, currency: str, subscription_id: int) -> None:
    """Every line of a subscription's charge is in the subscription's currency: a price in another currency is
    never charged as if it were in this one."""
    for line in lines:
        if line.currency != currency:
            raise CurrencyMismatch(
                _(
                    "Subscription %(subscription_id)s is billed in %(currency)s; its line %(description)r is "
                    "priced in %(line_currency)s."
                )
                % {
                    "subscription_id": subscription_id,
                    "currency": currency,
                    "description": line.description,
                    "line_currency": line.currency,
                },
                extra={"currency": currency, "line_currency": line.currency},
            )


class ChargeTexts:
    """The installation-language texts of charges, translated once for a unit of work that posts many (a billing
    chunk posts a thousand; switching the language for each one cost more than pricing it). Per unit, not cached
    beyond it: a unit sees the catalogs of its moment. `charge_description` and `charge_legs` without one
    translate on the spot, with the same result."""

    def __init__(self):
        with installation_language():
            self._template = _("%(kind)s: subscription #%(id)s")
            self._kinds = {kind.value: str(kind.label) for kind in Charge.Kind}
            self.memo_charge = pgettext("ledger memo", "Charge")
            self.memo_credit = pgettext("ledger memo", "Credit")
            self.memo_vat = pgettext("ledger memo", "VAT")

    def description(self, kind: str, subscription_id: int) -> str:
        return self._template % {"kind": self._kinds[Charge.Kind(kind).value], "id": subscription_id}


def charge_description(kind: str, subscription_id: int, *, texts: ChargeTexts | None = None) -> str:
    if texts is not None:
        return texts.description(kind, subscription_id)
    with installation_language():
        return _("%(kind)s: subscription #%(id)s") % {"kind": Charge.Kind(kind).label, "id": subscription_id}


def charge_legs(
    *,
    accounts: AccountResolver,
    customer_id: int,
    lines: Iterable[ChargeLine],
    product_of: Callable[[str], str],
    texts: ChargeTexts | None = None,
    seller_id: int | None = None,
) -> list[Leg]:
    """Ledger legs for lines in one currency: revenue per product (the line's net), discounts on the promo account,
    the charge's VAT on the seller's VAT payable account (one leg), and what the customer pays (VAT included) on the
    customer's balance account; one entry per line, so statements show each line. Empty when every line is zero."""
    legs: list[Leg] = []
    net = Decimal(0)
    vat = Decimal(0)
    currency = None
    for line in lines:
        if not line.amount:
            continue
        currency = line.currency
        if line.kind is LineKind.DISCOUNT:
            account = accounts.promo(line.currency)
        else:
            account = accounts.revenue(product_of(line.ref), line.currency)
        if line.amount != line.vat:  # a line that is all VAT (none at today's rates) has no revenue entry
            legs.append(Leg(account, line.vat - line.amount, line.currency, line.description[:255]))
        net += line.amount
        vat += line.vat
    if not legs:
        return []
    if vat:
        if seller_id is None:
            raise ValueError("taxed lines need the seller whose VAT payable they go to")
        if texts is not None:
            memo = texts.memo_vat
        else:
            with installation_language():
                memo = pgettext("ledger memo", "VAT")
        legs.append(Leg(accounts.vat_payable(seller_id, currency), -vat, currency, memo))
    if net:
        if texts is not None:
            memo = texts.memo_charge if net > 0 else texts.memo_credit
        else:
            with installation_language():
                memo = pgettext("ledger memo", "Charge") if net > 0 else pgettext("ledger memo", "Credit")
        legs.insert(0, Leg(accounts.customer(customer_id, currency), net, currency, memo))
    return legs


def nothing_to_charge(lines: Iterable[ChargeLine]) -> bool:
    """No line, or only lines of 0.00 (a free setup fee, a usage period with no usage): not a charge at all, so
    neither a Charge row nor a ledger transaction nor a `charge.posted` event. A charge whose lines cancel out (a
    price and its 100 % discount) is one: its lines move revenue and promotions."""
    return not any(line.amount for line in lines)


def charge_post(
    *,
    snap: SubscriptionSnapshot,
    kind: str,
    period: Period,
    lines: list[ChargeLine],
    key: str,
    effective_date: dt.date,
    accounts: AccountResolver | None = None,
    at: dt.datetime | None = None,
    funds_of: Customer | None = None,
) -> Charge | None:
    """Record one charge and post it to the ledger, idempotently: an existing charge for the same
    key, or for the same (subscription, period, kind) of a per-period kind, is returned as it is.
    Nothing is recorded, and None returned, when there is nothing to charge (`nothing_to_charge`): what makes
    a period billed is the subscription's period moving on, not a charge row.

    `funds_of` (the customer, locked by the caller) marks a charge the customer asked for now: the prepaid rule
    applies (billing.services.funds), and a charge the balance plus credit limit cannot cover is refused.

    The lines are taxed at the seller's rate on `effective_date` (the shipment date) unless the caller did so."""
    check_line_currencies(lines, currency=snap.currency, subscription_id=snap.id)
    lines = apply_vat(snap, lines, day=effective_date)
    amount = total(lines) if lines else Decimal(0)
    seller_id = snap.tax.seller_id if snap.tax is not None else None
    existing = Charge.objects.filter(key=key).first()
    if existing is not None:
        return existing
    if nothing_to_charge(lines):
        return None
    if funds_of is not None:
        prepaid_funds_require(customer=funds_of, amount=amount, currency=snap.currency)
    try:
        with transaction.atomic():
            charge = Charge.objects.create(
                subscription_id=snap.id,
                kind=kind,
                period_start=period.start,
                period_end=period.end,
                amount=Money(amount, snap.currency),
                key=key,
                lines=[line_json(x, product_of=snap.product_of) for x in lines],
                seller_id=seller_id,
                vat=lines_vat(lines),
                recognized_on=effective_date,
            )
    except IntegrityError:
        existing = Charge.objects.filter(
            Q(key=key) | Q(subscription_id=snap.id, period_start=period.start, kind=kind, kind__in=Charge.PER_PERIOD)
        ).first()
        if existing is None:
            raise
        return existing
    legs = charge_legs(
        accounts=accounts or AccountResolver(),
        customer_id=snap.customer_id,
        lines=lines,
        product_of=snap.product_of,
        seller_id=seller_id,
    )
    if legs:
        tx = ledger_post(
            kind=Transaction.Kind.CHARGE,
            key=key,
            legs=legs,
            effective_date=effective_date,
            customer=snap.customer_id,
            source_type="subscription",
            source_id=str(snap.id),
            description=charge_description(kind, snap.id),
        )
        Charge.objects.filter(pk=charge.pk).update(transaction_id=tx.pk)
        charge.transaction_id = tx.pk
        if amount > 0:
            customers_mark_past_due(customer_ids=[snap.customer_id], at=at or timezone.now())
        elif amount < 0:  # a credit (cancel, pause, downgrade) may end the debt
            customer_past_due_clear(customer_id=snap.customer_id)
    event_emit(
        type=events.CHARGE_POSTED,
        customer_id=snap.customer_id,
        payload=charge_posted_payload(
            charge_id=charge.pk,
            subscription_id=snap.id,
            kind=kind,
            amount=amount,
            currency=snap.currency,
            period=period,
            transaction_id=charge.transaction_id,
        ),
    )
    return charge
