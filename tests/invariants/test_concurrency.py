"""Concurrent postings to one customer: exact balance, no deadlock, no lost update, one transaction per key,
and the credit limit holds under racing debits. Real transactions, one database connection per thread."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db.models import Sum
from moneyed import Money

from billing.errors import InsufficientFunds
from billing.models import Account, AccountBalanceSlot, Entry, Event, Transaction
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from tests.support.threads import run_threads as _run_threads

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THREADS = 16
POSTINGS_PER_THREAD = 100


def run_threads(work: Callable[[int], object], *, threads: int = THREADS) -> list:
    return _run_threads(work, threads=threads, name="poster")


def entry_sum(account: Account) -> Decimal:
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or Decimal(0)


def rub(amount: Decimal) -> Money:
    return Money(amount, "RUB")


def test_concurrent_credits_and_debits_to_one_customer(make_customer):
    # given one customer, and a plan of 16 × 100 postings with random 2-decimal amounts
    customer = make_customer(credit_limit=Decimal("0"))
    account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")
    revenue = account_system(kind=Account.Kind.REVENUE, currency="RUB", code="revenue:concurrency")
    rng = random.Random(20240601)
    plans = [
        [(rng.choice(["credit", "debit"]), Decimal(rng.randint(1, 999_999)) / 100) for _ in range(POSTINGS_PER_THREAD)]
        for _ in range(THREADS)
    ]
    credits = sum(amount for plan in plans for direction, amount in plan if direction == "credit")
    debits = sum(amount for plan in plans for direction, amount in plan if direction == "debit")

    def work(i: int) -> int:
        for n, (direction, amount) in enumerate(plans[i]):
            if direction == "credit":
                legs = [Leg.credit(account, rub(amount)), Leg.debit(clearing, rub(amount))]
                kind = Transaction.Kind.PAYMENT
            else:
                legs = [Leg.debit(account, rub(amount)), Leg.credit(revenue, rub(amount))]
                kind = Transaction.Kind.CHARGE
            ledger_post(kind=kind, key=f"t{i}-{n}", legs=legs, customer=customer)
        return len(plans[i])

    # when
    posted = run_threads(work)

    # then every posting is there, exactly once
    assert sum(posted) == THREADS * POSTINGS_PER_THREAD
    assert Transaction.objects.count() == THREADS * POSTINGS_PER_THREAD
    assert Entry.objects.count() == 2 * THREADS * POSTINGS_PER_THREAD
    assert Event.objects.filter(type="transaction.posted").count() == THREADS * POSTINGS_PER_THREAD
    # and no update was lost: cached balances are the exact sums, and equal the entries
    expected = debits - credits
    assert Account.objects.get(pk=account.pk).balance.amount == expected == entry_sum(account)
    # (a system account's cached balance is its row's part plus its balance slots, several of them in use here)
    assert Account.objects.get(pk=clearing.pk).total_balance.amount == credits == entry_sum(clearing)
    assert Account.objects.get(pk=revenue.pk).total_balance.amount == -debits == entry_sum(revenue)
    assert AccountBalanceSlot.objects.filter(account=clearing).count() > 1


def test_same_idempotency_key_from_16_threads_posts_once(make_customer):
    # given
    customer = make_customer()
    account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="RUB")

    def work(i: int) -> int:
        return ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key="the-one-payment",
            customer=customer,
            legs=[Leg.credit(account, rub(Decimal("123.45"))), Leg.debit(clearing, rub(Decimal("123.45")))],
        ).pk

    # when
    ids = run_threads(work)

    # then
    txn = Transaction.objects.get()
    assert set(ids) == {txn.pk}
    assert Entry.objects.count() == 2
    assert Event.objects.filter(type="transaction.posted").count() == 1
    assert Account.objects.get(pk=account.pk).balance.amount == Decimal("-123.45") == entry_sum(account)


def test_debits_racing_against_the_credit_limit(make_customer):
    # given a customer with no funds and a 100.00 credit limit: fourteen debits of 7.00 fit (98.00), a fifteenth not
    customer = make_customer(credit_limit=Decimal("100.00"))
    account = account_for_customer(customer=customer)
    revenue = account_system(kind=Account.Kind.REVENUE, currency="RUB", code="revenue:race")
    attempts_per_thread = 10

    def work(i: int) -> tuple[int, int]:
        ok = refused = 0
        for n in range(attempts_per_thread):
            try:
                ledger_post(
                    kind=Transaction.Kind.CHARGE,
                    key=f"race-{i}-{n}",
                    customer=customer,
                    enforce_credit_limit=True,
                    legs=[Leg.debit(account, rub(Decimal("7.00"))), Leg.credit(revenue, rub(Decimal("7.00")))],
                )
                ok += 1
            except InsufficientFunds:
                refused += 1
        return ok, refused

    # when
    results = run_threads(work)

    # then
    assert sum(ok for ok, _ in results) == 14
    assert sum(refused for _, refused in results) == THREADS * attempts_per_thread - 14
    assert Transaction.objects.count() == 14
    balance = Account.objects.get(pk=account.pk).balance.amount
    assert balance == Decimal("98.00") == entry_sum(account)  # raw, debit-positive: the customer owes 98.00
    assert balance <= Decimal("100.00")
