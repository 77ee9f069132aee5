"""Adding a subscription in the admin (issue 10, item 8): the add page answered 403 even to a superuser. Now an
Accountant subscribes a customer through subscription_create, the API's service."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.selectors import customer_balance
from plans.models import Charge, Subscription, SubscriptionDiscount, SubscriptionOption
from tests.admin.helpers import form_fields, shown_messages
from tests.admin.subscription_support import login, make_catalog, msk, prepaid_customer, rows, rub

pytestmark = pytest.mark.django_db

ADD = "admin:plans_subscription_add"


@pytest.fixture
def catalog(db):
    return make_catalog()


def _form(client, customer, **values) -> dict:
    response = client.get(reverse(ADD) + f"?customer={customer.pk}")
    assert response.status_code == 200
    data = form_fields(response, "subscription-flow-form")
    data.update(values)
    return data


def test_a_superuser_may_add_a_subscription_now(admin_client):
    # when
    response = admin_client.get(reverse(ADD))

    # then (it answered 403)
    assert response.status_code == 200


def test_the_add_form_renders_for_an_accountant_with_the_customer_of_the_card(staff_in_group, catalog):
    # given
    customer = prepaid_customer()

    # when
    data = _form(login(staff_in_group("Accountant")), customer)

    # then
    assert data["customer"] == str(customer.pk)
    assert data["quantity"] == "1"
    assert len(data["key"]) == 36
    assert data["options-TOTAL_FORMS"] == "3"


def test_an_accountant_subscribes_a_customer_with_options_and_a_coupon(staff_in_group, catalog):
    # given
    customer = prepaid_customer("10000.00")
    client = login(staff_in_group("Accountant"))
    data = _form(
        client,
        customer,
        plan="start",
        quantity="2",
        coupon="save10",
        **{"options-0-option": "backup", "options-0-quantity": "1"},
    )

    # when
    with time_machine.travel(msk(2026, 4, 1), tick=False):
        response = client.post(reverse(ADD), data, follow=True)

    # then: 2 × 1000.00 + 300.00, less 10%, charged for April
    sub = Subscription.objects.get()
    assert (sub.customer_id, sub.plan.code, sub.quantity, sub.status) == (customer.pk, "start", 2, "active")
    assert (str(sub.current_period_start), str(sub.current_period_end)) == ("2026-04-01", "2026-05-01")
    assert [(o.option.code, o.quantity) for o in SubscriptionOption.objects.filter(subscription=sub)] == [("backup", 1)]
    assert SubscriptionDiscount.objects.get(subscription=sub).coupon.code == "SAVE10"
    charge = Charge.objects.get(subscription=sub, kind="recurring")
    assert charge.amount.amount == Decimal("2070.00")
    assert customer_balance(customer=customer).amount == Decimal("7930.00")
    assert response.redirect_chain[-1][0] == reverse("admin:plans_subscription_change", args=[sub.pk])
    assert shown_messages(response) == [f"Subscription #{sub.pk} is Active: charged {rub('2070.00')}."]


def test_a_trial_charges_nothing_now(staff_in_group, catalog):
    # given
    customer = prepaid_customer()
    client = login(staff_in_group("Accountant"))
    data = _form(client, customer, plan="pro", trial_days="14")

    # when
    with time_machine.travel(msk(2026, 4, 1), tick=False):
        response = client.post(reverse(ADD), data, follow=True)

    # then
    sub = Subscription.objects.get()
    assert (sub.status, str(sub.trial_end)) == ("trialing", "2026-04-15")
    assert not Charge.objects.exclude(transaction=None).exists()
    assert shown_messages(response) == [f"Subscription #{sub.pk} is Trialing: nothing charged now."]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "plan", "Choose the plan or the bundle to subscribe to."),
        ({"plan": "start", "quantity": "0"}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"plan": "nope"}, "plan", "Select a valid choice. That choice is not one of the available choices."),
        ({"plan": "start", "trial_days": "-1"}, "trial_days", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(staff_in_group, catalog, values, field, message):
    # given
    customer = prepaid_customer()
    client = login(staff_in_group("Accountant"))
    data = _form(client, customer, **values)
    before = rows()

    # when
    response = client.post(reverse(ADD), data)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert rows() == before


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"coupon": "NOPE"}, "coupon", "Coupon 'NOPE' does not exist or is not active."),
        ({"options-0-option": "foreign"}, None, "Option 'foreign' is not available on plan 'start'."),
    ],
)
def test_a_service_refusal_is_a_form_error_and_writes_nothing(staff_in_group, catalog, values, field, message):
    # given
    customer = prepaid_customer()
    client = login(staff_in_group("Accountant"))
    data = _form(client, customer, plan="start", **values)
    before = rows()

    # when
    response = client.post(reverse(ADD), data)

    # then
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors[field or "__all__"] == [message]
    assert rows() == before


@pytest.mark.parametrize("group", ["Support", None])
def test_support_and_users_without_group_may_not_add(django_user_model, staff_in_group, catalog, group):
    # given
    customer = prepaid_customer()
    user = (
        staff_in_group(group)
        if group
        else django_user_model.objects.create_user(username="nogroup", password="x", is_staff=True)
    )
    client = login(user)
    data = _form(login(staff_in_group("Accountant")), customer, plan="start")
    before = rows()

    # when
    page = client.get(reverse(ADD))
    posted = client.post(reverse(ADD), data)

    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert rows() == before


def test_a_double_submit_of_the_add_form_subscribes_and_charges_once(staff_in_group, catalog):
    # given the add form filled in once (its hidden key is the form's own)
    customer = prepaid_customer("10000.00")
    client = login(staff_in_group("Accountant"))
    data = _form(client, customer, plan="start")

    # when it is posted twice (a double click, a browser retry)
    with time_machine.travel(msk(2026, 4, 1), tick=False):
        first = client.post(reverse(ADD), data, follow=True)
        second = client.post(reverse(ADD), data, follow=True)

    # then one subscription, charged once, and both answers lead to it
    sub = Subscription.objects.get()
    assert Charge.objects.filter(subscription=sub, kind="recurring").count() == 1
    assert customer_balance(customer=customer).amount == Decimal("9000.00")
    assert first.redirect_chain[-1][0] == second.redirect_chain[-1][0]


def test_the_prepaid_rule_is_a_form_error_and_writes_nothing(staff_in_group, catalog):
    # given a prepaid customer with 500.00 and start at 1000.00 a month
    customer = prepaid_customer("500.00")
    client = login(staff_in_group("Accountant"))
    data = _form(client, customer, plan="start")
    before = rows()

    # when
    response = client.post(reverse(ADD), data)

    # then the 402 of the API is a form error here, and nothing is written
    assert response.status_code == 200
    assert response.context["form"].errors["__all__"] == [
        "Insufficient funds: 1000.00 RUB needed now, 500.00 RUB available including the credit limit. Top up the "
        "balance first."
    ]
    assert rows() == before
    assert customer_balance(customer=customer).amount == Decimal("500.00")
