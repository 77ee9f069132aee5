"""The "Adjust balance" view on the customer card: customer_balance_adjust under a key generated per render."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Entry, Event, Transaction
from billing.selectors import customer_balance
from billing.services.customers import customer_close
from tests.admin.helpers import form_fields, shown_messages

pytestmark = pytest.mark.django_db


def adjust_url(customer) -> str:
    return reverse("admin:billing_customer_adjust_balance", args=[customer.pk])


def _rendered_form(client, customer, **values) -> dict:
    response = client.get(adjust_url(customer))
    assert response.status_code == 200
    data = form_fields(response, "adjust-balance-form")
    data.update(values)
    return data


def test_credit_posts_one_adjustment(admin_client, customer):
    # given
    data = _rendered_form(admin_client, customer, direction="credit", amount="150.25", reason="Goodwill")
    assert data["currency"] == "RUB"
    assert len(data["key"]) == 36

    # when
    response = admin_client.post(adjust_url(customer), data, follow=True)

    # then
    txn = Transaction.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:billing_customer_change", args=[customer.pk])
    assert f"Posted credit of RUB 150.25 as transaction #{txn.pk}." in " ".join(shown_messages(response))
    assert (txn.kind, txn.customer_id, txn.description, txn.created_by, txn.idempotency_key) == (
        "adjustment",
        customer.pk,
        "Goodwill",
        "root",
        f"admin-adjust:{data['key']}",
    )
    amounts = sorted((e.account.code, e.amount.amount) for e in Entry.objects.select_related("account"))
    assert amounts == [("adjustments", Decimal("150.2500")), (f"customer:{customer.pk}", Decimal("-150.2500"))]
    assert customer_balance(customer=customer).amount == Decimal("150.25")


def test_double_submit_with_the_same_key_posts_once(admin_client, customer):
    # given one rendered form
    data = _rendered_form(admin_client, customer, direction="credit", amount="10.00", reason="Refund of fee")

    # when it is submitted twice
    first = admin_client.post(adjust_url(customer), data)
    second = admin_client.post(adjust_url(customer), data)

    # then
    assert (first.status_code, second.status_code) == (302, 302)
    assert Transaction.objects.count() == 1
    assert Entry.objects.count() == 2
    assert Event.objects.filter(type="transaction.posted").count() == 1
    assert customer_balance(customer=customer).amount == Decimal("10.00")


def test_two_renders_post_two_adjustments(admin_client, customer):
    # given / when two forms, each rendered once
    for _ in range(2):
        data = _rendered_form(admin_client, customer, direction="credit", amount="10.00", reason="Bonus")
        assert admin_client.post(adjust_url(customer), data).status_code == 302

    # then
    assert Transaction.objects.count() == 2
    assert customer_balance(customer=customer).amount == Decimal("20.00")


def test_debit_beyond_the_credit_limit_is_a_form_error(admin_client, make_customer):
    # given a customer with a zero balance and a credit limit of 5.00
    customer = make_customer(credit_limit=Decimal("5.00"))
    data = _rendered_form(admin_client, customer, direction="debit", amount="5.01", reason="Fee")

    # when
    response = admin_client.post(adjust_url(customer), data)

    # then
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors == ["Insufficient funds: 5.01 RUB needed, 5.00 RUB available including the credit limit."]
    assert Transaction.objects.count() == 0
    assert Entry.objects.count() == 0


def test_amount_finer_than_the_currency_is_a_field_error(admin_client, make_customer):
    # given a customer billed in JPY, which has no minor unit
    customer = make_customer(currency="JPY")
    data = _rendered_form(admin_client, customer, direction="credit", amount="1.5", currency="JPY", reason="Bonus")

    # when
    response = admin_client.post(adjust_url(customer), data)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["1.5 has more decimals than JPY allows."]
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"reason": "   "}, "reason"),
        ({"direction": "sideways"}, "direction"),
        ({"key": "not-a-uuid"}, "key"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
def test_malformed_input_writes_nothing(admin_client, customer, values, field):
    # given
    data = _rendered_form(admin_client, customer, direction="credit", amount="1.00", reason="Bonus")
    data.update(values)

    # when
    response = admin_client.post(adjust_url(customer), data)

    # then
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Transaction.objects.count() == 0


def test_a_closed_customer_cannot_be_adjusted(admin_client, customer):
    # given a form rendered before the customer was closed
    data = _rendered_form(admin_client, customer, direction="credit", amount="1.00", reason="Bonus")
    customer_close(customer_id=customer.pk)

    # when
    response = admin_client.post(adjust_url(customer), data)

    # then
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [f"Customer {customer.pk} is closed."]
    assert Transaction.objects.count() == 0


def test_accountant_may_adjust(group_client, customer):
    # given
    client = group_client("Accountant")
    data = _rendered_form(client, customer, direction="credit", amount="3.00", reason="Bonus")

    # when
    response = client.post(adjust_url(customer), data)

    # then
    assert response.status_code == 302
    assert Transaction.objects.get().created_by == "accountant"


def test_support_cannot_adjust(group_client, customer):
    # given
    client = group_client("Support")
    card = client.get(reverse("admin:billing_customer_change", args=[customer.pk]))

    # when
    page = client.get(adjust_url(customer))
    post = client.post(
        adjust_url(customer),
        {
            "direction": "credit",
            "amount": "1.00",
            "currency": "RUB",
            "reason": "x",
            "key": "0b0f4f0e-8a53-4a3e-9f55-1f0f3a7b1c11",
        },
    )

    # then
    assert card.status_code == 200
    assert adjust_url(customer) not in card.content.decode()
    assert (page.status_code, post.status_code) == (403, 403)
    assert Transaction.objects.count() == 0
