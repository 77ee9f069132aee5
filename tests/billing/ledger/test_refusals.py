"""ledger_post refusals: invalid legs, kinds, keys, currencies and accounts; the credit limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import InsufficientFunds, InvalidPosting, UnbalancedTransaction
from billing.models import Account, Transaction
from billing.selectors import customer_balance
from billing.services.accounts import account_for_customer, account_system
from billing.services.ledger import Leg, ledger_post
from tests.billing.ledger.helpers import RUB, charge, ledger_snapshot, rub, top_up

pytestmark = pytest.mark.django_db


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
