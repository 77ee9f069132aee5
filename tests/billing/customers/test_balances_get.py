"""customer_balances_get: the balance API's one-query read gives what customer_get and customer_balances give."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from billing.errors import CustomerNotFound
from billing.selectors import customer_balances_get
from billing.services.customers import customer_balance_adjust

pytestmark = pytest.mark.django_db


def test_a_customer_without_a_balance_account_has_zero_in_its_currency(make_customer):
    # given
    customer = make_customer(currency="USD", credit_limit=Decimal("12.50"))

    # when
    found = customer_balances_get(customer_id=customer.pk, customer_scope=None)

    # then
    assert (found.customer_id, found.currency, found.credit_limit) == (customer.pk, "USD", Decimal("12.50"))
    assert found.balances == [Money(0, "USD")]


def test_the_balance_is_read_in_one_query_with_the_sign_of_funds_available(make_customer):
    # given 30.00 credited, 7.25 debited
    customer = make_customer()
    for direction, amount, key in (("credit", "30.00", "c"), ("debit", "7.25", "d")):
        customer_balance_adjust(
            customer_id=customer.pk, amount=Decimal(amount), currency="RUB", direction=direction, reason="x", key=key
        )

    # when
    with CaptureQueriesContext(connection) as queries:
        found = customer_balances_get(customer_id=str(customer.pk), customer_scope=customer.pk)

    # then
    assert len(queries) == 1
    assert found.balances == [Money(Decimal("22.75"), "RUB")]


@pytest.mark.parametrize("who", ["unknown", "foreign", "not a number"])
def test_an_unknown_or_foreign_customer_is_not_found(make_customer, who):
    # given
    mine, theirs = make_customer(name="Mine"), make_customer(name="Theirs")
    customer_id = {"unknown": theirs.pk + 1000, "foreign": theirs.pk, "not a number": "x1"}[who]

    # when / then
    with pytest.raises(CustomerNotFound):
        customer_balances_get(customer_id=customer_id, customer_scope=mine.pk)


@pytest.mark.parametrize("who", ["foreign", "beyond bigint"])
def test_a_foreign_or_impossible_id_is_not_found_without_a_query(make_customer, who):
    # given
    mine, theirs = make_customer(name="Mine"), make_customer(name="Theirs")
    customer_id, scope = {"foreign": (theirs.pk, mine.pk), "beyond bigint": (2**63, None)}[who]

    # when / then
    with CaptureQueriesContext(connection) as queries, pytest.raises(CustomerNotFound):
        customer_balances_get(customer_id=customer_id, customer_scope=scope)
    assert len(queries) == 0
