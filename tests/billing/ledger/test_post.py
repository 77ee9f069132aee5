"""ledger_post: entries, balances and events, multi-currency legs, memos, idempotency by key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from moneyed import Money

from billing import events
from billing.errors import IdempotencyConflict, InvalidPosting, UnbalancedTransaction
from billing.models import Account, Entry, Event, Transaction
from billing.selectors import customer_balance
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from tests.billing.ledger.helpers import RUB, balance_of, charge, entry_sum, ledger_snapshot, rub, top_up

pytestmark = pytest.mark.django_db


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


def test_multi_currency_transaction_balanced_per_currency(customer, customer_account, clearing, make_customer):
    # given the USD account of a customer billed in USD (a customer has one currency) and a USD clearing account
    usd_customer = make_customer(name="US", currency="USD")
    usd_account = account_for_customer(customer=usd_customer)
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
    assert customer_balance(customer=usd_customer) == Money(Decimal("-100.00"), "USD")
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


def test_zero_decimal_currency(make_customer):
    # given a customer billed in JPY (no minor unit) and a JPY clearing account
    customer = make_customer(currency="JPY")
    jpy_account = account_for_customer(customer=customer)
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
