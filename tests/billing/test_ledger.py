"""ledger_post and ledger_reverse: postings, idempotency, validation, credit limit, reversals.

Failure paths that raise inside ledger_post's own database transaction run with real commits
(`transaction=True`), so "nothing written" is checked against what PostgreSQL actually kept.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from moneyed import Money

from billing import events
from billing.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidPosting,
    UnbalancedTransaction,
)
from billing.models import Account, Entry, Event, Transaction
from billing.selectors import customer_balance
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post, ledger_reverse

pytestmark = pytest.mark.django_db

RUB = "RUB"


def rub(amount: str) -> Money:
    return Money(Decimal(amount), RUB)


@pytest.fixture
def customer_account(customer) -> Account:
    return account_for_customer(customer=customer)


@pytest.fixture
def clearing() -> Account:
    return account_system(kind=Account.Kind.PROVIDER_CLEARING, currency=RUB)


@pytest.fixture
def revenue() -> Account:
    return account_system(kind=Account.Kind.REVENUE, currency=RUB, code="revenue:hosting")


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


# --- happy path -----------------------------------------------------------------------------


def test_post_writes_entries_balances_and_event(customer, customer_account, clearing):
    # given an empty ledger
    Event.objects.all().delete()

    # when
    posted = top_up(customer, customer_account, clearing, "100.00", "pay-1", source_type="payment", source_id="p1")

    # then the transaction and its entries
    txn = Transaction.objects.get()
    assert txn.pk == posted.pk
    assert (txn.kind, txn.idempotency_key, txn.customer_id, txn.source_type, txn.source_id) == (
        "payment",
        "pay-1",
        customer.pk,
        "payment",
        "p1",
    )
    entries = list(txn.entries.order_by("id").values_list("account_id", "amount", "amount_currency", "memo"))
    assert entries == [
        (customer_account.pk, Decimal("-100.0000"), RUB, "top-up"),
        (clearing.pk, Decimal("100.0000"), RUB, "top-up"),
    ]
    # and the cached balances (customer: credit-normal, funds show as a positive customer balance)
    assert balance_of(customer_account) == Decimal("-100.0000")
    assert balance_of(clearing) == Decimal("100.0000")
    assert customer_balance(customer=customer) == rub("100.00")
    # and the outbox event in the same write
    event = Event.objects.get()
    assert event.type == events.TRANSACTION_POSTED
    assert event.customer_id == customer.pk
    assert event.payload == {
        "transaction_id": txn.pk,
        "kind": "payment",
        "customer_id": customer.pk,
        "effective_date": txn.effective_date.isoformat(),
        "idempotency_key": "pay-1",
        "entries": [
            {"account_id": customer_account.pk, "amount": "-100.00", "currency": RUB, "memo": "top-up"},
            {"account_id": clearing.pk, "amount": "100.00", "currency": RUB, "memo": "top-up"},
        ],
    }


def test_balances_accumulate_over_postings(customer, customer_account, clearing, revenue):
    # given
    top_up(customer, customer_account, clearing, "100.00", "pay-1")

    # when
    charge(customer, customer_account, revenue, "33.33", "charge-1")
    charge(customer, customer_account, revenue, "0.01", "charge-2")

    # then
    assert customer_balance(customer=customer) == rub("66.66")
    assert balance_of(customer_account) == Decimal("-66.6600") == entry_sum(customer_account)
    assert balance_of(revenue) == Decimal("-33.3400") == entry_sum(revenue)
    assert balance_of(clearing) == Decimal("100.0000") == entry_sum(clearing)


@pytest.mark.parametrize(
    "memo", ['quoted "word"', 'back\\slash \\" and comma, {braces}', "NULL", "", "  spaced  ", "Оплата по счёту №1"]
)
def test_memos_are_stored_exactly_as_given(customer, customer_account, clearing, memo):
    # when (legs travel to the database as one array literal)
    txn = ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key=f"memo-{memo}",
        customer=customer,
        legs=[Leg(customer_account.pk, Decimal("-1.00"), "RUB", memo), Leg(clearing.pk, Decimal("1.00"), "RUB", "x")],
    )

    # then
    assert list(Entry.objects.filter(transaction=txn).values_list("memo", flat=True)) == [memo, "x"]
    assert Event.objects.get(type=events.TRANSACTION_POSTED).payload["entries"][0]["memo"] == memo


def test_multi_currency_transaction_balanced_per_currency(customer, customer_account, clearing):
    # given the customer's USD account and a USD clearing account
    usd_account = account_for_customer(customer=customer, currency="USD")
    usd_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")

    # when one transaction moves RUB and USD, each currency balanced on its own
    ledger_post(
        kind=Transaction.Kind.ADJUSTMENT,
        key="fx-1",
        customer=customer,
        legs=[
            Leg.credit(customer_account, rub("9000.00")),
            Leg.debit(clearing, rub("9000.00")),
            Leg.debit(usd_account, Money(Decimal("100.00"), "USD")),
            Leg.credit(usd_clearing, Money(Decimal("60.00"), "USD")),
            Leg.credit(usd_clearing, Money(Decimal("40.00"), "USD")),
        ],
    )

    # then
    assert Entry.objects.count() == 5
    assert customer_balance(customer=customer) == rub("9000.00")
    assert customer_balance(customer=customer, currency="USD") == Money(Decimal("-100.00"), "USD")
    assert balance_of(usd_clearing) == Decimal("-100.0000")
    assert balance_of(clearing) == Decimal("9000.0000")


def test_legs_balanced_in_total_but_not_per_currency_are_refused(customer, customer_account):
    # given
    usd_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
    before = ledger_snapshot()

    # when
    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            kind=Transaction.Kind.ADJUSTMENT,
            key="fx-bad",
            customer=customer,
            legs=[
                Leg.credit(customer_account, rub("100.00")),
                Leg.debit(usd_clearing, Money(Decimal("100.00"), "USD")),
            ],
        )

    # then
    assert ledger_snapshot() == before


def test_zero_decimal_currency(customer):
    # given JPY accounts (no minor unit)
    jpy_account = account_for_customer(customer=customer, currency="JPY")
    jpy_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="JPY")

    # when
    ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="jpy-1",
        customer=customer,
        legs=[
            Leg.credit(jpy_account, Money(Decimal("1500"), "JPY")),
            Leg.debit(jpy_clearing, Money(Decimal("1500"), "JPY")),
        ],
    )

    # then
    assert customer_balance(customer=customer, currency="JPY") == Money(Decimal("1500"), "JPY")

    # and a fraction of a yen is refused
    with pytest.raises(InvalidPosting):
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key="jpy-2",
            customer=customer,
            legs=[
                Leg.credit(jpy_account, Money(Decimal("0.5"), "JPY")),
                Leg.debit(jpy_clearing, Money(Decimal("0.5"), "JPY")),
            ],
        )
    assert Transaction.objects.count() == 1


# --- idempotency ----------------------------------------------------------------------------


def test_same_key_same_content_returns_the_same_transaction(customer, customer_account, clearing):
    # given
    first = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    before = ledger_snapshot()

    # when the same posting is replayed, legs in another order
    again = ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="pay-1",
        customer=customer,
        legs=[Leg.debit(clearing, rub("100.00"), "top-up"), Leg.credit(customer_account, rub("100.00"), "top-up")],
    )

    # then
    assert again.pk == first.pk
    assert ledger_snapshot() == before
    assert customer_balance(customer=customer) == rub("100.00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    ["amount", "account", "kind", "customer", "extra_leg"],
)
def test_same_key_other_content_is_a_conflict_and_writes_nothing(make_customer, change):
    # given
    customer = make_customer()
    other = make_customer(name="Other")
    customer_account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency=RUB)
    promo = account_system(kind=Account.Kind.PROMO, currency=RUB)
    first = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    before = ledger_snapshot()
    legs = [Leg.credit(customer_account, rub("100.00"), "top-up"), Leg.debit(clearing, rub("100.00"), "top-up")]
    kwargs = {"kind": Transaction.Kind.PAYMENT, "customer": customer}
    if change == "amount":
        legs = [Leg.credit(customer_account, rub("100.01"), "top-up"), Leg.debit(clearing, rub("100.01"), "top-up")]
    elif change == "account":
        legs = [Leg.credit(customer_account, rub("100.00"), "top-up"), Leg.debit(promo, rub("100.00"), "top-up")]
    elif change == "kind":
        kwargs["kind"] = Transaction.Kind.PROMO
    elif change == "customer":
        kwargs["customer"] = other
    else:
        legs = legs + [Leg.debit(promo, rub("1.00")), Leg.credit(clearing, rub("1.00"))]

    # when
    with pytest.raises(IdempotencyConflict) as exc_info:
        ledger_post(key="pay-1", legs=legs, **kwargs)

    # then
    assert exc_info.value.code == "idempotency_key_reused"
    assert f"#{first.pk}" in str(exc_info.value)
    assert ledger_snapshot() == before
    assert customer_balance(customer=customer) == rub("100.00")


# --- validation -----------------------------------------------------------------------------


def _legs_for(case: str, customer_account: Account, clearing: Account) -> list[Leg]:
    a, c = customer_account.pk, clearing.pk
    return {
        "no_legs": [],
        "one_leg": [Leg(a, Decimal("-10.00"), RUB)],
        "zero_amount": [Leg(a, Decimal("0"), RUB), Leg(c, Decimal("0"), RUB)],
        "zero_and_balanced": [
            Leg(a, Decimal("-10.00"), RUB),
            Leg(c, Decimal("10.00"), RUB),
            Leg(c, Decimal("0.00"), RUB),
        ],
        "unrounded": [Leg(a, Decimal("-0.001"), RUB), Leg(c, Decimal("0.001"), RUB)],
        "unrounded_but_summing_to_rounded": [Leg(a, Decimal("-10.005"), RUB), Leg(c, Decimal("10.005"), RUB)],
        "unknown_currency": [Leg(a, Decimal("-10.00"), "ZZZ"), Leg(c, Decimal("10.00"), "ZZZ")],
        "unsupported_currency": [Leg(a, Decimal("-10.00"), "CHF"), Leg(c, Decimal("10.00"), "CHF")],
        "unbalanced": [Leg(a, Decimal("-10.00"), RUB), Leg(c, Decimal("9.99"), RUB)],
        "float_amount": [Leg(a, -10.0, RUB), Leg(c, 10.0, RUB)],
        "nan_amount": [Leg(a, Decimal("NaN"), RUB), Leg(c, Decimal("NaN"), RUB)],
        "infinite_amount": [Leg(a, Decimal("-Infinity"), RUB), Leg(c, Decimal("Infinity"), RUB)],
    }[case]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("no_legs", InvalidPosting),
        ("one_leg", InvalidPosting),
        ("zero_amount", InvalidPosting),
        ("zero_and_balanced", InvalidPosting),
        ("unrounded", InvalidPosting),
        ("unrounded_but_summing_to_rounded", InvalidPosting),
        ("unknown_currency", InvalidPosting),
        ("unsupported_currency", InvalidPosting),
        ("unbalanced", UnbalancedTransaction),
        ("float_amount", InvalidPosting),
        ("nan_amount", InvalidPosting),
        ("infinite_amount", InvalidPosting),
    ],
)
def test_invalid_legs_are_refused_and_nothing_is_written(customer, customer_account, clearing, case, error):
    # given
    before = ledger_snapshot()

    # when
    with pytest.raises(error):
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key=f"bad-{case}",
            customer=customer,
            legs=_legs_for(case, customer_account, clearing),
        )

    # then
    assert ledger_snapshot() == before
    assert not Transaction.objects.filter(idempotency_key=f"bad-{case}").exists()


@pytest.mark.parametrize(("kind", "key"), [("gift", "k-1"), ("payment", ""), ("payment", "x" * 256)])
def test_unknown_kind_or_bad_key_is_refused(customer, customer_account, clearing, kind, key):
    # given
    before = ledger_snapshot()

    # when
    with pytest.raises(InvalidPosting):
        ledger_post(
            kind=kind,
            key=key,
            customer=customer,
            legs=[Leg.credit(customer_account, rub("1.00")), Leg.debit(clearing, rub("1.00"))],
        )

    # then
    assert ledger_snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_leg_currency_other_than_its_accounts_is_refused(customer):
    # given a RUB customer account and a USD clearing account
    customer_account = account_for_customer(customer=customer)
    usd_clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
    before = ledger_snapshot()

    # when USD legs name the RUB account
    with pytest.raises(InvalidPosting) as exc_info:
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key="wrong-currency",
            customer=customer,
            legs=[Leg(customer_account.pk, Decimal("-10.00"), "USD"), Leg(usd_clearing.pk, Decimal("10.00"), "USD")],
        )

    # then
    assert exc_info.value.field == "legs.0.currency"
    assert ledger_snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_unknown_account_is_refused(customer):
    # given
    customer_account = account_for_customer(customer=customer)
    before = ledger_snapshot()

    # when
    with pytest.raises(InvalidPosting):
        ledger_post(
            kind=Transaction.Kind.PAYMENT,
            key="ghost",
            customer=customer,
            legs=[Leg(customer_account.pk, Decimal("-10.00"), RUB), Leg(10**12, Decimal("10.00"), RUB)],
        )

    # then
    assert ledger_snapshot() == before


# --- credit limit ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_debit_beyond_credit_limit_is_refused_and_writes_nothing(make_customer):
    # given a customer with 20.00 of funds and a 50.00 credit limit: 70.00 may be charged
    customer = make_customer(credit_limit=Decimal("50.00"))
    customer_account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency=RUB)
    revenue = account_system(kind=Account.Kind.REVENUE, currency=RUB, code="revenue:hosting")
    top_up(customer, customer_account, clearing, "20.00", "pay-1")
    before = ledger_snapshot()

    # when
    with pytest.raises(InsufficientFunds) as exc_info:
        charge(customer, customer_account, revenue, "70.01", "charge-1", enforce_credit_limit=True)

    # then
    assert exc_info.value.extra == {"needed": "70.01", "available": "70.00", "currency": RUB}
    assert ledger_snapshot() == before
    assert customer_balance(customer=customer) == rub("20.00")


@pytest.mark.django_db(transaction=True)
def test_debit_exactly_at_credit_limit_passes_and_one_more_kopeck_does_not(make_customer):
    # given
    customer = make_customer(credit_limit=Decimal("50.00"))
    customer_account = account_for_customer(customer=customer)
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency=RUB)
    revenue = account_system(kind=Account.Kind.REVENUE, currency=RUB, code="revenue:hosting")
    top_up(customer, customer_account, clearing, "20.00", "pay-1")

    # when
    charge(customer, customer_account, revenue, "70.00", "charge-1", enforce_credit_limit=True)

    # then
    assert customer_balance(customer=customer) == rub("-50.00")
    before = ledger_snapshot()
    with pytest.raises(InsufficientFunds):
        charge(customer, customer_account, revenue, "0.01", "charge-2", enforce_credit_limit=True)
    assert ledger_snapshot() == before
    # a credit is never limited
    top_up(customer, customer_account, clearing, "0.01", "pay-2", enforce_credit_limit=True)
    assert customer_balance(customer=customer) == rub("-49.99")


def test_credit_limit_is_only_checked_when_asked(customer, customer_account, revenue):
    # given a customer with no funds and no credit limit
    # when a charge is posted without the check (postpaid billing)
    charge(customer, customer_account, revenue, "10.00", "charge-1")

    # then
    assert customer_balance(customer=customer) == rub("-10.00")


# --- reversal -------------------------------------------------------------------------------


def test_reverse_posts_mirror_entries_and_restores_balances(customer, customer_account, clearing, revenue):
    # given
    top_up(customer, customer_account, clearing, "100.00", "pay-1")
    original = charge(customer, customer_account, revenue, "40.00", "charge-1")

    # when
    reversal = ledger_reverse(transaction_id=original.pk, reason="charged by mistake")

    # then
    row = Transaction.objects.get(pk=reversal.pk)
    assert (row.kind, row.reverses_id, row.customer_id, row.idempotency_key) == (
        Transaction.Kind.REVERSAL,
        original.pk,
        customer.pk,
        f"reversal:{original.pk}",
    )
    mirrored = sorted((e.account_id, e.amount.amount) for e in row.entries.all())
    assert mirrored == sorted([(customer_account.pk, Decimal("-40.0000")), (revenue.pk, Decimal("40.0000"))])
    assert customer_balance(customer=customer) == rub("100.00")
    assert balance_of(revenue) == Decimal("0.0000") == entry_sum(revenue)
    assert Transaction.objects.get(pk=original.pk).entries.count() == 2  # the original is untouched
    assert Event.objects.filter(type=events.TRANSACTION_POSTED, payload__transaction_id=reversal.pk).count() == 1


def test_reverse_replay_with_same_key_returns_the_same(customer, customer_account, clearing):
    # given
    original = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    first = ledger_reverse(transaction_id=original.pk, reason="refund")
    before = ledger_snapshot()

    # when
    again = ledger_reverse(transaction_id=original.pk, reason="refund")

    # then
    assert again.pk == first.pk
    assert ledger_snapshot() == before
    assert customer_balance(customer=customer) == rub("0.00")


def test_second_reversal_is_refused(customer, customer_account, clearing):
    # given
    original = top_up(customer, customer_account, clearing, "100.00", "pay-1")
    ledger_reverse(transaction_id=original.pk, reason="refund", key="rev-a")
    before = ledger_snapshot()

    # when
    with pytest.raises(AlreadyReversed):
        ledger_reverse(transaction_id=original.pk, reason="refund again", key="rev-b")

    # then
    assert ledger_snapshot() == before
    assert Transaction.objects.filter(reverses_id=original.pk).count() == 1
