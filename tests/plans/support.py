"""Helpers shared by the plans service tests: pinned instants, ledger read-backs, row counts, a refusal that
writes nothing, and the ledger invariants as SQL (the same checks as tests/invariants/test_ledger_properties.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import Account, Customer, Entry, Event, Transaction
from billing.selectors import customer_balance
from plans.models import (
    BillingRun,
    Charge,
    Coupon,
    ScheduledChange,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
    UsageEvent,
)
from plans.services.billing_run import billing_run_start, billing_run_work
from tests.support.ledger_checks import (  # noqa: F401 - re-exported for the tests here
    balances_differing_from_entries,
    transactions_without_entries,
    unbalanced_transactions,
)

D = Decimal
MSK = dt.timezone(dt.timedelta(hours=3))  # Europe/Moscow has had no DST since 2014


def msk(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    """An instant on a Moscow calendar day (noon by default, far from any midnight)."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=MSK)


def msk_midnight(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=MSK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def balance(customer: Customer) -> Decimal:
    """Funds available (positive) in the customer's currency."""
    return customer_balance(customer=customer).amount


def run_billing(as_of: dt.datetime, *, chunk_size: int | None = None) -> BillingRun:
    """One billing run at `as_of` (in chunks of `chunk_size`, by default the setting's), worked through here."""
    run = billing_run_start(as_of=as_of, triggered_by="test", chunk_size=chunk_size)
    billing_run_work(run_id=run.pk)
    run.refresh_from_db()
    return run


def charge_lines(charge: Charge) -> list[tuple[str, str, Decimal]]:
    """(line kind, ref, amount) of a charge's recorded lines."""
    return [(x["kind"], x["ref"], D(x["amount"])) for x in charge.lines]


def ledger_entries(charge: Charge) -> list[tuple[str, Decimal]]:
    """(account code, signed amount) of the ledger entries posted for a charge, in posting order."""
    if charge.transaction_id is None:
        return []
    return [
        (code, amount)
        for code, amount in Entry.objects.filter(transaction_id=charge.transaction_id)
        .order_by("pk")
        .values_list("account__code", "amount")
    ]


def expected_entries(
    customer: Customer, product_code: str, lines: list[tuple[str, str, str | Decimal]]
) -> list[tuple[str, Decimal]]:
    """The legs a set of charge lines must post: the net on the customer's account first, then one
    entry per line (revenue of the product, discounts on the promo account) with the opposite sign."""
    net = sum((D(a) for _, _, a in lines), D(0))
    legs = [(f"customer:{customer.pk}", net)] if net else []
    for kind, _, amount in lines:
        if D(amount):
            legs.append(("promo" if kind == "discount" else f"revenue:{product_code}", -D(amount)))
    return legs


def charges_of(subscription: Subscription, kind: str | None = None) -> list[Charge]:
    qs = Charge.objects.filter(subscription=subscription).order_by("pk")
    if kind is not None:
        qs = qs.filter(kind=kind)
    return list(qs)


def written() -> dict[str, int]:
    """Row counts of everything the plans and billing services write."""
    return {
        "subscriptions": Subscription.objects.count(),
        "options": SubscriptionOption.objects.count(),
        "discounts": SubscriptionDiscount.objects.count(),
        "scheduled": ScheduledChange.objects.count(),
        "charges": Charge.objects.count(),
        "transactions": Transaction.objects.count(),
        "entries": Entry.objects.count(),
        "events": Event.objects.count(),
        "usage_events": UsageEvent.objects.count(),
        "redeemed": Coupon.objects.aggregate(n=Sum("times_redeemed"))["n"] or 0,
    }


def event_types(customer: Customer) -> list[str]:
    return list(Event.objects.filter(customer_id=customer.pk).order_by("pk").values_list("type", flat=True))


def assert_refused(call, error: type[Exception], field: str | None, customer=None):
    """`call()` raises exactly `error` pointing at `field`, and writes nothing."""
    before = written()
    money = balance(customer) if customer is not None else None
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert info.value.field == field
    assert written() == before
    if customer is not None:
        assert balance(customer) == money
    return info.value


# --- ledger invariants -----------------------------------------------------------------------------


def customer_account_balance(customer: Customer) -> Decimal:
    """The raw (debit-positive) cached balance of the customer's account in its currency."""
    return Account.objects.get(code=f"customer:{customer.pk}", balance_currency=customer.currency).balance.amount
