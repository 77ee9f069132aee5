"""A customer has one currency: nothing is posted to it in another (issue: a manual adjustment in USD on a RUB
customer opened a second balance). Refused where customer accounts are resolved, so every posting path holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing.errors import CurrencyMismatch
from billing.forms import BalanceAdjustmentForm
from billing.models import Account, Entry, Transaction
from billing.services.accounts import AccountResolver, account_for_customer
from billing.services.customers import customer_balance_adjust

pytestmark = pytest.mark.django_db


def test_an_adjustment_in_another_currency_is_refused_and_writes_nothing(customer):
    # given a RUB customer
    accounts_before = Account.objects.count()

    # when
    with pytest.raises(CurrencyMismatch) as exc_info:
        customer_balance_adjust(
            customer_id=customer.pk, amount=Decimal("1.00"), currency="USD", direction="credit", reason="x", key="k"
        )

    # then
    assert exc_info.value.field == "currency"
    assert exc_info.value.extra == {"customer_currency": "RUB", "currency": "USD"}
    assert Account.objects.count() == accounts_before
    assert not Account.objects.filter(customer=customer, balance_currency="USD").exists()
    assert (Transaction.objects.count(), Entry.objects.count()) == (0, 0)


def test_account_resolution_refuses_a_customer_account_in_another_currency(customer):
    with pytest.raises(CurrencyMismatch):
        account_for_customer(customer=customer, currency="EUR")
    with pytest.raises(CurrencyMismatch):
        AccountResolver().customer(customer.pk, "USD")
    with pytest.raises(CurrencyMismatch):
        AccountResolver().prefetch(customers=[(customer.pk, "RUB"), (customer.pk, "USD")])
    assert list(Account.objects.filter(customer=customer).values_list("balance_currency", flat=True)) == ["RUB"]


def test_the_database_refuses_a_customer_account_in_another_currency(customer):
    # when raw SQL inserts a USD account for the RUB customer
    with pytest.raises(IntegrityError, match="account_customer_currency"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO billing_account (kind, code, name, balance_currency, customer_id, balance, created_at) "
                "VALUES ('customer', %s, 'x', 'USD', %s, 0, now())",
                [f"customer:{customer.pk}", customer.pk],
            )

    # then only the customer's own account exists
    assert list(Account.objects.filter(customer=customer).values_list("balance_currency", flat=True)) == ["RUB"]


def test_the_admin_form_offers_only_the_customers_currency(customer):
    # given / when
    form = BalanceAdjustmentForm(
        data={"direction": "credit", "amount": "5.00", "currency": "USD", "reason": "x", "key": "0" * 32},
        customer=customer,
    )

    # then
    assert list(form.fields["currency"].choices) == [("RUB", "RUB")]
    assert not form.is_valid()
    assert "currency" in form.errors
