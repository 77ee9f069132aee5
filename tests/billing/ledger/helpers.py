"""Helpers shared by the ledger tests: rubles, balances and entry sums, a ledger snapshot, a top-up and a charge."""

from __future__ import annotations

from decimal import Decimal

from moneyed import Money

from billing import events
from billing.models import Account, Entry, Event, Transaction
from billing.services.ledger import Leg, ledger_post

RUB = "RUB"


def rub(amount: str) -> Money:
    return Money(Decimal(amount), RUB)


def balance_of(account: Account) -> Decimal:
    return Account.objects.get(pk=account.pk).total_balance.amount


def entry_sum(account: Account) -> Decimal:
    return sum((e.amount.amount for e in Entry.objects.filter(account=account)), Decimal(0))


def ledger_snapshot() -> tuple:
    """Everything a posting writes: transactions, entries, events, cached balances."""
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Event.objects.filter(type=events.TRANSACTION_POSTED).count(),
        tuple(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


def top_up(customer, customer_account, clearing, amount: str, key: str, **kwargs) -> Transaction:
    return ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=key,
        customer=customer,
        legs=[Leg.credit(customer_account, rub(amount), "top-up"), Leg.debit(clearing, rub(amount), "top-up")],
        **kwargs,
    )


def charge(customer, customer_account, revenue, amount: str, key: str, **kwargs) -> Transaction:
    return ledger_post(
        kind=Transaction.Kind.CHARGE,
        key=key,
        customer=customer,
        legs=[Leg.debit(customer_account, rub(amount), "charge"), Leg.credit(revenue, rub(amount), "charge")],
        **kwargs,
    )
