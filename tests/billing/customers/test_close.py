"""Closing a customer: only at a zero balance in every currency, once; a closed customer stays as it is."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from moneyed import Money

from billing import events
from billing.errors import BalanceNotZero, CustomerClosed
from billing.models import Account, Customer, Entry, Event, Transaction
from billing.selectors import customer_balance
from billing.services.accounts import account_system
from billing.services.customers import customer_balance_adjust, customer_close, customer_update
from billing.services.ledger import Leg, ledger_post

pytestmark = pytest.mark.django_db


# --- close ----------------------------------------------------------------------------------


def test_close_with_zero_balance(customer):
    # given
    Event.objects.all().delete()

    # when
    closed = customer_close(customer_id=customer.pk)

    # then
    row = Customer.objects.get(pk=customer.pk)
    assert row.status == Customer.Status.CLOSED
    assert row.closed_at is not None
    assert closed.status == Customer.Status.CLOSED
    event = Event.objects.get()
    assert (event.type, event.customer_id, event.payload["status"]) == (events.CUSTOMER_CLOSED, customer.pk, "closed")


@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_close_refuses_non_zero_balance_and_writes_nothing(make_customer, direction):
    # given a customer holding funds (credit) or owing within the credit limit (debit)
    customer = make_customer(credit_limit=Decimal("100.00"))
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("10.50"), direction=direction, reason="test", key=f"adj-{direction}"
    )
    events_before = Event.objects.count()

    # when
    with pytest.raises(BalanceNotZero) as exc_info:
        customer_close(customer_id=customer.pk)

    # then
    assert "10.5" in str(exc_info.value)
    row = Customer.objects.get(pk=customer.pk)
    assert (row.status, row.closed_at) == (Customer.Status.ACTIVE, None)
    assert Event.objects.count() == events_before
    assert not Event.objects.filter(type=events.CUSTOMER_CLOSED).exists()


def test_close_refuses_non_zero_balance_in_another_currency(customer):
    # given funds in USD on a RUB customer, left by data from before a customer had one currency (today the
    # account guard refuses such an account: it is planted with the guard off)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events: ALTER TABLE refuses them
        cursor.execute("ALTER TABLE billing_account DISABLE TRIGGER billing_account_guard")
        usd = Account.objects.create(
            kind=Account.Kind.CUSTOMER,
            code=f"customer:{customer.pk}",
            name="old USD balance",
            balance=Money(0, "USD"),
            customer=customer,
        )
        cursor.execute("ALTER TABLE billing_account ENABLE TRIGGER billing_account_guard")
    clearing = account_system(kind=Account.Kind.PROVIDER_CLEARING, currency="USD")
    ledger_post(
        kind=Transaction.Kind.PAYMENT,
        key="old-usd",
        customer=customer,
        legs=[Leg(usd.pk, Decimal("-1.00"), "USD"), Leg(clearing.pk, Decimal("1.00"), "USD")],
    )

    # when
    with pytest.raises(BalanceNotZero):
        customer_close(customer_id=customer.pk)

    # then
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.ACTIVE


def test_close_after_balance_returns_to_zero(customer):
    # given
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("25.00"), direction="credit", reason="in", key="adj-in"
    )
    customer_balance_adjust(
        customer_id=customer.pk, amount=Decimal("25.00"), direction="debit", reason="out", key="adj-out"
    )
    assert customer_balance(customer=customer).amount == Decimal("0")

    # when
    customer_close(customer_id=customer.pk)

    # then
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.CLOSED


def test_close_twice_is_a_no_op(customer):
    # given
    customer_close(customer_id=customer.pk)
    first = Customer.objects.get(pk=customer.pk)
    events_before = Event.objects.count()

    # when
    again = customer_close(customer_id=customer.pk)

    # then
    row = Customer.objects.get(pk=customer.pk)
    assert again.status == Customer.Status.CLOSED
    assert row.closed_at == first.closed_at
    assert row.updated_at == first.updated_at
    assert Event.objects.count() == events_before
    assert Event.objects.filter(type=events.CUSTOMER_CLOSED).count() == 1


def test_closed_customer_cannot_be_updated(customer):
    # given
    customer_close(customer_id=customer.pk)
    events_before = Event.objects.count()

    # when
    with pytest.raises(CustomerClosed):
        customer_update(customer_id=customer.pk, name="Reopened?")

    # then
    assert Customer.objects.get(pk=customer.pk).name == "Acme"
    assert Event.objects.count() == events_before


@pytest.mark.parametrize("direction", ["credit", "debit"])
def test_closed_customer_cannot_be_adjusted(customer, direction):
    # given
    customer_close(customer_id=customer.pk)
    events_before = Event.objects.count()

    # when
    with pytest.raises(CustomerClosed):
        customer_balance_adjust(
            customer_id=customer.pk, amount=Decimal("1.00"), direction=direction, reason="late", key=f"late-{direction}"
        )

    # then
    assert Transaction.objects.count() == 0
    assert Entry.objects.count() == 0
    assert Event.objects.count() == events_before
    assert Account.objects.get(customer=customer).balance.amount == Decimal("0")
